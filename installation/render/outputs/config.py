"""The `outputs:` section of show.yaml: where frames go besides the window.

    outputs:
      - kind: ndi            # NDI (cyndilib): TouchDesigner, Resolume, OBS, VDMX on the LAN
        name: installation   # what receivers list
        size: display        # display (the window's picture, no HUD) | native | [w, h]
        fps: 60              # cap; 0 = every frame the show makes
        pixel_format: bgra
      - kind: file
        path: recordings/take.mp4

Each kind is its own schema, so an option the library lacks is an unknown key with its path
(`outputs.0.groups`), and an unknown kind names the kinds there are.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator

from installation.config.base import Section

Size = Literal["display", "native"] | tuple[PositiveInt, PositiveInt]


class OutputBase(Section):
    name: str = Field(
        "installation",
        min_length=1,
        max_length=63,
        description="the name receivers see (NDI source, Syphon/Spout sender, camera label)",
    )
    size: Size = Field(
        "display",
        description="display: the window's picture without the HUD; native: the "
        "model's frame as rendered; [w, h]: scaled on the output's thread",
    )
    fit: Literal["cover", "stretch"] = Field(
        "cover", description="for a scaled size: cover crops to fill, stretch distorts"
    )
    fps: float = Field(
        0, ge=0, le=240, description="frame-rate cap; 0 = every frame the show makes"
    )
    queue: int = Field(
        2, ge=1, le=3, description="frames waiting for this output; when full the oldest is dropped"
    )
    enabled: bool = Field(True, description="false keeps the entry but sends nothing")


class NdiOutput(OutputBase):
    kind: Literal["ndi"]
    pixel_format: Literal["bgra", "bgrx", "rgba", "rgbx", "uyvy"] = Field(
        "bgra",
        description="bgra/rgba keep full colour; uyvy (4:2:2) is NDI's own and half the bytes",
    )
    groups: str = Field("", description="NDI groups, comma separated; empty = the public group")


class SyphonOutput(OutputBase):
    kind: Literal["syphon"]
    pixel_format: Literal["rgba"] = "rgba"


class SpoutOutput(OutputBase):
    kind: Literal["spout"]
    pixel_format: Literal["rgba", "bgra"] = "rgba"


class VirtualCamOutput(OutputBase):
    kind: Literal["virtualcam"]
    pixel_format: Literal["rgb", "bgr", "uyvy"] = "rgb"
    device: str | None = Field(
        None, description="e.g. /dev/video10 (v4l2loopback); default: the first free one"
    )
    backend: Literal["v4l2loopback", "obs", "unitycapture", "akvcam"] | None = Field(
        None, description="pyvirtualcam backend; default: the platform's"
    )


class FileOutput(OutputBase):
    kind: Literal["file"]
    path: str = Field(
        description="recording file (.mp4/.mov/.mkv) or, for png, a folder; relative to the show file"
    )
    codec: Literal["h264", "prores", "png"] = "h264"
    pixel_format: Literal["rgb24"] = "rgb24"
    options: dict[str, str] = Field(
        default_factory=lambda: {"preset": "ultrafast", "crf": "20"},
        description="encoder options (libx264: preset, crf, tune; prores_ks: profile)",
    )

    @field_validator("path")
    @classmethod
    def _path_given(cls, path: str) -> str:
        if not path.strip():
            raise ValueError("a file output needs a path")
        return path


OutputConfig = Annotated[
    NdiOutput | SyphonOutput | SpoutOutput | VirtualCamOutput | FileOutput,
    Field(discriminator="kind"),
]
KINDS = ("ndi", "syphon", "spout", "virtualcam", "file")


def check_unique_names(outputs: list) -> list:
    """Two outputs of one kind with one name would clash (NDI refuses the second sender)."""
    seen: set[tuple[str, str]] = set()
    for i, out in enumerate(outputs):
        key = (out.kind, getattr(out, "path", None) or out.name)
        if key in seen:
            raise ValueError(
                f"outputs.{i}: a second {out.kind} output named {key[1]!r}; give each a name of its own"
            )
        seen.add(key)
    return outputs


_MODELS = {
    "ndi": NdiOutput,
    "syphon": SyphonOutput,
    "spout": SpoutOutput,
    "virtualcam": VirtualCamOutput,
    "file": FileOutput,
}


def tidy_error(err: dict) -> dict:
    """pydantic puts the union's tag in the key path (outputs.0.ndi.fps): drop it, and say
    what the kinds are when one is missing or unknown."""
    loc = tuple(err["loc"])
    if len(loc) >= 3 and loc[0] == "outputs" and loc[2] in _MODELS:
        err = {**err, "loc": loc[:2] + loc[3:]}
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        got = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
        what = f"unknown output kind {got!r}" if got is not None else "an output needs a kind"
        err = {k: v for k, v in err.items() if k != "input"}
        err.update(loc=(*err["loc"], "kind"), msg=f"{what}; choose one of {', '.join(KINDS)}")
    return err


def output_fields(loc: tuple, raw: object) -> list[str]:
    """The valid keys of the output at loc (outputs.N...), for a did-you-mean."""
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return list(_MODELS[kind].model_fields) if kind in _MODELS else ["kind"]
