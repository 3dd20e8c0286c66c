"""Read a StyleGAN network pickle without running anything from it.

NVIDIA's loader unpickles with Python's full machinery: every persistent class carries the
source of its module and `exec`s it. Here a restricted unpickler maps each global the file
names to a function of ours, from an explicit allow-list; anything else stops the read with
RefusedPickle naming the global. What comes out is plain data:

- a persistent object (torch_utils.persistence) becomes an inert PersistentRecord of its class
  name and state; its module source is kept as a string, never compiled or executed;
- a tensor storage (pickled as a torch.save blob) goes through torch.load(weights_only=True);
- numpy dtypes, scalars and arrays (numpy.core for numpy 1, numpy._core for numpy 2) are
  rebuilt from their bytes for a short list of plain numeric dtypes;
- dnnlib's EasyDict becomes a dict, OrderedDict stays one; protocol 2's latin1 bytes decode.
"""

from __future__ import annotations

import collections
import io
import pickle
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


class RefusedPickle(Exception):
    """The file is not a network pickle we will read; the message says what was found."""


# Tokens that a genuine network module has no use for; a persistent object whose embedded
# source contains one is refused outright (we would never run it, but nor do we keep it).
SUSPICIOUS_SOURCE = (
    "os.system",
    "subprocess",
    "open(",
    "exec(",
    "eval(",
    "__import__",
    "socket",
    "shutil",
    "os.remove",
    "os.popen",
    "urllib",
    "builtins",
    "pathlib",
)

NUMERIC_DTYPES = {
    "b1",
    "i1",
    "i2",
    "i4",
    "i8",
    "u1",
    "u2",
    "u4",
    "u8",
    "f2",
    "f4",
    "f8",
    "c8",
    "c16",
}
MAX_STORAGE_BYTES = 2 * 1024**3


@dataclass
class PersistentRecord:
    """What a persistent object would have been, as data: class name and instance state."""

    class_name: str
    state: Any
    source_chars: int = 0  # how much module source the file carried (kept, never run)

    def module_state(self) -> dict:
        return self.state if isinstance(self.state, dict) else {}


class EasyDict(dict):
    """dnnlib.util.EasyDict as plain data."""


class _DtypeBuilder:
    """numpy.dtype(code, align, copy) then BUILD(state): becomes a real numeric dtype."""

    def __init__(self, code: object, align: object = False, copy: object = True) -> None:
        if not isinstance(code, str) or code.lstrip("<>|=") not in NUMERIC_DTYPES:
            raise RefusedPickle(f"numpy dtype {code!r} is not a plain numeric type")
        self.code = code
        self.order = "="

    def __setstate__(self, state: object) -> None:
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            self.order = state[1]

    def dtype(self) -> np.dtype:
        order = "" if self.order in ("|", "=") else self.order
        return np.dtype(order + self.code)


def _as_dtype(obj: object) -> np.dtype:
    if isinstance(obj, _DtypeBuilder):
        return obj.dtype()
    raise RefusedPickle(f"expected a numpy dtype, found {type(obj).__name__}")


class _NdarrayMarker:
    """Stands for numpy.ndarray as the first argument of _reconstruct."""


class _ArrayBuilder:
    """numpy's _reconstruct(ndarray, shape, b'b') then BUILD(version, shape, dtype, fortran, raw)."""

    def __init__(self, cls: object, shape: object, typecode: object) -> None:
        if cls is not _NdarrayMarker:
            raise RefusedPickle("numpy _reconstruct of something other than ndarray")
        self.array: np.ndarray | None = None

    def __setstate__(self, state: object) -> None:
        if not (isinstance(state, tuple) and len(state) == 5):
            raise RefusedPickle("numpy array with an unexpected pickled state")
        _, shape, dtype, fortran, raw = state
        dt = _as_dtype(dtype)
        if not isinstance(raw, (bytes, bytearray)) or not all(
            isinstance(s, int) and s >= 0 for s in shape
        ):
            raise RefusedPickle("numpy array whose data is not raw bytes")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dt.itemsize != len(raw):
            raise RefusedPickle(f"numpy array of shape {tuple(shape)} with {len(raw)} data bytes")
        self.array = (
            np.frombuffer(bytes(raw), dtype=dt).reshape(shape, order="F" if fortran else "C").copy()
        )


def _scalar(dtype: object, raw: object) -> Any:
    dt = _as_dtype(dtype)
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != dt.itemsize:
        raise RefusedPickle("numpy scalar whose data is not raw bytes of its size")
    return np.frombuffer(bytes(raw), dtype=dt)[0].item()


