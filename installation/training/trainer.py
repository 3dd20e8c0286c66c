"""The training loop: run_training(config, stop, pause) -> TrainResult.

Callable from the CLI, from a thread of a running show, or from a child process. It checks
everything that can be wrong with the user's input (architecture, resolution, folder, resume
file, dataset) before the first step; then trains, honouring `stop` (a threading.Event,
checked between steps so no file is ever half-written) and `pause`; writes grids, the loss
curve and checkpoints every N steps and once more at the end.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from installation.checkpoints import ModelCard
from installation.networks import ArchitectureError, build_model
from installation.training import advice, lifeline, outputs, plots, state
from installation.training import distributed as ddp
from installation.training.config import TrainConfig, TrainingError, shape_differences
from installation.training.data import ImageSet, StepSampler, load_dataset
from installation.training.progress import Progress
from installation.training.tasks import make_task

log = logging.getLogger(__name__)

CheckpointCallback = Callable[[Path, ModelCard], None]
GRID = 64  # samples per grid, 8 x 8


@dataclass
class TrainResult:
    step: int
    out: Path
    stopped: bool  # ended early by the stop event or a signal
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    skipped_files: int = 0
    images_per_s: float = 0.0


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (training ends after the current step and saves); a second
    signal acts as usual. Main thread only; returns a function restoring the old handlers."""
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            signal.signal(signum, previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        log.warning("%s: stopping after this step (again to abort)", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _check_architecture(cfg: TrainConfig) -> None:
    try:
        build_model(cfg.network, cfg.generator_config())
        build_model(cfg.network, cfg.generator_config(exported=True))  # --play-resolution
    except (ArchitectureError, ValueError) as exc:
        raise TrainingError(f"--arch {cfg.arch} cannot be trained as asked: {exc}") from None


def _check_resume(cfg: TrainConfig, saved: dict[str, Any]) -> None:
    old = saved.get("config", {})
    for key in TrainConfig.STRUCTURAL:
        mine = getattr(cfg, key)
        if key in old and old[key] != mine:
            raise TrainingError(
                f"cannot resume {cfg.out}: it was trained with --{key.replace('_', '-')} {old[key]}, "
                f"not {mine} (leave the option out to keep it, or train into another --out)"
            )


class Run:
    """One training run's mutable state; only `run_training` creates it."""

    def __init__(
        self, cfg: TrainConfig, info: ddp.DistInfo, device: torch.device, data: ImageSet
    ) -> None:
        self.cfg, self.info, self.device, self.data = cfg, info, device, data
        # Seed before building: weights are initialised from torch's global generator. DDP
        # then broadcasts rank 0's weights; later noise differs per rank by design.
        torch.manual_seed(cfg.seed * 1000 + info.rank)
        self.task = make_task(cfg, device, info.distributed, n_images=len(data))
        self.step = 0
        self.steps: list[int] = []
        self.history: dict[str, list[float]] = {k: [] for k in self.task.loss_names}
        self.commands: list[str] = []
        gen = torch.Generator().manual_seed(cfg.seed + 12345)
        self.sample_z = torch.randn(GRID, cfg.latent_dim, generator=gen)
        self.sampler = StepSampler(len(data), cfg.batch, cfg.seed, info.rank, info.world)

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        cfg = self.cfg
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "step": self.step,
            "config": {k: getattr(cfg, k) for k in TrainConfig.STRUCTURAL},
            "task": self.task.state(),
            "history": {
                "steps": torch.tensor(self.steps, dtype=torch.int64),
                **{k: torch.tensor(v, dtype=torch.float64) for k, v in self.history.items()},
            },
            "sample_z": self.sample_z,
            "rng": rng,
            "commands": self.commands,
        }

    def load(self, saved: dict[str, Any]) -> None:
        self.task.load_state(saved["task"])
        self.step = int(saved["step"])
        hist = saved["history"]
        self.steps = [int(s) for s in hist["steps"].tolist()]
        self.history = {k: [float(v) for v in hist[k].tolist()] for k in self.task.loss_names}
        self.sample_z = saved["sample_z"]
        self.commands = list(saved.get("commands", []))
        if self.info.rank == 0:
            torch.set_rng_state(saved["rng"]["cpu"])
            if self.device.type == "cuda" and "cuda" in saved["rng"]:
                torch.cuda.set_rng_state(saved["rng"]["cuda"], self.device)
        else:  # only rank 0's state is saved; the others continue from a fresh, distinct seed
            torch.manual_seed(self.cfg.seed * 1000 + self.info.rank + 7919 * self.step)

    # -- one step ------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        aug = torch.Generator().manual_seed(
            (self.cfg.seed * 1_000_003 + self.step) * 64 + self.info.rank
        )
        real = self.data.batch(self.sampler.indices(self.step), aug).to(
            self.device, non_blocking=True
        )
        losses = self.task.train_step(real, self.step)
        if not all(math.isfinite(v) for v in losses.values()):
            # Saving now would replace a good checkpoint with NaN weights: stop instead.
            raise TrainingError(
                f"training diverged at step {self.step + 1} ({', '.join(f'{k} {v}' for k, v in losses.items())}); "
                f"the checkpoints in {self.cfg.out} are from before it: resume with a lower learning "
                "rate, or try --loss hinge"
            )
        self.step += 1
        self.steps.append(self.step)
        for k in self.task.loss_names:
            self.history[k].append(losses[k])
        return losses

    # -- outputs (rank 0) ----------------------------------------------------------------
    def write_samples(self) -> None:
        images = self.task.sample(self.sample_z, self.step)
        path = Path(self.cfg.out) / "samples" / f"step-{self.step:07d}.png"
        try:
            plots.save_grid(path, images)
        except OSError as exc:  # a picture is not worth ending the run; a checkpoint would be
            log.warning("could not write %s: %s", path, exc.strerror or exc)

    def write_loss_curve(self) -> None:
        title = f"{self.cfg.model_name}: {self.cfg.arch} on {self.cfg.dataset}, step {self.step}"
        path = Path(self.cfg.out) / "loss.png"
        try:
            plots.save_loss_curve(path, self.history, self.steps, title)
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc.strerror or exc)

    def save(self, command: str) -> ModelCard:
        cfg = self.cfg
        try:
            state.save_state(cfg.out, self.state())
        except OSError as exc:
            raise TrainingError(
                f"could not write the training state into {cfg.out}: "
                f"{exc.strerror or exc}; the previous state file is whole"
            ) from None
        recipe = _recipe(cfg, self.task)
        notes = cfg.notes or (
            f"trained with `installation train` on {self.data.source} "
            f"({len(self.data)} images) for {self.step} steps: {recipe}"
        )
        if len(self.commands) > 1:  # `command` is the last run; say how the earlier ones went
            notes += ". Made by: " + "; then ".join(self.commands)
        card = outputs.export(
            cfg,
            self.task.export_module(self.step),
            self.step,
            dataset=cfg.dataset,
            command=command,
            notes=notes,
        )
        self.write_loss_curve()
        return card


