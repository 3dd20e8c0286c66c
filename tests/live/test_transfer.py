"""training: {architecture: fewshot} starts from the show's own model when shapes agree."""

from __future__ import annotations

from pathlib import Path

import torch

from installation.checkpoints import save_checkpoint
from installation.config.show import parse_show
from installation.live.trainer import trainer_command
from installation.networks import build_model
from installation.training.config import TrainConfig
from installation.training.state import STATE_FILE


def _fewshot_model(folder: Path, resolution: int) -> Path:
    config = TrainConfig(arch="fewshot", resolution=resolution).generator_config()
    torch.manual_seed(0)
    save_checkpoint(
        folder,
        build_model("fewshot", config).eval(),
        name="shipped",
        architecture="fewshot",
        config=config,
        dtype=torch.float16,
    )
    return folder


def _show(tmp_path: Path, model: Path, **training) -> object:
    return parse_show(
        {
            "model": {"path": str(model)},
            "training": {
                "enabled": True,
                "architecture": "fewshot",
                "dataset": "my-images",
                "out": "live",
                **training,
            },
        },
        base_dir=tmp_path,
    )


def test_a_new_fewshot_run_starts_from_the_shows_model(tmp_path):
    model = _fewshot_model(tmp_path / "shipped", 128)
    argv = trainer_command(_show(tmp_path, model, resolution=128))
    assert argv[argv.index("--init-from") + 1] == str(model)
    assert argv[argv.index("--batch") + 1] == "8" and argv[argv.index("--resolution") + 1] == "128"


def test_without_a_resolution_a_fewshot_run_takes_the_shows_fewshot_model_size(tmp_path):
    model = _fewshot_model(tmp_path / "shipped", 128)
    argv = trainer_command(_show(tmp_path, model))
    assert argv[argv.index("--resolution") + 1] == "128"
    assert argv[argv.index("--init-from") + 1] == str(model)
    # No transfer wanted: the architecture's own default size.
    argv = trainer_command(_show(tmp_path, model, transfer=False))
    assert argv[argv.index("--resolution") + 1] == "256" and "--init-from" not in argv


def test_no_transfer_when_the_shape_differs_resuming_or_switched_off(tmp_path):
    model = _fewshot_model(tmp_path / "shipped", 128)
    assert "--init-from" not in trainer_command(
        _show(tmp_path, model, resolution=256)
    )  # not the same shape
    assert "--init-from" not in trainer_command(
        _show(tmp_path, model, resolution=128, transfer=False)
    )
    assert "--init-from" not in trainer_command(
        _show(tmp_path, model, resolution=128, extra_args=["--width", "50"])
    )
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / STATE_FILE).write_bytes(b"x")
    argv = trainer_command(_show(tmp_path, model, resolution=128))
    assert "--resume" in argv and "--init-from" not in argv


def test_a_run_from_a_field_head_model_keeps_the_head_and_trains_smaller(tmp_path):
    config = TrainConfig(
        arch="fewshot", resolution=128, head="field", play_resolution=256
    ).generator_config(exported=True)
    save_checkpoint(
        tmp_path / "flow",
        build_model("fewshot", config).eval(),
        name="flow",
        architecture="fewshot",
        config=config,
        dtype=torch.float16,
    )
    argv = trainer_command(_show(tmp_path, tmp_path / "flow"))
    # trains at 128 px (half the cost of a step at 256), exports at the show model's 256
    assert argv[argv.index("--resolution") + 1] == "128"
    assert argv[argv.index("--head") + 1] == "field"
    assert argv[argv.index("--play-resolution") + 1] == "256"
    assert argv[argv.index("--init-from") + 1] == str(tmp_path / "flow")
    # asked for 256 px: the head's weights fit, so the transfer stays
    argv = trainer_command(_show(tmp_path, tmp_path / "flow", resolution=256))
    assert "--init-from" in argv and argv[argv.index("--resolution") + 1] == "256"
