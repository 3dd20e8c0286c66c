"""`installation dataset prepare SRC --out DIR --size N`: an artist's folder -> training set.

Photos and drawings of any size, aspect and mode become squares of one size:
- EXIF orientation is applied (a phone's portrait photo stays upright);
- transparency goes onto a chosen background colour (transparent pixels often hide
  arbitrary colours that must not leak into training);
- greyscale stays greyscale (`--grey keep`, saved as one-channel PNGs) or becomes RGB;
- `--fit crop` fills the square (centre crop), `pad` letterboxes onto the background,
  `random-crops` takes several crops per image at random places and scales (more images
  from few, for the few-shot GAN);
- a video (PyAV, the optional `video` extra) gives a frame every `--every` frames.

Exact duplicates go (by the hash of the prepared pixels: the same photo twice, or a video's
still frames). Everything used, skipped and why is written to report.json and report.txt,
and a contact sheet of the result to contact-sheet.png, all inside DIR (the training loader
knows to leave those three files out).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from installation.training.data import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"}
REPORT_FILES = {"report.json", "report.txt", "contact-sheet.png"}
FITS = ("crop", "pad", "random-crops")


class PrepareError(Exception):
    """Nothing to prepare (missing source, no usable images at all)."""


class NoFrames(ValueError):
    """A video file that decodes to no pictures."""


@dataclass
class Report:
    used: list[dict] = field(default_factory=list)  # {"source", "output"}
    skipped: list[dict] = field(default_factory=list)  # {"source", "why"}
    duplicates: list[dict] = field(default_factory=list)  # {"source", "same_as"}

    def text(self) -> str:
        lines = [
            f"used {len(self.used)} image(s), skipped {len(self.skipped)} file(s), "
            f"removed {len(self.duplicates)} duplicate(s)"
        ]
        lines += [f"skipped {s['source']}: {s['why']}" for s in self.skipped]
        lines += [f"duplicate {d['source']} (same as {d['same_as']})" for d in self.duplicates]
        return "\n".join(lines) + "\n"


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb', 'black', 'white' or 'r,g,b' -> an RGB triple."""
    named = {
        "black": (0, 0, 0),
        "white": (255, 255, 255),
        "grey": (128, 128, 128),
        "gray": (128, 128, 128),
    }
    t = text.strip().lower()
    if t in named:
        return named[t]
    try:
        if t.startswith("#") and len(t) == 7:
            return int(t[1:3], 16), int(t[3:5], 16), int(t[5:7], 16)
        parts = [int(p) for p in t.split(",")]
        if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
            return parts[0], parts[1], parts[2]
    except ValueError:
        pass
    raise ValueError(f"background {text!r} is not a colour: use black, white, #rrggbb or r,g,b")


def normalise(img: Image.Image, background: tuple[int, int, int], grey: str) -> Image.Image:
    """Upright, alpha flattened onto `background`; 'L' for greyscale kept, else 'RGB'."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray((np.clip(arr / top, 0, 1) * 255).round().astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (*background, 255))
        was_grey = img.mode in ("LA", "La")
        img = Image.alpha_composite(ground, rgba).convert("RGB")
        if was_grey and grey == "keep" and len(set(background)) == 1:
            img = img.convert("L")
    if img.mode in ("L", "1") and grey == "keep":
        return img.convert("L")
    return img.convert("RGB")


def fit_square(
    img: Image.Image,
    size: int,
    fit: str,
    background: tuple[int, int, int],
    rng: np.random.Generator,
    crops: int,
) -> list[Image.Image]:
    w, h = img.size
    if fit == "pad":
        scale = size / max(w, h)
        small = img.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS
        )
        fill = background[0] if img.mode == "L" else background
        canvas = Image.new(img.mode, (size, size), fill)
        canvas.paste(small, ((size - small.width) // 2, (size - small.height) // 2))
        return [canvas]
    if fit == "crop":
        return [ImageOps.fit(img, (size, size), Image.Resampling.LANCZOS)]
    out = []
    short = min(w, h)
    for _ in range(crops):  # random-crops: a square of 50-100 % of the short side, anywhere
        side = int(short * rng.uniform(0.5, 1.0))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        out.append(
            img.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)
        )
    return out


def video_frames(path: Path, every: int) -> Iterator[tuple[int, Image.Image]]:
    """(frame number, picture) for every `every`-th frame; raises if PyAV is missing."""
    try:
        import av
    except ImportError:
        raise PrepareError(
            "reading video needs PyAV: pip install 'installation[video]' (or pip install av)"
        ) from None
    with av.open(str(path)) as container:
        if not container.streams.video:
            return
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                yield i, frame.to_image()


def _sources(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise PrepareError(f"{src} does not exist")
    return sorted(
        p
        for p in src.rglob("*")
        if p.is_file() and not any(s.startswith(".") for s in p.parts[len(src.parts) :])
    )


def _pictures(path: Path, every: int) -> Iterator[tuple[str, Image.Image]]:
    """(label, picture) pairs from one file: one for an image, many for a video."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        count = 0
        for i, frame in video_frames(path, every):
            count += 1
            yield f"f{i:06d}", frame
        if count == 0:
            raise NoFrames("the video has no frames")
        return
    with Image.open(path) as img:
        img.load()
        yield "", img.copy()


