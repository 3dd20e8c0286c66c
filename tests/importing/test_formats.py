"""`installation import` reads every format artists have: NVIDIA snapshots (G_ema, else G;
numpy 1 and numpy 2 pickles), rosinality .pt (with or without latent_avg) and StyleGAN
safetensors (this package's metadata or NVIDIA's init kwargs).

Reference data: tests/data/stylegan/README.md (made with NVIDIA's and rosinality's code,
outside this repository).
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_safetensors

from installation.checkpoints import load_checkpoint
from installation.cli import main
from installation.importing import importer
from installation.importing.safe_pickle import read_network_pickle

DATA = Path(__file__).parent.parent / "data" / "stylegan"


def _import(src: Path, out: Path, *extra: str) -> Path:
    assert main(["import", str(src), "--out", str(out), "--no-progress", *extra]) == 0
    return out


def _sample(folder: Path, tmp_path: Path) -> np.ndarray:
    out = tmp_path / f"{folder.name}.npy"
    assert main(["sample", str(folder), "--seeds", "0-3", "--psi", "0.7", "--out", str(out)]) == 0
    return np.load(out)


def _close(ours: np.ndarray, ref: np.ndarray) -> bool:
    d = np.abs(ours - ref)
    return bool(d.max() <= 5e-3 and d.mean() <= 5e-4)


def test_rosinality_checkpoint_matches_its_own_forward(tmp_path: Path) -> None:
    folder = _import(DATA / "rosinality.pt", tmp_path / "r")
    assert _close(_sample(folder, tmp_path), np.load(DATA / "rosinality_psi07_const.npy"))
    card = load_checkpoint(folder).card
    assert card.source["format"] == "rosinality-pt" and card.config["conv_clamp"] is None


def test_rosinality_without_latent_avg_estimates_w_avg(tmp_path: Path) -> None:
    with torch.serialization.safe_globals([argparse.Namespace]):
        ckpt = torch.load(DATA / "rosinality.pt", weights_only=True)
    true_avg = ckpt.pop("latent_avg")
    src = tmp_path / "no_avg.pt"
    torch.save(ckpt, src)
    loaded = load_checkpoint(_import(src, tmp_path / "r"))
    assert "estimated" in loaded.card.notes
    # The reference's latent_avg was the mapping mean plus N(0, 0.1) noise: close, not equal.
    w_avg = loaded.module.mapping.w_avg
    assert 0 < float((w_avg - true_avg).norm()) < 0.5 * float(true_avg.norm())


def test_snapshot_without_g_ema_falls_back_to_g(tmp_path: Path) -> None:
    data = (DATA / "sg2.pkl").read_bytes()
    assert data.count(b"\x8c\x05G_ema") == 1
    src = tmp_path / "no_ema.pkl"
    src.write_bytes(data.replace(b"\x8c\x05G_ema", b"\x8c\x05G_old"))
    folder = _import(src, tmp_path / "g")
    assert "generator G of" in load_checkpoint(folder).card.notes
    # G is a different random network from G_ema: its pictures differ from the reference.
    assert not _close(_sample(folder, tmp_path), np.load(DATA / "sg2_psi07_const.npy"))


def test_numpy_1_and_numpy_2_pickles_rebuild_the_same_arrays() -> None:
    value = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "s": np.float64(2.5),
        "i": np.int64(7),
    }
    new = pickle.dumps(value, protocol=3)
    assert b"numpy._core.multiarray" in new
    old = new.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    for data in (new, old, pickle.dumps(value, protocol=2), pickle.dumps(value, protocol=4)):
        got = read_network_pickle(data)
        np.testing.assert_array_equal(got["a"], value["a"])
        assert got["s"] == 2.5 and got["i"] == 7


def _sg2_state(tmp_path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    loaded = load_checkpoint(_import(DATA / "sg2.pkl", tmp_path / "orig"))
    return {k: v.contiguous() for k, v in loaded.module.state_dict().items()}, loaded.card.config


def test_safetensors_with_package_metadata(tmp_path: Path) -> None:
    state, config = _sg2_state(tmp_path)
    src = tmp_path / "export.safetensors"
    src.write_bytes(
        save_safetensors(
            state,
            metadata={
                "architecture": "stylegan2",
                "config": json.dumps(config),
                "license": "CC BY-NC 4.0 (example)",
            },
        )
    )
    folder = _import(src, tmp_path / "st")
    assert _close(_sample(folder, tmp_path), np.load(DATA / "sg2_psi07_const.npy"))
    assert load_checkpoint(folder).card.source["licence"] == "CC BY-NC 4.0 (example)"


def test_safetensors_with_nvidia_init_kwargs(tmp_path: Path) -> None:
    state, _ = _sg2_state(tmp_path)
    kwargs = {
        "z_dim": 32,
        "c_dim": 0,
        "w_dim": 32,
        "img_resolution": 32,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "channel_base": 512,
        "channel_max": 16,
        "num_fp16_res": 4,
        "conv_clamp": 256,
    }
    src = tmp_path / "nv.safetensors"
    src.write_bytes(save_safetensors(state, metadata={"init_kwargs": json.dumps(kwargs)}))
    folder = _import(src, tmp_path / "nv")
    assert _close(_sample(folder, tmp_path), np.load(DATA / "sg2_psi07_const.npy"))


def test_large_files_show_a_progress_bar(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(importer, "PROGRESS_FROM_BYTES", 1)
    monkeypatch.setattr(importer, "READ_CHUNK", 64 * 1024)
    caplog.set_level("INFO")
    assert main(["import", str(DATA / "sg3t.pkl"), "--out", str(tmp_path / "m")]) == 0
    lines = [r.getMessage() for r in caplog.records if "read sg3t.pkl" in r.getMessage()]
    assert lines and "bytes" in lines[-1] and "[########################]" in lines[-1]


def test_imported_folder_plays_like_any_model(tmp_path: Path) -> None:
    loaded = load_checkpoint(_import(DATA / "sg3r.pkl", tmp_path / "r"))
    z = torch.randn(2, loaded.latent_dim)
    with torch.inference_mode():
        img = loaded.module.decode(z)
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()


def test_a_card_asking_for_a_huge_stylegan_is_refused_before_building(tmp_path: Path) -> None:
    """The card-bomb defence for imported models: config shapes vs the file, nothing built."""
    import resource

    from installation.checkpoints import CARD_FILE, CheckpointError

    folder = _import(DATA / "sg2.pkl", tmp_path / "sg2")
    card = json.loads((folder / CARD_FILE).read_text())
    card["config"].update(channel_max=4096, channel_base=2**20, resolution=1024)
    card["resolution"] = 1024
    (folder / CARD_FILE).write_text(json.dumps(card))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load_checkpoint(folder)
    except CheckpointError as exc:
        assert "sha256" not in str(exc)  # refused for its sizes, not for a changed file
    else:
        raise AssertionError("a card that disagrees with its weights was loaded")
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 50
