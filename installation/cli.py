"""The `installation` command: run | check | devices | bench (and more from other modules).

User errors (a bad show file, a missing or corrupt model, no display) print one clear
message and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from installation.config.show import Show, ShowError, load_show
from installation.errors import UserError
from installation.importing.cli import COMMANDS as IMPORT_COMMANDS
from installation.instruments.cli import COMMANDS as INSTRUMENT_COMMANDS
from installation.kiosk.unit import COMMANDS as KIOSK_COMMANDS
from installation.training.cli import COMMANDS as TRAINING_COMMANDS

if TYPE_CHECKING:
    from installation.checkpoints import LoadedModel

log = logging.getLogger("installation")

EXIT_USER_ERROR = 2

# Subcommands contributed by other modules: (name, help, add_arguments, handler).
Command = tuple[
    str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]
]


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
        return w, h
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1080, not {text!r}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("show", nargs="?", default="show.yaml", help="show file (default ./show.yaml)")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: render into memory (SDL dummy driver), e.g. with --out or --stats",
    )
    p.add_argument(
        "--frames", type=_positive_int, metavar="N", help="stop after N presented frames"
    )
    p.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write every presented frame as a PNG into DIR, time stepping by 1/fps (a video at fps plays at the show's pace)",
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="with --out: keep real time instead (a timelapse when writing is slower than the frame rate)",
    )
    p.add_argument(
        "--stats",
        type=Path,
        metavar="FILE",
        help="write JSON Lines stats (one line per frame and per event)",
    )
    p.add_argument(
        "--display", type=int, metavar="N", help="which monitor to open on (0 = primary)"
    )
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        metavar="auto|cpu|cuda|mps",
        help="override the show's model.device",
    )
    p.add_argument(
        "--size",
        type=_size,
        metavar="WxH",
        help="output size, e.g. 1280x720 (overrides display.size)",
    )
    p.add_argument("--fps", type=float, metavar="FPS", help="override the fps cap (0 = uncapped)")
    p.add_argument(
        "--record-video",
        type=Path,
        metavar="FILE",
        help="record what the show plays: .mp4/.mkv H.264, .mov ProRes, a folder for PNGs (on its own thread)",
    )
    p.add_argument(
        "--fixed-step",
        action="store_true",
        help="advance time by exactly 1/fps per frame: deterministic offline renders",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="LOG",
        help="record every control event with its time as JSON Lines (replay or render it later)",
    )
    p.add_argument(
        "--kiosk",
        action="store_true",
        help="run under a supervisor that restarts the show into its saved state (see kiosk: in show.yaml)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from installation.kiosk.restore import kiosk_spec, prepare, state_dir

    spec, restored = kiosk_spec(), None
    if args.kiosk and spec is None:  # the supervisor: the show itself runs in a child
        from installation.kiosk.supervisor import supervise

        show = load_show(args.show)  # a bad file at the start is an error, not a crash loop
        return supervise(args.argv, show.kiosk, state_dir(show))
    if spec is not None:
        show, restored = prepare(Path(args.show), spec)
        if show is None:
            return _run_still(args, spec)
    else:
        show = load_show(args.show)
    from installation.app import RunOptions, run_show

    fps = args.fps if args.fps is not None else show.display.fps
    if args.fixed_step and fps <= 0:
        raise UserError("--fixed-step needs an fps cap above 0 (display.fps or --fps)")
    # Writing a PNG takes longer than a frame: in real time the frames would make a video
    # that plays many times too fast. So --out steps time by 1/fps unless told otherwise.
    fixed_step = args.fixed_step or (args.out is not None and not args.realtime and fps > 0)
    if args.out is not None and not fixed_step:
        why = (
            "--realtime"
            if args.realtime
            else "the frame rate is uncapped (fps 0; set --fps to step by 1/fps)"
        )
        log.warning("--out in real time (%s): the frames are a timelapse of what was shown", why)
    opts = RunOptions(
        headless=args.headless,
        frames=args.frames,
        seconds=args.seconds,
        out=args.out,
        stats=args.stats,
        display=args.display,
        windowed=args.windowed,
        device=args.device,
        fixed_step=fixed_step,
        fps=args.fps,
        size=args.size,
        record_video=args.record_video,
        record=args.record,
        replay=getattr(args, "replay", None),
        show_path=Path(args.show) if spec is None or spec.level < 2 else None,
        kiosk=spec,
        restored=restored,
    )
    frames = run_show(show, opts)
    log.info("show ended after %d frames", frames)
    return 0


def _run_still(args: argparse.Namespace, spec) -> int:
    """Fallback level 3 of the kiosk: the error on a still frame."""
    from installation.kiosk.still import show_still
    from installation.render.display import DisplaySettings

    windowed = args.windowed or args.headless
    settings = DisplaySettings(
        size=args.size or (None if not windowed else (1280, 720)),
        fullscreen=not windowed,
        display=args.display or 0,
        headless=args.headless,
        hud_size=48,
    )
    return show_still(spec, settings, args.seconds)


def _add_replay(p: argparse.ArgumentParser) -> None:
    _add_run(p)
    p.add_argument("replay", type=Path, metavar="LOG", help="a log written by run --record")


def _add_render(p: argparse.ArgumentParser) -> None:
    p.add_argument("show", help="show file")
    p.add_argument(
        "--replay", type=Path, required=True, metavar="LOG", help="a log written by run --record"
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE.mp4|DIR",
        help="a video (.mp4: H.264, .mov: ProRes where available) or a folder of PNG frames",
    )
    p.add_argument(
        "--size",
        type=_size,
        default=(1920, 1080),
        metavar="WxH",
        help="frame size (default 1920x1080)",
    )
    p.add_argument(
        "--fps", type=float, default=30.0, metavar="N", help="frames per second (default 30)"
    )
    p.add_argument(
        "--seconds", type=float, metavar="S", help="render S seconds (default: the whole log)"
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], metavar="auto|cpu|cuda|mps")


def cmd_render(args: argparse.Namespace) -> int:
    """A replay rendered offline: virtual time at 1/fps a frame, no live input, no hot-swap,
    so the same show and log give the same frames."""
    from installation.app import RunOptions, run_show
    from installation.instruments.service import offline_show

    if args.fps <= 0:
        raise UserError("--fps must be above 0")
    video = args.out.suffix.lower() in (".mp4", ".mov", ".mkv")
    show = load_show(args.show)
    show = offline_show(show)
    frames_dir = args.out.with_name(f".{args.out.name}.frames") if video else args.out
    opts = RunOptions(
        headless=True,
        seconds=args.seconds,
        out=frames_dir,
        stats=None,
        device=args.device,
        fixed_step=True,
        fps=args.fps,
        size=args.size,
        replay=args.replay,
        progress=True,
        out_format="bmp" if video else "png",
    )
    if video:
        from installation.instruments.video import encode_frames
        from installation.render.encoder import available_codecs

        if not available_codecs():
            raise UserError(
                "rendering to a video file needs PyAV: pip install 'installation[video]' "
                "(or give a folder for PNG frames)"
            )
    done = run_show(show, opts)
    if video:
        encode_frames(frames_dir, args.out, args.fps)
        frames_dir.rmdir()
    log.info("rendered %d frames of %s into %s", done, args.replay, args.out)
    return 0


def _add_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("show", nargs="?", default="show.yaml", help="show file (default ./show.yaml)")


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a show and its model without opening anything; print the resolved show."""
    from installation.checkpoints import CheckpointError, load_checkpoint

    show = load_show(args.show)
    folder = show.resolve(show.model.path)
    try:
        model = load_checkpoint(folder, "cpu")
    except CheckpointError as exc:
        raise ShowError(f"{args.show}: model: {exc}") from None
    resolved = show.model_dump(mode="json")
    resolved["model"]["resolved_path"] = str(folder)
    resolved["model"]["card"] = model.card.model_dump(exclude={"config"})
    if show.display.upscale is not None:
        resolved["display"]["upscale"]["card"] = _check_upscale(args.show, show, model)
    resolved["output_support"] = _output_support(show)
    sys.stdout.write(json.dumps(resolved, indent=2) + "\n")
    return 0