def _transfer(run: Run, folder: Path) -> None:
    """--init-from: start the generator from a trained model of the same shape (transfer:
    the first checkpoints already draw, so a show's first swap comes in minutes)."""
    from installation.checkpoints import CheckpointError, load_checkpoint

    cfg = run.cfg
    if not hasattr(run.task, "load_generator"):
        raise TrainingError(f"--init-from works with --arch fewshot, not --arch {cfg.arch}")
    try:
        source = load_checkpoint(folder, "cpu")
    except CheckpointError as exc:
        raise TrainingError(f"--init-from {folder}: {exc}") from None
    diff = shape_differences(cfg.generator_config(exported=True), source.card.config)
    if source.card.architecture != cfg.network or diff:
        raise TrainingError(
            f"--init-from {folder}: it is a {source.card.architecture} model that differs "
            f"from this run in {', '.join(diff) or 'architecture'}; transfer needs the same shape"
        )
    run.task.load_generator({k: v.float() for k, v in source.module.state_dict().items()})
    log.info("generator starts from %s (step %d): transfer", folder, source.card.step)


def _recipe(cfg: TrainConfig, task: Any) -> str:
    """One line for the card: how this architecture was trained."""
    if cfg.arch == "vae":
        return f"{cfg.recon} reconstruction + {cfg.beta} x KL (warm-up {cfg.kl_warmup} steps)"
    if cfg.arch == "fewshot":
        return (
            f"{cfg.preset} preset{', field head' if cfg.head == 'field' else ''}, hinge loss, "
            "self-supervised discriminator (L1 + MSE rebuilds), "
            f"DiffAugment p {task.p_augment:.2f}, batch {cfg.batch}, EMA generator ({cfg.ema_decay})"
        )
    if cfg.arch == "sr":
        return f"x{cfg.scale} restoration of area-downscaled crops, L1"
    return (
        f"{cfg.loss} loss, {'spectral-norm' if cfg.loss == 'hinge' else 'batch-norm'} "
        f"discriminator, EMA generator ({cfg.ema_decay})"
    )


