"""The renderer's worker-facing side: a job carries its model, so a swap cannot reach a
frame already handed to a pipeline worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from installation.checkpoints import load_checkpoint
from installation.render.pipeline import GeneratorPool
from installation.render.renderer import FrameRenderer, PixelLayout, RenderJob
from tests.conftest import make_model


def test_a_job_renders_its_own_model_whatever_the_renderer_holds_now(tmp_path: Path) -> None:
    a = load_checkpoint(make_model(tmp_path / "a", seed=1))
    b = load_checkpoint(make_model(tmp_path / "b", seed=2))
    renderer = FrameRenderer(a, torch.device("cpu"), torch.float32, PixelLayout(), buffers=3)
    z = np.random.default_rng(0).standard_normal(a.latent_dim).astype(np.float32)
    of_a = renderer.host_arrays[renderer.render(z, index=0)].copy()
    pool = GeneratorPool(renderer.render_job, workers=2)
    try:
        renderer.model = b  # the loop swapped after handing out the first frame
        pool.submit(RenderJob(a, z, index=1))
        pool.submit(RenderJob(b, z, index=2))
        first, second = pool.next_result(), pool.next_result()
    finally:
        pool.close()
    assert first.error is None and second.error is None
    assert np.array_equal(renderer.host_arrays[first.index], of_a)
    assert not np.array_equal(renderer.host_arrays[second.index], of_a)