def _check_upscale(show_path: str, show: Show, model: LoadedModel) -> dict:
    """display.upscale must be an upscaler that suits the model and the window, else refused."""
    from installation.checkpoints import CheckpointError, load_checkpoint
    from installation.render.upscale import UpscaleError, check_fit

    folder = show.resolve(show.display.upscale.model)
    size = show.display.size if show.display.size != "desktop" else None
    try:
        sr = load_checkpoint(folder, "cpu")
        if size is None:  # the monitor decides; `installation run` checks it when the window opens
            size = (10**6, 10**6)
        check_fit(
            sr.card.architecture,
            int(getattr(sr.module, "scale", 0)),
            sr.card.channels,
            model.card.resolution,
            model.card.channels,
            size,
            show.display.fit,
        )
    except (CheckpointError, UpscaleError) as exc:
        raise ShowError(
            f"{show_path}: display.upscale: {show.display.upscale.model}: {exc}"
        ) from None
    return sr.card.model_dump(exclude={"config"})


def _output_support(show) -> dict[str, str]:
    """Each video output kind on this machine: "available", or why not (and a warning for
    the ones this show uses, which would play without them)."""
    from installation.render.outputs.base import unavailable
    from installation.render.outputs.config import KINDS

    support = {kind: unavailable(kind) or "available" for kind in KINDS}
    for i, out in enumerate(show.outputs):
        if out.enabled and support[out.kind] != "available":
            log.warning(
                "outputs.%d (%s %r) cannot run here: %s", i, out.kind, out.name, support[out.kind]
            )
    return support


