"""Validation of candidate checkpoints: every bad kind is refused with a reason."""

from __future__ import annotations

import hashlib
import io
import json
import pickle

import pytest
import torch

from installation.checkpoints import CARD_FILE, WEIGHTS_FILE, CheckpointError, save_checkpoint
from installation.live.validation import NotWhole, read_whole, validate
from installation.render.renderer import FrameRenderer, PixelLayout
from tests.live._hotswap_util import TINY, make_model, save


def _rewrite_card(folder, **changes):
    card = json.loads((folder / CARD_FILE).read_text())
    card.update(changes)
    (folder / CARD_FILE).write_text(json.dumps(card))


def _match_card_to_weights(folder):
    _rewrite_card(folder, sha256=hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest())


def test_good_checkpoint_validates_and_warms_at_the_show_precision(tmp_path):
    save(tmp_path, step=7)
    whole = read_whole(tmp_path)
    assert whole.card.step == 7
    model = validate(tmp_path)
    renderer = FrameRenderer(model, torch.device("cpu"), torch.float64, PixelLayout())
    warmed = validate(whole, prepare=renderer.prepare)
    assert next(warmed.module.parameters()).dtype == torch.float64
    assert warmed.version == 7


def test_a_checkpoint_is_read_hashed_and_test_decoded_once(tmp_path, monkeypatch):
    from installation.checkpoints import check_forward as real_check_forward
    from installation.live import validation

    save(tmp_path, step=8)
    reads, decodes = [], []
    real_read_bytes = type(tmp_path).read_bytes
    monkeypatch.setattr(
        type(tmp_path), "read_bytes", lambda self: reads.append(self.name) or real_read_bytes(self)
    )
    real_sha256 = hashlib.sha256
    hashes = []
    monkeypatch.setattr(hashlib, "sha256", lambda *a: hashes.append(1) or real_sha256(*a))
    monkeypatch.setattr(
        validation,
        "check_forward",
        lambda *a, **k: decodes.append(1) or real_check_forward(*a, **k),
    )
    validate(read_whole(tmp_path))
    assert reads == [WEIGHTS_FILE] and len(hashes) == 1 and len(decodes) == 1


def test_truncated_weights_are_not_whole(tmp_path):
    save(tmp_path, step=1)
    data = (tmp_path / WEIGHTS_FILE).read_bytes()
    (tmp_path / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(NotWhole, match="sha256"):
        read_whole(tmp_path)
    with pytest.raises(CheckpointError, match="sha256"):
        validate(tmp_path)


def test_half_written_card_is_not_whole(tmp_path):
    save(tmp_path, step=1)
    text = (tmp_path / CARD_FILE).read_text()
    (tmp_path / CARD_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(NotWhole, match="JSON"):
        read_whole(tmp_path)


def test_nan_weights_are_rejected(tmp_path):
    module = make_model(1)
    with torch.no_grad():
        module.blocks[0][0].weight[0, 0, 0, 0] = float("nan")
    save_checkpoint(tmp_path, module, name="live", architecture="dcgan", config=TINY, step=3)
    read_whole(tmp_path)  # a whole file: the hash matches, the content is bad
    with pytest.raises(CheckpointError, match="NaN"):
        validate(tmp_path)


def test_wrong_shape_is_rejected(tmp_path):
    save(tmp_path, step=2, config={**TINY, "width": 4})
    _rewrite_card(tmp_path, config={**TINY, "width": 8})  # the card promises another shape
    with pytest.raises(CheckpointError, match="shape"):
        validate(tmp_path)


def test_collapsed_generator_is_rejected(tmp_path):
    module = make_model(2)
    with torch.no_grad():  # the last layer ignores its input: every latent, the same picture
        module.to_rgb.weight.zero_()
        module.to_rgb.bias.fill_(0.3)
    save_checkpoint(tmp_path, module, name="live", architecture="dcgan", config=TINY, step=4)
    with pytest.raises(CheckpointError, match="collapsed"):
        validate(tmp_path)


class _Payload:
    """Unpickling this would create a file: proof that nothing was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_in_disguise_is_rejected_and_never_run(tmp_path):
    save(tmp_path, step=5)
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"state": make_model(5).state_dict(), "payload": _Payload(marker)}, buf)
    (tmp_path / WEIGHTS_FILE).write_bytes(buf.getvalue())
    _match_card_to_weights(tmp_path)  # a consistent pair: only the format gives it away
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        validate(tmp_path)
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        (tmp_path / WEIGHTS_FILE).write_bytes(pickle.dumps(_Payload(marker)))
        _match_card_to_weights(tmp_path)
        validate(tmp_path)
    assert not marker.exists()
