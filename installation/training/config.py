"""TrainConfig: everything one training run needs, as plain data.

The CLI builds one from its flags (a show's background trainer is that same CLI, run as a
child process); tests build one in code. `to_argv` turns a config back into the equivalent command line,
so a card can always say how to make its model again.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# --arch -> the architecture name of installation.networks the exported model is built as.
ARCH_TO_NETWORK = {"gan": "dcgan", "mlp": "mlp", "vae": "vae", "fewshot": "fewshot", "sr": "sr"}
DEFAULT_LR = {"gan": 2e-4, "mlp": 2e-4, "vae": 1e-3, "fewshot": 2e-4, "sr": 5e-4}
DEFAULT_RESOLUTION = {"mlp": 28, "fewshot": 256, "sr": 256}
DEFAULT_BATCH = {"fewshot": 8, "sr": 16}  # a CPU takes a few seconds per step beyond these


# A field head draws at twice --resolution and the discriminator judges it box-filtered to
# --resolution. Judged at the size it drew, a young field head packed its sines into bands
# finer than a pixel, whose aliasing passes for the dataset's fine texture (and shimmers as
# moire in the show); averaged over 2x2 such bands are flat colour, and earn nothing.
FIELD_SUPERSAMPLE = 2


def shape_differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """The generator config keys in which a trained model (`theirs`) differs from the net a
    run builds (`mine`): transfer needs none. A field head's weights fit any size, so
    between two field heads the resolution does not count."""
    if mine.get("head") == theirs.get("head") == "field":
        theirs = {**theirs, "resolution": mine.get("resolution")}
    return sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))


class TrainingError(Exception):
    """Something the operator can fix (bad dataset, folder, resume); said before any work."""


@dataclass
class TrainConfig:
    # Options that shape the networks default to None: "the saved run's value" when
    # resuming, else the per-architecture default filled in by resolved().
    arch: str | None = None  # gan (default) | vae | mlp | fewshot | sr
    dataset: str = "synthetic:shapes"  # a folder of images, or synthetic:<kind>
    out: Path = Path("models/trained")
    resolution: int | None = None  # None: 64, or 28 for the mlp
    batch: int | None = None  # per process (None: 64, fewshot 8, sr 16); torchrun: x world size
    steps: int = 2000  # total steps; --resume continues up to this number
    lr_g: float | None = None  # None: 2e-4 for GANs, 1e-3 for the VAE (its only optimizer)
    lr_d: float | None = None  # None: 2e-4
    beta1: float | None = None  # Adam beta1; None: 0.5 for GANs (DCGAN), 0.9 for the VAE
    beta2: float = 0.999
    seed: int = 0
    save_every: int = 500
    sample_every: int = 250
    keep: int = 3  # older exported checkpoints kept under checkpoints/step-NNNNNNN/
    resume: bool = False
    overwrite: bool = False  # start over in a folder that already holds a model
    # architecture
    latent_dim: int | None = None  # None: 128 (gan), 64 (vae, mlp)
    width: int | None = None  # generator/decoder width (its last hidden layer); None: 32
    #                           fewshot: percent of the preset's widths (None: 100)
    d_width: int | None = None  # discriminator width; None: same as width
    preset: str | None = None  # fewshot: lite (CPU, default) | full (GPU, the paper's widths)
    head: str | None = None  # fewshot: rgb (default) | field (smooth fields, colour per pixel)
    play_resolution: int | None = None  # fewshot field head: the exported model draws this size
    augment: float | None = None  # fewshot: DiffAugment probability; None adapts to the dataset
    scale: int | None = None  # sr: 2 (default) or 4
    channels: int | None = None  # None: 3, or 1 for the mlp
    # GAN recipe
    loss: str | None = None  # bce (default): the classic DCGAN recipe | hinge: spectral-norm D
    ema_decay: float = 0.999
    # VAE recipe
    recon: str = "mse"  # mse | l1
    beta: float = 1.0
    kl_warmup: int = 1000  # steps over which the KL weight ramps from 0 to beta
    # data
    flip: bool = True
    synthetic_n: int = 2048
    # run
    device: str = "auto"
    export_dtype: str = "fp16"  # fp16 (half the file; the show casts on load) | fp32
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    name: str | None = None  # card name; None: the output folder's name
    estimate: bool = False  # time a few steps, say the cost and what fits, write nothing
    init_from: str | None = None  # a model folder whose generator weights start this run
    command: str = ""  # the exact command line, recorded in the card; "" -> to_argv()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def network(self) -> str:
        return ARCH_TO_NETWORK[self.arch or "gan"]

    @property
    def model_name(self) -> str:
        return self.name or Path(self.out).resolve().name

    def resolved(self) -> TrainConfig:
        """A copy with every None default filled in per architecture; validated."""
        arch = self.arch or "gan"
        if arch not in ARCH_TO_NETWORK:
            raise TrainingError(f"--arch must be one of {', '.join(ARCH_TO_NETWORK)}, not {arch!r}")
        c = dataclasses.replace(self, out=Path(self.out), arch=arch)
        c.resolution = DEFAULT_RESOLUTION.get(arch, 64) if c.resolution is None else c.resolution
        c.batch = DEFAULT_BATCH.get(arch, 64) if c.batch is None else c.batch
        c.width = {"fewshot": 100, "sr": 16}.get(arch, 32) if c.width is None else c.width
        c.preset = (c.preset or "lite") if arch == "fewshot" else c.preset
        c.head = (c.head or "rgb") if arch == "fewshot" else c.head
        c.scale = (c.scale or 2) if arch == "sr" else c.scale
        c.loss = c.loss or "bce"
        c.lr_g = DEFAULT_LR[c.arch] if c.lr_g is None else c.lr_g
        c.lr_d = 2e-4 if c.lr_d is None else c.lr_d
        c.beta1 = (0.9 if c.arch == "vae" else 0.5) if c.beta1 is None else c.beta1
        c.latent_dim = (
            (128 if c.arch in ("gan", "fewshot") else 64) if c.latent_dim is None else c.latent_dim
        )
        c.d_width = c.width if c.d_width is None else c.d_width
        c.channels = (1 if c.arch == "mlp" else 3) if c.channels is None else c.channels
        checks = [
            (c.batch >= 1, "--batch must be at least 1"),
            (c.steps >= 1, "--steps must be at least 1"),
            (
                c.save_every >= 1 and c.sample_every >= 1,
                "--save-every and --sample-every must be at least 1",
            ),
            (c.keep >= 0, "--keep must be 0 or more"),
            (c.lr_g > 0 and c.lr_d > 0, "learning rates must be positive"),
            (0.0 <= c.ema_decay < 1.0, "--ema-decay must be in [0, 1)"),
            (c.loss in ("bce", "hinge"), "--loss must be bce or hinge"),
            (c.recon in ("mse", "l1"), "--recon must be mse or l1"),
            (c.beta >= 0 and c.kl_warmup >= 0, "--beta and --kl-warmup must not be negative"),
            (c.export_dtype in ("fp32", "fp16"), "--export-dtype must be fp32 or fp16"),
            (c.synthetic_n >= 1, "--synthetic-n must be at least 1"),
            (c.channels in (1, 3), "--channels must be 1 or 3"),
            (c.preset in (None, "lite", "full"), "--preset must be lite or full"),
            (c.head in (None, "rgb", "field"), "--head must be rgb or field"),
            (
                c.play_resolution is None or c.head == "field",
                "--play-resolution needs --arch fewshot --head field (only its weights fit any size)",
            ),
            (c.augment is None or 0.0 <= c.augment <= 1.0, "--augment must be in [0, 1]"),
            (c.scale in (None, 2, 4), "--scale must be 2 or 4"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainingError(message)
        return c

    def generator_config(self, exported: bool = False) -> dict[str, Any]:
        """The config of the trained network; `exported`: of the network as stored in its card
        (a field head's model draws at --play-resolution there)."""
        c = self.resolved()
        if c.arch == "fewshot":
            from installation.networks.fewshot import FewShotConfig

            # The field recipe: bilinear doubling, no injected noise, reflected edges, and
            # drawing at twice the size the discriminator judges (see FIELD_SUPERSAMPLE).
            field_head = c.head == "field"

            few = FewShotConfig(
                latent_dim=c.latent_dim,
                resolution=self._fewshot_resolution(c, exported),
                head=c.head,
                upsample="bilinear" if field_head else "nearest",
                noise=not field_head,
                padding="reflect" if field_head else "zeros",
                channels=c.channels,
                preset=c.preset,
                width_mult=c.width / 100,
            )
            return {**few.to_dict(), "widths": {str(k): v for k, v in few.widths.items()}}
        if c.arch == "sr":
            return {
                "scale": c.scale,
                "channels": c.channels,
                "width": c.width,
                "convs": 3,
                "resolution": c.resolution,
            }
        if c.arch == "mlp":
            return {
                "latent_dim": c.latent_dim,
                "resolution": c.resolution,
                "hidden": c.width * 8,
                "channels": c.channels,
            }
        return {
            "latent_dim": c.latent_dim,
            "resolution": c.resolution,
            "width": c.width,
            "channels": c.channels,
            "max_width_mult": 8,
        }

    @staticmethod
    def _fewshot_resolution(c: TrainConfig, exported: bool) -> int:
        if c.head != "field":
            return c.resolution
        drawn = FIELD_SUPERSAMPLE * c.resolution
        return (c.play_resolution or drawn) if exported else drawn

    def to_argv(self) -> list[str]:
        """The `python -m installation train ...` arguments that make this run."""
        argv = ["python", "-m", "installation", "train"]
        defaults = TrainConfig()
        for f in dataclasses.fields(self):
            if f.name in ("command", "notes", "extra"):
                continue
            value, default = getattr(self, f.name), getattr(defaults, f.name)
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                if value != default:
                    argv.append(flag if value else f"--no-{f.name.replace('_', '-')}")
            elif value is not None and (value != default or f.name in ("arch", "dataset", "out")):
                argv += [flag, str(value)]
        return argv

    def with_saved(self, saved: dict[str, Any]) -> TrainConfig:
        """Structural options left unset (None) take the saved run's values."""
        fill = {k: saved[k] for k in self.STRUCTURAL if getattr(self, k) is None and k in saved}
        return dataclasses.replace(self, **fill)

    def command_line(self) -> str:
        return self.command or shlex.join(self.to_argv())

    # Fields that must match when resuming: they shape the networks or the data.
    STRUCTURAL = (
        "arch",
        "resolution",
        "latent_dim",
        "width",
        "d_width",
        "channels",
        "loss",
        "preset",
        "head",
        "scale",
    )