class _Stopped(Exception):
    """The stop event was set while the dataset was still being loaded."""


def _load_data(
    cfg: TrainConfig, info: ddp.DistInfo, show_progress: bool, stop: threading.Event
) -> ImageSet:
    synthetic = cfg.dataset.startswith("synthetic:")
    bar = Progress(
        cfg.synthetic_n if synthetic else 0,
        desc="drawing" if synthetic else "decoding",
        enabled=show_progress and info.is_main,
        unit="image",
    )

    def tick(done: int, total: int) -> None:
        if stop.is_set():  # a big folder takes minutes: SIGTERM must not wait for it
            raise _Stopped
        bar.total = total
        bar.update(done)

    try:
        return load_dataset(
            cfg.dataset,
            cfg.resolution,
            cfg.channels,
            synthetic_n=cfg.synthetic_n,
            seed=cfg.seed,
            flip=cfg.flip,
            warn=info.is_main,
            progress=tick,
            exclude=cfg.out,
        )
    finally:
        bar.close()


def run_training(
    config: TrainConfig,
    stop: threading.Event | None = None,
    pause: threading.Event | None = None,
    on_checkpoint: CheckpointCallback | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train as `config` says. Raises TrainingError (a message for the operator) for bad
    input, before any step runs. Returns when the steps are done or `stop` is set; either
    way the last step is saved. `pause` set: waits between steps until cleared (or stop)."""
    saved = state.load_state(config.out) if config.resume else None
    if saved is not None:  # unset structural options come from the saved run
        config = config.with_saved(saved.get("config", {}))
    cfg = config.resolved()
    _check_architecture(cfg)
    stop = stop or threading.Event()
    saved_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        info, device = ddp.setup(cfg.device)
    except RuntimeError as exc:
        raise TrainingError(str(exc)) from None
    try:
        outputs.check_output_folder(cfg)
        if saved is not None:
            _check_resume(cfg, saved)
        try:
            data = _load_data(cfg, info, progress, stop)
        except _Stopped:
            log.info("stopped while loading the dataset; nothing written")
            return TrainResult(int(saved["step"]) if saved else 0, Path(cfg.out), True)
        run = Run(cfg, info, device, data)
        if info.is_main:
            for warning in advice.dataset_warnings(cfg, len(data)):
                log.warning("%s", warning)
        if cfg.overwrite and saved is None and info.is_main and not cfg.estimate:
            outputs.clear_previous_run(cfg.out)
        if saved is not None:
            run.load(saved)
            log.info("resuming %s at step %d", cfg.out, run.step)
        elif cfg.init_from:
            _transfer(run, Path(cfg.init_from))
        return _train(run, stop, pause, on_checkpoint, progress)
    finally:
        ddp.teardown(info)
        torch.set_num_threads(saved_threads)


def _train(
    run: Run,
    stop: threading.Event,
    pause: threading.Event | None,
    on_checkpoint: CheckpointCallback | None,
    show_progress: bool,
) -> TrainResult:
    cfg, info = run.cfg, run.info
    command = cfg.command_line()
    run.commands.append(command)
    result = TrainResult(run.step, Path(cfg.out), False, skipped_files=len(run.data.skipped))
    if run.step >= cfg.steps:
        log.warning(
            "%s is already at step %d (--steps %d): nothing to do; raise --steps to train on",
            cfg.out,
            run.step,
            cfg.steps,
        )
    else:
        log.info(
            "training %s (%s) on %s: %d images at %d px, batch %d x %d process(es), steps %d -> %d",
            cfg.model_name,
            cfg.arch,
            run.data.source,
            len(run.data),
            cfg.resolution,
            cfg.batch,
            info.world,
            run.step,
            cfg.steps,
        )
    bar = Progress(cfg.steps, run.step, desc=cfg.model_name, enabled=show_progress and info.is_main)
    first, last_saved, busy, imgs = run.step, -1, 0.0, 0
    save_every = advice.save_interval(cfg, first)
    sample_every = (
        cfg.sample_every if save_every == cfg.save_every else min(cfg.sample_every, save_every)
    )
    timed: list[float] = []
    try:
        while run.step < cfg.steps:
            while pause is not None and pause.is_set() and not stop.is_set():
                stop.wait(0.1)
            if ddp.any_flag(stop.is_set(), info, run.device):
                result.stopped = True
                break
            if (threads := lifeline.take_threads()) is not None:  # the show's schedule asks
                torch.set_num_threads(threads)
                log.info("training on %d CPU thread(s) now (asked by the show)", threads)
            t0 = time.perf_counter()
            losses = run.train_step()
            took = time.perf_counter() - t0
            busy += took
            imgs += cfg.batch * info.world
            rate = imgs / busy if busy > 0 else 0.0
            bar.update(run.step, losses, f"{rate:.0f} img/s")
            if run.step > first + 1 and len(timed) < advice.TIMED_STEPS:  # the first step warms up
                timed.append(took)
                if len(timed) == advice.TIMED_STEPS:
                    if info.is_main:
                        est = advice.estimate(
                            cfg, sum(timed) / len(timed), cfg.steps - run.step, run.device.type
                        )
                        log.info("%s", est.message(cfg, cfg.steps - run.step))
                    if cfg.estimate:  # every rank ends here: nothing is written
                        break
            if not info.is_main or cfg.estimate:
                continue
            if run.step % sample_every == 0:
                run.write_samples()
            if run.step % save_every == 0:
                _save(run, command, on_checkpoint)
                last_saved = run.step
        if info.is_main and run.step not in (last_saved, first) and not cfg.estimate:
            if run.step % sample_every != 0:
                run.write_samples()
            _save(run, command, on_checkpoint)
    finally:
        bar.close()
    result.step, result.steps, result.history = run.step, run.steps, run.history
    result.images_per_s = imgs / busy if busy > 0 else 0.0
    if cfg.estimate:
        log.info("estimate only: nothing was written to %s", cfg.out)
    elif result.stopped:
        log.info(
            "stopped at step %d%s",
            run.step,
            f"; saved to {cfg.out}" if run.step != first else " (no new steps to save)",
        )
    return result


def _save(run: Run, command: str, on_checkpoint: CheckpointCallback | None) -> None:
    card = run.save(command)
    log.debug("checkpoint step %d written to %s", run.step, run.cfg.out)
    if on_checkpoint is not None:
        try:
            on_checkpoint(Path(run.cfg.out), card)
        except Exception:  # a listener's bug must not end a training run
            log.exception("on_checkpoint callback failed")
