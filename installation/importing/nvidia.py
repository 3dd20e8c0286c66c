"""StyleGAN2-ADA and StyleGAN3 network snapshots (NVIDIA's `.pkl`) as plain data.

The snapshot is a dict {G, D, G_ema, augment_pipe, training_set_kwargs}; G_ema (the
weight-averaged generator everyone plays) is preferred, G is the fallback, the rest is
ignored. The generator's recorded init kwargs are checked against a schema (unknown keys and
unsupported variants are refused by name) and turned into the package's own config.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from installation.importing.safe_pickle import PersistentRecord, RefusedPickle


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class MappingKwargs(_Strict):
    num_layers: int = Field(8, ge=1, le=16)
    embed_features: int | None = None
    layer_features: int | None = None
    activation: Literal["lrelu"] = "lrelu"
    lr_multiplier: float = Field(0.01, gt=0, le=1)
    w_avg_beta: float | None = 0.998


class _GeneratorKwargs(_Strict):
    z_dim: int = Field(ge=1, le=4096)
    c_dim: Literal[0] = 0  # conditional (class-label) generators are not played yet
    w_dim: int = Field(ge=1, le=4096)
    img_resolution: int = Field(ge=4, le=2048)
    img_channels: Literal[1, 3, 4] = 3
    mapping_kwargs: MappingKwargs = Field(default_factory=MappingKwargs)
    channel_base: int = Field(32768, ge=1, le=2**21)
    channel_max: int = Field(512, ge=1, le=4096)
    num_fp16_res: int = Field(4, ge=0, le=16)  # speed only: fp16 is chosen per device here
    conv_clamp: float | None = Field(256, gt=0)


class StyleGAN2Kwargs(_GeneratorKwargs):
    architecture: Literal["skip"] = "skip"
    resample_filter: list[float] = Field(default_factory=lambda: [1, 3, 3, 1])
    use_noise: Literal[True] = True
    activation: Literal["lrelu"] = "lrelu"
    fp16_channels_last: bool = False
    fused_modconv_default: bool | Literal["inference_only"] = True
    kernel_size: Literal[3] = 3


class StyleGAN3Kwargs(_GeneratorKwargs):
    num_layers: int = Field(14, ge=3, le=32)
    num_critical: int = Field(2, ge=0, le=31)
    first_cutoff: float = Field(2, gt=0)
    first_stopband: float = Field(2**2.1, gt=0)
    last_stopband_rel: float = Field(2**0.3, gt=0)
    margin_size: int = Field(10, ge=0, le=64)
    output_scale: float = 0.25
    conv_kernel: Literal[1, 3] = 3
    filter_size: int = Field(6, ge=1, le=16)
    lrelu_upsampling: Literal[1, 2, 4] = 2
    use_radial_filters: bool = False
    magnitude_ema_beta: float = Field(0.999, ge=0, le=1)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    value = err.get("input")
    shown = f" (found {value!r})" if not isinstance(value, dict) and len(repr(value)) < 60 else ""
    return f"{where}: {err['msg']}{shown}"


def pick_generator(snapshot: Any) -> tuple[str, PersistentRecord]:
    """G_ema if present, else G; refuses anything that does not hold a generator."""
    if not isinstance(snapshot, dict):
        raise RefusedPickle(
            f"the pickle holds a {type(snapshot).__name__}, not a network snapshot dict"
        )
    for key in ("G_ema", "G"):
        value = snapshot.get(key)
        if isinstance(value, PersistentRecord) and value.class_name == "Generator":
            return key, value
    keys = ", ".join(sorted(map(str, snapshot))) or "nothing"
    raise RefusedPickle(f"the pickle holds no generator (no G_ema or G Generator; it has {keys})")


def _child(record: PersistentRecord, name: str) -> Any:
    return record.module_state().get("_modules", {}).get(name)


def _kwargs(record: PersistentRecord) -> dict[str, Any]:
    state = record.module_state()
    kwargs = state.get("_init_kwargs")
    args = state.get("_init_args") or ()
    if not isinstance(kwargs, dict):
        raise RefusedPickle("the generator records no init kwargs")
    kwargs = dict(kwargs)
    for name, value in zip(
        ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"), args, strict=False
    ):
        kwargs.setdefault(name, value)
    # StyleGAN2-ADA nests the synthesis kwargs; the stylegan3 repository flattens them.
    nested = kwargs.pop("synthesis_kwargs", None) or {}
    if not isinstance(nested, dict):
        raise RefusedPickle("the generator's synthesis_kwargs is not a mapping")
    return {**kwargs, **nested}


def generator_config(record: PersistentRecord) -> tuple[str, dict[str, Any]]:
    """(architecture, package config) from the generator's init kwargs, schema-checked."""
    synthesis = _child(record, "synthesis")
    if not isinstance(synthesis, PersistentRecord):
        raise RefusedPickle("the generator has no synthesis network")
    return config_from_kwargs(
        _kwargs(record), sg3=isinstance(_child(synthesis, "input"), PersistentRecord)
    )


