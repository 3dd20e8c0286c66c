"""Checkpoints: round trip, atomic writes, and every corrupt kind rejected with a reason."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import torch

from installation.checkpoints import (
    CARD_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    load_checkpoint,
    read_card,
    save_checkpoint,
)
from installation.networks import ConvVAE, MLPConfig, MLPGenerator, VAEConfig, build_model

from .conftest import REPO, make_model


def rewrite_weights(folder: Path, data: bytes, fix_hash: bool = True) -> None:
    (folder / WEIGHTS_FILE).write_bytes(data)
    if fix_hash:  # so the test reaches the check after the hash, not the hash itself
        card = json.loads((folder / CARD_FILE).read_text())
        card["sha256"] = hashlib.sha256(data).hexdigest()
        (folder / CARD_FILE).write_text(json.dumps(card))


def test_round_trip_gives_the_same_images(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m", step=42)
    loaded = load_checkpoint(folder)
    assert (loaded.id, loaded.version, loaded.latent_dim) == ("tiny", 42, 16)
    again = load_checkpoint(folder)
    z = torch.randn(3, 16)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module.decode(z), again.module.decode(z))


@pytest.mark.parametrize(
    "arch,model",
    [
        ("mlp", MLPGenerator(MLPConfig(latent_dim=8, hidden=16))),
        ("vae", ConvVAE(VAEConfig(latent_dim=8, resolution=32, width=4))),
    ],
)
def test_every_architecture_round_trips(tmp_path: Path, arch: str, model) -> None:
    save_checkpoint(
        tmp_path / arch,
        model,
        name=arch,
        architecture=arch,
        config=model.cfg.to_dict(),
        dtype=torch.float16,
    )
    loaded = load_checkpoint(tmp_path / arch)
    out = loaded.module.decode(torch.randn(2, 8))
    assert out.shape == (2, model.channels, model.resolution, model.resolution)
    assert out.abs().max() <= 1.0
    if arch == "vae":
        mu, logvar = loaded.module.encode(torch.zeros(1, 3, 32, 32))
        assert mu.shape == logvar.shape == (1, 8)


def test_fp16_file_loads_into_fp32_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("dcgan", {"latent_dim": 8, "resolution": 32, "width": 4})
    save_checkpoint(
        tmp_path / "h",
        model,
        name="h",
        architecture="dcgan",
        config=model.cfg.to_dict(),
        dtype=torch.float16,
    )
    loaded = load_checkpoint(tmp_path / "h")
    assert read_card(tmp_path / "h").dtype == "float16"
    assert next(loaded.module.parameters()).dtype == torch.float32


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    make_model(folder, seed=1, step=2)  # overwrite in place
    assert sorted(p.name for p in folder.iterdir()) == [CARD_FILE, WEIGHTS_FILE]
    assert load_checkpoint(folder).version == 2


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    data = (folder / WEIGHTS_FILE).read_bytes()
    rewrite_weights(folder, data[: len(data) // 2], fix_hash=False)
    with pytest.raises(CheckpointError, match="does not match the card"):
        load_checkpoint(folder)
    rewrite_weights(folder, data[: len(data) // 2], fix_hash=True)
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_checkpoint(folder)


def test_nan_weights_are_rejected(tmp_path: Path) -> None:
    from safetensors.torch import load, save

    folder = make_model(tmp_path / "m")
    tensors = load((folder / WEIGHTS_FILE).read_bytes())
    key = next(k for k, t in tensors.items() if t.is_floating_point())
    tensors[key][..., 0] = float("nan")
    rewrite_weights(folder, save(tensors))
    with pytest.raises(CheckpointError, match=f"tensor {key} holds NaN"):
        load_checkpoint(folder)


def test_wrong_shape_is_rejected(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m", width=4)
    other = make_model(tmp_path / "other", width=8)
    rewrite_weights(folder, (other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(CheckpointError, match="has shape .* the architecture needs"):
        load_checkpoint(folder)


def test_pickle_in_disguise_is_never_unpickled(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    rewrite_weights(folder, pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_checkpoint(folder)
    # The same bytes saved the way torch.save would (a zip of pickles) are refused too.
    torch.save({"w": torch.zeros(1)}, folder / WEIGHTS_FILE)
    rewrite_weights(folder, (folder / WEIGHTS_FILE).read_bytes())
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_checkpoint(folder)
    assert not marker.exists()


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c.update(architecture="stylegan9"), "unknown architecture 'stylegan9'"),
        (lambda c: c.update(resolution=64), "disagree with its config"),
        (lambda c: c.update(config={**c["config"], "resolution": 48}), "resolution must be one of"),
        (lambda c: c.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (lambda c: c.pop("sha256"), "sha256: Field required"),
        (lambda c: c.update(format="other/9"), "unsupported format"),
    ],
)
def test_bad_cards_are_rejected(tmp_path: Path, mutate, message: str) -> None:
    folder = make_model(tmp_path / "m")
    card = json.loads((folder / CARD_FILE).read_text())
    mutate(card)
    (folder / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")
    folder = make_model(tmp_path / "m")
    (folder / CARD_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        load_checkpoint(folder)
    (folder / CARD_FILE).unlink()
    with pytest.raises(CheckpointError, match="card.json is missing"):
        load_checkpoint(folder)


def test_shipped_model_loads_and_renders_finite_varied_frames() -> None:
    loaded = load_checkpoint(REPO / "models" / "default-gan")
    with torch.inference_mode():
        out = loaded.module.decode(
            torch.randn(2, loaded.latent_dim, generator=torch.Generator().manual_seed(0))
        )
    assert torch.isfinite(out).all()
    assert out.std() > 0.01
    assert (out[0] - out[1]).abs().mean() > 1e-3
