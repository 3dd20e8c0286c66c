"""The few-shot GAN: generator parts, discriminator rebuilds, DiffAugment, training runs."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from installation.checkpoints import load_checkpoint
from installation.networks import build_model
from installation.networks.fewshot import FewShotConfig, FewShotGenerator, NoiseInjection
from installation.training import run_training
from installation.training.augment import _translate, diff_augment, probability_for
from installation.training.config import TrainConfig
from installation.training.fewshot_d import FewShotDiscriminator
from installation.training.wrap import ramped_ema_decay
from tests.training.conftest import tiny_config


def _gen(resolution: int = 64, preset: str = "lite", width_mult: float = 0.25) -> FewShotGenerator:
    torch.manual_seed(0)
    g = FewShotGenerator(
        FewShotConfig(latent_dim=16, resolution=resolution, preset=preset, width_mult=width_mult)
    )
    g.train()
    with torch.no_grad():  # calibrate batch norm so outputs vary with z
        g.decode(torch.randn(16, 16))
    return g.eval()


@pytest.mark.parametrize("resolution", [64, 128, 256])
def test_lite_generator_makes_its_resolution_with_excitation_into_the_high_blocks(resolution):
    g = _gen(resolution)
    with torch.no_grad():
        x = g.decode(torch.randn(2, 16))
    assert x.shape == (2, 3, resolution, resolution)
    assert float(x.abs().max()) <= 1.0
    # the paper's pairs that exist at this size: 4 -> 64 always, 8 -> 128 from 256 px on
    # (lite's last doubling is a pixel shuffle, so its top block is resolution / 2)
    assert set(g.sle) == {str(d) for s, d in ((4, 64), (8, 128)) if d <= resolution // 2}
    assert any(isinstance(m, torch.nn.GLU) for m in g.modules())


def test_full_preset_has_two_convolutions_per_block_and_no_pixel_shuffle():
    g = _gen(256, "full", width_mult=0.05)
    convs = [m for m in g.blocks["64"].modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2
    assert not any(isinstance(m, torch.nn.PixelShuffle) for m in g.modules())
    assert set(g.sle) == {"64", "128", "256"}
    with torch.no_grad():
        assert g.decode(torch.randn(1, 16)).shape == (1, 3, 256, 256)


def test_a_still_latent_is_a_still_picture_and_training_noise_is_fresh():
    g = _gen()
    z = torch.randn(1, 16)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.weight.fill_(0.5)  # make the noise matter
        a, b = g.decode(z), g.decode(z)
        assert torch.equal(a, b)
        g.train()
        c, d = g.decode(z.expand(2, -1)).split(1)
    assert not torch.allclose(c, d)


def test_style_mixing_keeps_layout_and_moves_toward_the_second_latent():
    g = _gen(128)
    z, other = torch.randn(1, 16), torch.randn(1, 16)
    with torch.no_grad():
        plain = g.decode(z)
        assert torch.equal(g.decode(z, mix_z=other, mix=0.0), plain)
        half = g.decode(z, mix_z=other, mix=0.5)
        full = g.decode(z, mix_z=other, mix=1.0)
        # mix 1 uses only the other latent's gates: equal to running z with those gates
        gates = g.excitations(other)
        x, _ = g._features(z, gates)
        expected = torch.tanh(g.to_rgb(x))
    assert torch.allclose(full, expected, atol=1e-6)
    d_half, d_full = (half - plain).abs().mean(), (full - plain).abs().mean()
    assert 0 < d_half < d_full


def test_card_config_round_trips_through_json_string_keys():
    cfg = TrainConfig(arch="fewshot", resolution=128, width=50).generator_config()
    assert all(isinstance(k, str) for k in cfg["widths"])
    model = build_model("fewshot", cfg)
    assert model.cfg.widths[64] == round(32 * 0.5)


def test_discriminator_rebuilds_the_whole_image_and_the_chosen_quarter():
    torch.manual_seed(0)
    d = FewShotDiscriminator(128, width_mult=0.25)
    real = torch.rand(3, 3, 128, 128) * 2 - 1
    logits, whole, part, quarter = d(real, reconstruct=True)
    assert logits.shape == (3, 25)
    assert whole.shape == part.shape == (3, 3, 32, 32)
    assert quarter.shape == (3,) and int(quarter.min()) >= 0 and int(quarter.max()) <= 3
    # the part target is the quarter it names: a perfect rebuild of it scores zero there
    half = 64
    q = int(quarter[0])
    target = real[
        0:1, :, (q // 2) * half : (q // 2) * half + half, (q % 2) * half : (q % 2) * half + half
    ]
    perfect = torch.nn.functional.interpolate(target, size=(32, 32), mode="area")
    whole_target = torch.nn.functional.interpolate(real[0:1], size=(32, 32), mode="area")
    loss = d.recon_loss(real[0:1], whole_target, perfect, quarter[0:1])
    assert float(loss) < 1e-6


def test_augmentation_probability_adapts_to_the_dataset_size():
    assert probability_for(3) == probability_for(200) == 1.0
    assert 0.3 < probability_for(2000) < 1.0
    assert probability_for(10**6) == 0.3


def test_translation_moves_pixels_and_gradients_flow_through_augmentation():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 8] = 1.0
    shifted = _translate(x, torch.Generator().manual_seed(1), ratio=0.25)
    assert float(shifted.sum()) in (0.0, 1.0)  # moved (or off the edge), never duplicated
    img = torch.rand(4, 3, 32, 32, requires_grad=True)
    out = diff_augment(img, 1.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(out, img)
    out.sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0
    assert torch.equal(diff_augment(img, 0.0), img)


def _fewshot(out, **kw):
    base = dict(
        arch="fewshot",
        resolution=64,
        width=25,
        d_width=25,
        batch=4,
        synthetic_n=8,
        dataset="synthetic:fluid",
    )
    return tiny_config(out, **{**base, **kw})


def test_the_average_of_a_young_gan_is_short_and_grows_to_the_configured_decay():
    # Half-life of the average in steps: log(0.5) / log(decay).
    def half_life(step: int) -> float:
        d = ramped_ema_decay(0.999, step)
        return math.log(0.5) / math.log(d) if d > 0 else 0.0

    assert ramped_ema_decay(0.999, 0) == 0.0  # step 0: the average is the generator itself
    assert half_life(100) == pytest.approx(5.0)  # 5 % of the steps so far
    assert half_life(2000) == pytest.approx(100.0)
    assert ramped_ema_decay(0.999, 1_000_000) == pytest.approx(0.999)  # the ramp has ended
    assert ramped_ema_decay(0.0, 5000) == 0.0


def test_fewshot_trains_resumes_and_exports_fp16_by_default(tmp_path):
    cfg = _fewshot(tmp_path / "f", steps=3, save_every=10)
    result = run_training(cfg, progress=False)
    assert set(result.history) == {"loss_d", "loss_g", "recon"}
    model = load_checkpoint(cfg.out)
    assert model.card.architecture == "fewshot" and model.card.dtype == "float16"
    assert "self-supervised discriminator" in model.card.notes
    # 3 steps with --save-every 10: still saved at least three times
    assert len(list((cfg.out / "samples").iterdir())) == 3
    cfg.steps, cfg.resume = 5, True
    assert run_training(cfg, progress=False).step == 5


def test_three_images_train_with_a_memorise_warning(tmp_path, caplog):
    from tests.training.conftest import write_solid_images

    data = write_solid_images(tmp_path / "three", n=3, size=72)
    cfg = _fewshot(tmp_path / "f", steps=1)
    cfg.dataset = str(data)
    with caplog.at_level(logging.WARNING):
        assert run_training(cfg, progress=False).step == 1
    assert "3 image(s): the model will memorise them" in caplog.text


def test_estimate_times_steps_says_the_cost_and_writes_nothing(tmp_path, caplog):
    cfg = _fewshot(tmp_path / "f", steps=100000, estimate=True)
    with caplog.at_level(logging.INFO):
        result = run_training(cfg, progress=False)
    assert result.step == 4  # one warm-up step, then three timed
    assert "cost on this machine:" in caplog.text and "99996 steps take about" in caplog.text
    assert "recognisable after about" in caplog.text
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())


def test_transfer_starts_the_generator_from_a_trained_model_of_the_same_shape(tmp_path):
    from installation.training.config import TrainingError

    source = _fewshot(tmp_path / "a", steps=2)
    run_training(source, progress=False)
    a = load_checkpoint(source.out).module
    child = _fewshot(tmp_path / "b", steps=1, lr_g=1e-12, lr_d=1e-12, init_from=str(source.out))
    run_training(child, progress=False)
    b = load_checkpoint(child.out).module
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        if "running" not in name and "num_batches" not in name:
            assert torch.allclose(wa.float(), wb.float(), atol=1e-3), name
    fresh = load_checkpoint(
        run_training(_fewshot(tmp_path / "c", steps=1), progress=False).out
    ).module
    assert not torch.allclose(fresh.init[0].weight.float(), b.init[0].weight.float())
    other = _fewshot(tmp_path / "d", steps=1, width=50, init_from=str(source.out))
    with pytest.raises(TrainingError, match="differs from this run in width_mult, widths"):
        run_training(other, progress=False)


def _field_gen(resolution: int = 64, field_size: int = 16) -> FewShotGenerator:
    torch.manual_seed(0)
    g = FewShotGenerator(
        FewShotConfig(
            latent_dim=16,
            resolution=resolution,
            width_mult=0.25,
            head="field",
            field_size=field_size,
        )
    )
    g.to_rgb.reset_parameters()
    g.train()
    with torch.no_grad():
        g.decode(torch.randn(16, 16))
    return g.eval()


def test_field_head_stops_the_blocks_at_the_field_size_and_colours_each_pixel_alone():
    g = _field_gen(64, field_size=16)
    assert g.sizes == [8, 16]  # no block above the field size
    assert not any(isinstance(m, torch.nn.PixelShuffle) for m in g.modules())
    # every convolution at the output size is 1x1: no pixel sees a neighbour there
    assert g.to_rgb.mix.kernel_size == (1, 1) and g.to_rgb.to_rgb.kernel_size == (1, 1)
    with torch.no_grad():
        x = g.decode(torch.randn(3, 16))
    assert x.shape == (3, 3, 64, 64) and float(x.abs().max()) <= 1.0
    assert not torch.allclose(x[0], x[1])  # each latent its own picture


def test_field_head_weights_draw_the_same_picture_at_any_size():
    g = _field_gen(64, field_size=16)
    z = torch.randn(4, 16)
    with torch.no_grad():
        small = g.decode(z)
        g.resolution = 256  # what --play-resolution does to the exported copy
        large = g.decode(z)
    assert large.shape[-1] == 256
    shrunk = torch.nn.functional.interpolate(large, size=(64, 64), mode="area")
    same = (shrunk - small).abs().mean()
    other = (small - small.roll(1, dims=0)).abs().mean()  # another latent's picture
    assert same < 0.2 * other


def test_an_rgb_card_keeps_the_keys_it_had_before_field_heads():
    rgb = FewShotConfig(resolution=128).to_dict()
    assert "head" not in rgb and "fields" not in rgb
    field = FewShotConfig(resolution=128, head="field").to_dict()
    assert field["head"] == "field" and field["field_size"] == 64
    assert FewShotConfig(**field) == FewShotConfig(resolution=128, head="field")
    with pytest.raises(ValueError, match="field_size"):
        FewShotConfig(resolution=64, head="field", field_size=128)
    with pytest.raises(ValueError, match="head"):
        FewShotConfig(head="paint")
    with pytest.raises(ValueError, match="upsample"):
        FewShotConfig(head="field", resolution=128, upsample="cubic")


def test_a_field_head_trains_at_one_size_and_exports_at_its_play_resolution(tmp_path):
    from installation.training.config import TrainingError

    cfg = _fewshot(tmp_path / "f", steps=2, head="field", play_resolution=128)
    run_training(cfg, progress=False)
    model = load_checkpoint(cfg.out)
    assert model.card.resolution == 128 and model.card.config["head"] == "field"
    # the trainer's field recipe: bilinear doubling, no injected noise (smooth fields)
    assert model.card.config["upsample"] == "bilinear" and model.card.config["noise"] is False
    assert model.card.config["padding"] == "reflect"
    # it drew at twice the judged size (the discriminator saw 2x2 averages, at 64 px)
    assert cfg.generator_config()["resolution"] == 128 and cfg.resolved().resolution == 64
    assert not any(isinstance(m, NoiseInjection) for m in model.module.modules())
    assert "field head" in model.card.notes
    with torch.no_grad():
        assert model.module.decode(torch.randn(1, 16)).shape == (1, 3, 128, 128)
    # the run trained at 64 px: resuming keeps the head, and a run at another size can
    # start from its weights (a field head's weights fit any size)
    child = _fewshot(tmp_path / "g", steps=1, resolution=128, head="field", init_from=str(cfg.out))
    run_training(child, progress=False)
    rgb = _fewshot(tmp_path / "h", steps=1, init_from=str(cfg.out))
    with pytest.raises(TrainingError, match="differs from this run in"):
        run_training(rgb, progress=False)
    with pytest.raises(TrainingError, match="--play-resolution needs"):
        _fewshot(tmp_path / "i", play_resolution=128).resolved()
    with pytest.raises(TrainingError, match="resolution must be one of"):  # before any step
        run_training(_fewshot(tmp_path / "j", head="field", play_resolution=300), progress=False)
    assert not (tmp_path / "j" / "model.safetensors").exists()


def test_field_head_draws_the_same_in_place_in_the_show_as_with_gradients():
    g = _field_gen(64, field_size=16)
    z = torch.randn(2, 16)
    with torch.no_grad():
        shown = g.decode(z)
    trained = g.decode(z)  # the autograd path the trainer takes
    assert trained.requires_grad
    assert torch.allclose(shown, trained.detach(), atol=1e-6)


def test_only_a_field_head_leaves_the_dcgan_init(tmp_path):
    from installation.training.tasks import make_task

    def head_weight_std(**kw) -> float:
        task = make_task(_fewshot(tmp_path, **kw).resolved(), torch.device("cpu"), n_images=8)
        head = task.g.to_rgb
        return float((head.to_fields if hasattr(head, "to_fields") else head).weight.detach().std())

    # the full preset's rgb head is one convolution: DCGAN's N(0, 0.02), like every other
    assert head_weight_std(preset="full", width=5, d_width=5) == pytest.approx(0.02, rel=0.2)
    assert head_weight_std(head="field") > 0.05  # PyTorch's own init: sines that bend
