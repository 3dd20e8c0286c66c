"""A stand-in for the show child, for the supervisor's policy tests: no torch to import, so
a crash loop takes a second instead of minutes. It speaks the real protocol (the spec on
stdin, heartbeats on the inherited datagram socket) and does what a plan file says for the
level it is started at: "play" (beat), "wedge" (beat, then stop beating), "exit2" (a user
error), "crash" (exit 1), "quit" (exit 0), "restart-once" (exit 75, then play)."""

import json
import os
import socket
import sys
import time

sock = socket.socket(fileno=int(os.environ["INSTALLATION_HEARTBEAT_FD"]))
sock.send(b'{"standby": true}')
line = sys.stdin.readline()
if not line:
    sys.exit(0)
spec = json.loads(line)
plan = json.loads(open(os.environ["FAKE_SHOW_PLAN"]).read())
what = plan.get(str(spec["level"]), plan.get("default", "play"))
if what == "exit2":
    sys.stderr.write(f"installation: error: model: fake failure at level {spec['level']}\n")
    sys.exit(2)
if what == "crash":
    sys.stderr.write("RuntimeError: fake crash\n")
    sys.exit(1)
if what == "quit":
    sys.exit(0)
if what == "restart-once":  # the schedule's daily restart, the first time only
    marker = os.environ["FAKE_SHOW_PLAN"] + ".restarted"
    if not os.path.exists(marker):
        open(marker, "w").close()
        sys.exit(75)
frame = 0
while True:
    frame += 1
    if what != "wedge" or frame < 5:
        sock.send(json.dumps({"pid": os.getpid(), "frame": frame, "t": 0.0}).encode())
    time.sleep(0.05)
