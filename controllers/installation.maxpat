{
  "patcher": {
    "fileversion": 1,
    "appversion": {
      "major": 8,
      "minor": 5,
      "revision": 0,
      "architecture": "x64",
      "modernui": 1
    },
    "classnamespace": "box",
    "rect": [
      100,
      100,
      1000,
      600
    ],
    "openinpresentation": 0,
    "default_fontsize": 12.0,
    "gridsize": [
      15.0,
      15.0
    ],
    "boxes": [
      {
        "box": {
          "id": "obj-send",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            40,
            520,
            150,
            22
          ],
          "text": "udpsend 127.0.0.1 9000"
        }
      },
      {
        "box": {
          "id": "obj-title",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            40,
            10,
            700,
            20
          ],
          "text": "installation: sliders send 0..1 to the show; feedback arrives on port 9003 (osc.feedback: host 127.0.0.1, port 9003, echo_guard: host)"
        }
      },
      {
        "box": {
          "id": "obj-recv",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            40,
            40,
            130,
            22
          ],
          "text": "udpreceive 9003",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-route",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            40,
            70,
            600,
            22
          ],
          "text": "route /norm/walk/speed /norm/latent/truncation /norm/output/brightness",
          "outlettype": [
            "",
            "",
            "",
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-set-0",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            40,
            110,
            80,
            22
          ],
          "text": "prepend set",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-slider-0",
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            40,
            150,
            20,
            140
          ],
          "floatoutput": 1,
          "size": 1.0,
          "parameter_enable": 0,
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-label-0",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            65,
            150,
            120,
            20
          ],
          "text": "walk.speed"
        }
      },
      {
        "box": {
          "id": "obj-prepend-0",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            40,
            310,
            150,
            22
          ],
          "text": "prepend /norm/walk/speed",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-set-1",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            200,
            110,
            80,
            22
          ],
          "text": "prepend set",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-slider-1",
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            200,
            150,
            20,
            140
          ],
          "floatoutput": 1,
          "size": 1.0,
          "parameter_enable": 0,
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-label-1",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            225,
            150,
            120,
            20
          ],
          "text": "latent.truncation"
        }
      },
      {
        "box": {
          "id": "obj-prepend-1",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            200,
            310,
            150,
            22
          ],
          "text": "prepend /norm/latent/truncation",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-set-2",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            360,
            110,
            80,
            22
          ],
          "text": "prepend set",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-slider-2",
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            360,
            150,
            20,
            140
          ],
          "floatoutput": 1,
          "size": 1.0,
          "parameter_enable": 0,
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-label-2",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            385,
            150,
            120,
            20
          ],
          "text": "output.brightness"
        }
      },
      {
        "box": {
          "id": "obj-prepend-2",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            360,
            310,
            150,
            22
          ],
          "text": "prepend /norm/output/brightness",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-toggle-0",
          "maxclass": "toggle",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            40,
            350,
            24,
            24
          ],
          "parameter_enable": 0,
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-tlabel-0",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            70,
            352,
            120,
            20
          ],
          "text": "walk.paused"
        }
      },
      {
        "box": {
          "id": "obj-tprepend-0",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            40,
            390,
            150,
            22
          ],
          "text": "prepend /walk/paused",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-toggle-1",
          "maxclass": "toggle",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            200,
            350,
            24,
            24
          ],
          "parameter_enable": 0,
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-tlabel-1",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            230,
            352,
            120,
            20
          ],
          "text": "hud.visible"
        }
      },
      {
        "box": {
          "id": "obj-tprepend-1",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            200,
            390,
            150,
            22
          ],
          "text": "prepend /hud/visible",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-msg-0",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            40,
            440,
            120,
            22
          ],
          "text": "/screenshot",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-msg-1",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            170,
            440,
            120,
            22
          ],
          "text": "/display/fullscreen",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-msg-2",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            440,
            120,
            22
          ],
          "text": "/cue/next",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-msg-3",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            430,
            440,
            120,
            22
          ],
          "text": "/cue/previous",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-msg-4",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            560,
            440,
            120,
            22
          ],
          "text": "/status 9003",
          "outlettype": [
            ""
          ]
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "obj-recv",
            0
          ],
          "destination": [
            "obj-route",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-route",
            0
          ],
          "destination": [
            "obj-set-0",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-set-0",
            0
          ],
          "destination": [
            "obj-slider-0",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-slider-0",
            0
          ],
          "destination": [
            "obj-prepend-0",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-prepend-0",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-route",
            1
          ],
          "destination": [
            "obj-set-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-set-1",
            0
          ],
          "destination": [
            "obj-slider-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-slider-1",
            0
          ],
          "destination": [
            "obj-prepend-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-prepend-1",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-route",
            2
          ],
          "destination": [
            "obj-set-2",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-set-2",
            0
          ],
          "destination": [
            "obj-slider-2",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-slider-2",
            0
          ],
          "destination": [
            "obj-prepend-2",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-prepend-2",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-toggle-0",
            0
          ],
          "destination": [
            "obj-tprepend-0",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-tprepend-0",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-toggle-1",
            0
          ],
          "destination": [
            "obj-tprepend-1",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-tprepend-1",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-msg-0",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-msg-1",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-msg-2",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-msg-3",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-msg-4",
            0
          ],
          "destination": [
            "obj-send",
            0
          ]
        }
      }
    ]
  }
}