def _add_devices(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "show",
        nargs="?",
        default="show.yaml",
        help="whose MIDI profiles to match (default ./show.yaml)",
    )


def _profiles_dir(show_path: str) -> Path:
    """The show's controller profile folder; ./controllers when the show cannot be read."""
    try:
        show = load_show(show_path)
    except ShowError:
        return Path("controllers")
    return show.resolve(show.midi.profiles_dir)


def cmd_devices(args: argparse.Namespace) -> int:
    """Displays and their sizes, torch devices, MIDI ports, or why there are none."""
    from installation.control.midi.ports import device_lines
    from installation.render.display import display_lines

    lines = display_lines()
    import torch

    lines.append("torch devices:")
    lines.append(f"  cpu ({torch.get_num_threads()} threads)")
    for i in range(torch.cuda.device_count()):
        lines.append(f"  cuda:{i} {torch.cuda.get_device_name(i)}")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        lines.append("  mps")
    lines += device_lines(_profiles_dir(args.show))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("show", nargs="?", default="show.yaml", help="show file (default ./show.yaml)")
    p.add_argument(
        "--json", type=Path, dest="json_path", metavar="FILE", help="write {name: figure} to FILE"
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only the benchmark that reports NAME (repeatable)",
    )
    p.add_argument("--list", action="store_true", help="list benchmark names and exit")
    p.add_argument(
        "--soak-minutes",
        type=float,
        metavar="M",
        help="length of the kiosk soak (default 3; a long run: 35, of which 5 warm-up)",
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from installation.bench import run_benchmarks

    return run_benchmarks(args)


def _add_docs(p: argparse.ArgumentParser) -> None:
    from installation.docs import add_arguments

    add_arguments(p)


def cmd_docs(args: argparse.Namespace) -> int:
    from installation.docs import cmd_docs as run_docs

    return run_docs(args, build_parser())


def _add_osc(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="osc_command", required=True, metavar="ACTION")
    a = sub.add_parser("addresses", help="print every OSC address with its type, range and unit")
    a.add_argument("show", nargs="?", help="include this show's mappings (default: built-ins only)")
    a.add_argument("--markdown", action="store_true", help="a Markdown table")


def cmd_osc(args: argparse.Namespace) -> int:
    from installation.control.osc.space import AddressSpace
    from installation.control.osc.table import markdown_table, text_table
    from installation.params import REGISTRY

    mappings = load_show(args.show).osc.mappings if args.show else ()
    space = AddressSpace(REGISTRY, mappings)
    sys.stdout.write(markdown_table(space) if args.markdown else text_table(space))
    return 0


COMMANDS: list[Command] = [
    ("run", "play a show (default ./show.yaml)", _add_run, cmd_run),
    (
        "replay",
        "play a show with a recorded log of control events (replay SHOW LOG)",
        _add_replay,
        cmd_run,
    ),
    (
        "render",
        "render a replay offline: render SHOW --replay LOG --out DIR --size WxH --fps N",
        _add_render,
        cmd_render,
    ),
    ("check", "validate a show and its model, print the resolved show", _add_check, cmd_check),
    ("devices", "list displays, torch devices and MIDI ports", _add_devices, cmd_devices),
    ("bench", "measure figures; --json FILE writes them", _add_bench, cmd_bench),
    (
        "docs",
        "regenerate README.md's reference blocks (--check: fail if stale)",
        _add_docs,
        cmd_docs,
    ),
    ("osc", "the OSC address table (osc addresses [SHOW] [--markdown])", _add_osc, cmd_osc),
    *TRAINING_COMMANDS,
    *IMPORT_COMMANDS,
    *INSTRUMENT_COMMANDS,
    *KIOSK_COMMANDS,
]


def build_parser() -> argparse.ArgumentParser:
    # -v/-q work before or after the command; SUPPRESS keeps a subcommand from resetting them.
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    verbosity.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="warnings and errors only",
    )
    parser = argparse.ArgumentParser(
        prog="installation", description=__doc__.splitlines()[0], parents=[verbosity]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, handler in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[verbosity])
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


class StopRequested(KeyboardInterrupt):
    """SIGTERM (systemd stop, a kiosk supervisor): end the show as cleanly as Esc does."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise StopRequested()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for model cards
    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.handler(args)
    except (ShowError, UserError) as exc:
        # Straight to stderr like argparse's own errors: one clear message, no traceback,
        # whatever logging is configured to do.
        sys.stderr.write(f"installation: error: {exc}\n")
        return EXIT_USER_ERROR
    except StopRequested:
        log.info("stopped by SIGTERM")
        return 0
    except KeyboardInterrupt:
        log.info("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