def _latin1(text: object, encoding: object = "latin1") -> bytes:
    """Protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1'); nothing else is allowed."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle("the pickle calls _codecs.encode with something other than latin1 text")
    return text.encode("latin1")


def _persistent(meta: object) -> PersistentRecord:
    if (
        not isinstance(meta, dict)
        or meta.get("type") != "class"
        or not isinstance(meta.get("class_name"), str)
    ):
        raise RefusedPickle("a persistent object without the metadata of a persistent class")
    source = meta.get("module_src")
    if not isinstance(source, str):
        raise RefusedPickle(f"persistent object {meta['class_name']!r} has no module source string")
    found = [token for token in SUSPICIOUS_SOURCE if token in source]
    if found:
        raise RefusedPickle(
            f"persistent object {meta['class_name']!r} carries module source that would call "
            f"{', '.join(found)} if run: not a genuine network snapshot (nothing was run)"
        )
    return PersistentRecord(meta["class_name"], meta.get("state"), len(source))


class _Limits:
    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes


def _storage_loader(limits: _Limits):
    def load_from_bytes(blob: object) -> Any:
        if not isinstance(blob, (bytes, bytearray)):
            raise RefusedPickle("a tensor storage that is not a byte blob")
        limits.left -= len(blob)
        if limits.left < 0:
            raise RefusedPickle("tensor storages add up to more than the import cap")
        try:
            storage = torch.load(io.BytesIO(bytes(blob)), weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            raise RefusedPickle(
                f"a tensor storage blob holds more than tensor data ({weights_only_reason(exc)})"
            ) from None
        except Exception as exc:
            raise RefusedPickle(
                f"a tensor storage blob is not readable ({type(exc).__name__}: {exc})"
            ) from None
        if not isinstance(storage, torch.storage.TypedStorage):
            raise RefusedPickle(
                f"a tensor storage blob holds a {type(storage).__name__}, not a storage"
            )
        return storage

    return load_from_bytes


def weights_only_reason(exc: Exception) -> str:
    """The part of torch's weights-only refusal that names what was found (its full message
    goes on to suggest weights_only=False, which is exactly what must not be done)."""
    text = str(exc)
    found = re.search(r"(?:[Uu]nsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text)
    if found:
        return f"it names {found.group(1)}"
    found = re.search(r"[Uu]nsupported operand[^\n.]*", text)
    return found.group(0) if found else "torch's weights-only loader refused it"


def _rebuild_tensor(
    storage: object, offset: object, size: object, stride: object, *rest: object
) -> torch.Tensor:
    if not isinstance(storage, torch.storage.TypedStorage):
        raise RefusedPickle("a tensor built from something other than a storage")
    if not (isinstance(offset, int) and isinstance(size, tuple) and isinstance(stride, tuple)):
        raise RefusedPickle("a tensor with a malformed size or stride")
    if not all(isinstance(v, int) and v >= 0 for v in (*size, *stride)) or len(size) != len(stride):
        raise RefusedPickle("a tensor with a malformed size or stride")
    untyped = storage._untyped_storage  # the public accessors warn that TypedStorage is deprecated
    t = torch.empty(0, dtype=storage.dtype)
    numel = untyped.nbytes() // t.element_size()
    extent = (
        offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) + 1
        if all(size)
        else 0
    )
    if offset < 0 or extent > numel:
        raise RefusedPickle(f"a tensor of size {size} reaches past its storage of {numel} elements")
    t.set_(untyped, offset, size, stride)
    return t


def _rebuild_parameter(
    data: object, requires_grad: object = False, hooks: object = None
) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise RefusedPickle("a parameter built from something other than a tensor")
    return data


def _allowed(limits: _Limits) -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("dnnlib.util", "EasyDict"): EasyDict,
        ("dnnlib", "EasyDict"): EasyDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _storage_loader(limits),
        ("numpy", "ndarray"): _NdarrayMarker,
        ("numpy", "dtype"): _DtypeBuilder,
        ("_codecs", "encode"): _latin1,
    }
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(core, "_reconstruct")] = _ArrayBuilder
        allowed[(core, "scalar")] = _scalar
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, limits: _Limits) -> None:
        super().__init__(file)
        self._allowed = _allowed(limits)

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("dnnlib.tflib") or module.startswith("tensorflow"):
            raise RefusedPickle(
                f"this is a TensorFlow-era StyleGAN pickle (it names {module}.{name}); convert it to a "
                "PyTorch snapshot first with legacy.py from NVIDIA's stylegan2-ada-pytorch or stylegan3, "
                "on a machine you trust, e.g. `python legacy.py --source=old.pkl --dest=new.pkl`"
            )
        found = self._allowed.get((module, name))
        if found is None:
            raise RefusedPickle(
                f"the pickle calls {module}.{name}, which is not on the allow-list of a network snapshot"
            )
        return found

    def persistent_load(self, pid: object) -> Any:
        raise RefusedPickle("the pickle uses persistent ids, which a network snapshot does not")


def resolve(obj: Any, depth: int = 0) -> Any:
    """Replace numpy builders by their arrays and dtypes, all the way down."""
    if depth > 200:
        raise RefusedPickle("the pickle nests deeper than any network snapshot")
    if isinstance(obj, _ArrayBuilder):
        if obj.array is None:
            raise RefusedPickle("a numpy array without data")
        return obj.array
    if isinstance(obj, _DtypeBuilder):
        return obj.dtype()
    if isinstance(obj, PersistentRecord):
        obj.state = resolve(obj.state, depth + 1)
        return obj
    if isinstance(obj, dict):
        for k in list(obj):
            obj[k] = resolve(obj[k], depth + 1)
        return obj
    if isinstance(obj, list):
        return [resolve(v, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(resolve(v, depth + 1) for v in obj)
    return obj


def read_network_pickle(data: bytes, max_tensor_bytes: int = MAX_STORAGE_BYTES) -> Any:
    """Unpickle `data` with the allow-list; returns plain data and PersistentRecords."""
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), _Limits(max_tensor_bytes)).load()
    except RefusedPickle:
        raise
    except RecursionError:
        raise RefusedPickle("the pickle nests deeper than any network snapshot") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        MemoryError,
        OverflowError,
        UnicodeDecodeError,
    ) as exc:
        raise RefusedPickle(
            f"the file is truncated or not a pickle ({type(exc).__name__}: {exc})"
        ) from None
    return resolve(obj)