def prepare_dataset(
    src: Path,
    out: Path,
    size: int,
    *,
    fit: str = "crop",
    background: str = "black",
    grey: str = "expand",
    every: int = 30,
    crops: int = 4,
    seed: int = 0,
    sheet: bool = True,
) -> Report:
    from installation.checkpoints import atomic_write_bytes
    from installation.training.progress import Progress

    if fit not in FITS:
        raise PrepareError(f"--fit must be one of {', '.join(FITS)}, not {fit!r}")
    if size < 8 or every < 1 or crops < 1:
        raise PrepareError("--size must be at least 8, --every and --crops at least 1")
    bg = parse_colour(background)
    src, out = Path(src), Path(out)
    files = [p for p in _sources(src) if out.resolve() not in p.resolve().parents]
    out.mkdir(parents=True, exist_ok=True)
    report, seen = Report(), {}
    rng = np.random.default_rng(seed)
    bar = Progress(len(files), desc="preparing", unit="file")
    for n, path in enumerate(files, 1):
        suffix = path.suffix.lower()
        if suffix not in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
            report.skipped.append(
                {"source": str(path), "why": f"not an image or video ({suffix or 'no extension'})"}
            )
            continue
        try:
            for label, picture in _pictures(path, every):
                squares = fit_square(normalise(picture, bg, grey), size, fit, bg, rng, crops)
                for k, square in enumerate(squares):
                    digest = hashlib.sha256(square.tobytes() + square.mode.encode()).hexdigest()
                    tag = "-".join(
                        t for t in (label, f"c{k}" if fit == "random-crops" else "") if t
                    )
                    name = f"{len(report.used):06d}-{path.stem[:40]}{'-' + tag if tag else ''}.png"
                    source = f"{path}{' ' + label if label else ''}"
                    if digest in seen:
                        report.duplicates.append({"source": source, "same_as": seen[digest]})
                        continue
                    seen[digest] = source
                    buf = io.BytesIO()
                    square.save(buf, format="PNG")
                    atomic_write_bytes(out / name, buf.getvalue())
                    report.used.append({"source": source, "output": name})
        except PrepareError:
            raise
        except NoFrames:
            report.skipped.append({"source": str(path), "why": "the video has no frames"})
        except Exception as exc:  # any decoder error: this file is skipped and named, never a crash
            report.skipped.append(
                {"source": str(path), "why": f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"}
            )
        bar.update(n)
    bar.close()
    atomic_write_bytes(out / "report.json", json.dumps(asdict(report), indent=2).encode())
    atomic_write_bytes(out / "report.txt", report.text().encode())
    for s in report.skipped:
        log.warning("skipped %s: %s", s["source"], s["why"])
    if not report.used:
        raise PrepareError(f"no usable images in {src}: {report.text().splitlines()[0]}")
    if sheet:
        contact_sheet(out, [u["output"] for u in report.used])
    log.info("%s", report.text().splitlines()[0] + f"; wrote {out} (report.txt, contact-sheet.png)")
    return report


def contact_sheet(folder: Path, names: list[str], limit: int = 64, cell: int = 128) -> Path:
    """Up to `limit` prepared images in a grid, 8 a row: what the trainer will see."""
    from installation.checkpoints import atomic_write_bytes

    names = names[:limit]
    cols = min(8, len(names))
    rows = (len(names) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * cell), (16, 16, 16))
    for i, name in enumerate(names):
        with Image.open(folder / name) as img:
            sheet.paste(
                img.convert("RGB").resize((cell, cell), Image.Resampling.LANCZOS),
                ((i % cols) * cell, (i // cols) * cell),
            )
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(folder / "contact-sheet.png", buf.getvalue())
    return folder / "contact-sheet.png"