def config_from_kwargs(kwargs: dict[str, Any], *, sg3: bool) -> tuple[str, dict[str, Any]]:
    """NVIDIA Generator init kwargs -> (architecture, package config); refuses what the schema does not allow."""
    schema = StyleGAN3Kwargs if sg3 else StyleGAN2Kwargs
    try:
        k = schema.model_validate(kwargs)
    except ValidationError as exc:
        raise RefusedPickle(
            f"generator config outside the {'StyleGAN3' if sg3 else 'StyleGAN2'} schema: "
            f"{_first_error(exc)}"
        ) from None
    res = k.img_resolution
    if res & (res - 1):
        raise RefusedPickle(
            f"generator config outside the schema: img_resolution {res} is not a power of two"
        )
    common = dict(
        z_dim=k.z_dim,
        w_dim=k.w_dim,
        resolution=res,
        channels=k.img_channels,
        channel_base=k.channel_base,
        channel_max=k.channel_max,
        mapping_layers=k.mapping_kwargs.num_layers,
        mapping_lr=k.mapping_kwargs.lr_multiplier,
        conv_clamp=None if k.conv_clamp is None else float(k.conv_clamp),
    )
    m = k.mapping_kwargs
    if m.layer_features not in (None, k.w_dim) or (
        m.embed_features not in (None, k.w_dim) and k.c_dim
    ):
        raise RefusedPickle(
            "generator config outside the schema: mapping layer_features must equal w_dim"
        )
    if not sg3:
        if [float(v) for v in k.resample_filter] != [1.0, 3.0, 3.0, 1.0]:
            raise RefusedPickle(
                f"generator config outside the schema: resample_filter {k.resample_filter}"
            )
        return "stylegan2", common
    assert isinstance(k, StyleGAN3Kwargs)
    if k.num_critical >= k.num_layers:
        raise RefusedPickle("generator config outside the schema: num_critical >= num_layers")
    arch = "stylegan3-r" if k.use_radial_filters or k.conv_kernel == 1 else "stylegan3-t"
    return arch, {
        **common,
        "num_layers": k.num_layers,
        "num_critical": k.num_critical,
        "first_cutoff": k.first_cutoff,
        "first_stopband": k.first_stopband,
        "last_stopband_rel": k.last_stopband_rel,
        "margin_size": k.margin_size,
        "output_scale": k.output_scale,
        "conv_kernel": k.conv_kernel,
        "filter_size": k.filter_size,
        "lrelu_upsampling": k.lrelu_upsampling,
        "radial_filters": k.use_radial_filters,
    }


def collect_tensors(
    record: PersistentRecord, prefix: str = "", depth: int = 0
) -> dict[str, torch.Tensor]:
    """A module record's parameters and persistent buffers, named as a state dict would."""
    if depth > 16:
        raise RefusedPickle("the generator nests deeper than a StyleGAN generator")
    state = record.module_state()
    out: dict[str, torch.Tensor] = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise RefusedPickle(f"generator tensor {prefix}{name} is a {type(value).__name__}")
            out[f"{prefix}{name}"] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise RefusedPickle(f"generator submodule {prefix}{name} is not a network module")
        out.update(collect_tensors(child, f"{prefix}{name}.", depth + 1))
    return out


# Fixed filters the package computes from the config itself; the file's copies are compared
# with ours and then dropped (a mismatch means a variant we would not reproduce).
DERIVED_SUFFIXES = (".resample_filter", ".up_filter", ".down_filter")


def split_derived(
    tensors: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    kept = {k: v for k, v in tensors.items() if not k.endswith(DERIVED_SUFFIXES)}
    derived = {k: v for k, v in tensors.items() if k.endswith(DERIVED_SUFFIXES)}
    return kept, derived


def element_count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(math.prod(s) for s in shapes.values())
