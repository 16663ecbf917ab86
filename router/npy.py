"""Read ``.npz`` archives without numpy and without pickle.

Why: numpy plus its bundled OpenBLAS is ~45 MB unzipped, more than the router's whole size budget
in the Lambda package, and serving needs only "gather some floats and add them up". So artifacts are
written by numpy (training) but read here with ``zipfile`` + the documented ``.npy`` header format
(https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html). Only plain little-endian
numeric dtypes in C order are accepted; object arrays (which would need pickle) are refused by
construction. Arrays are exposed as read-only flat ``memoryview``s; ``numpy.asarray(arr)`` works too
(``__array__``) for training/eval code.
"""
from __future__ import annotations

import ast
import zipfile
from dataclasses import dataclass
from typing import Any

_MAGIC = b"\x93NUMPY"
_FORMATS = {"<f4": "f", "<f8": "d", "<f2": "e", "<i4": "i", "<i8": "q", "<u1": "B", "|u1": "B", "|b1": "?",
            "<u4": "I", "<u8": "Q"}


@dataclass(frozen=True, eq=False)
class NpyArray:
    dtype: str
    shape: tuple[int, ...]
    flat: memoryview  # read-only, 1-D, typed (format per dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def row(self, i: int) -> memoryview:
        """Row ``i`` of a 2-D array as a zero-copy 1-D view."""
        if self.ndim != 2:
            raise ValueError("row() needs a 2-D array")
        n = self.shape[1]
        return self.flat[i * n:(i + 1) * n]

    def tolist(self) -> list[Any]:
        return self.flat.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None):  # numpy interop (training/eval only)
        import numpy as np

        a = np.frombuffer(self.flat, dtype=np.dtype(self.dtype)).reshape(self.shape)
        return a.astype(dtype) if dtype is not None else a


def parse_npy(raw: bytes, name: str = "array") -> NpyArray:
    if raw[:6] != _MAGIC:
        raise ValueError(f"{name}: not a .npy array")
    major = raw[6]
    if major == 1:
        hlen, start = int.from_bytes(raw[8:10], "little"), 10
    elif major in (2, 3):
        hlen, start = int.from_bytes(raw[8:12], "little"), 12
    else:
        raise ValueError(f"{name}: unsupported .npy version {major}")
    try:
        header = ast.literal_eval(raw[start:start + hlen].decode("latin1"))
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{name}: unreadable .npy header") from exc
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"{name}: unexpected .npy header")
    descr, shape = header["descr"], tuple(header["shape"])
    if not isinstance(descr, str) or descr not in _FORMATS:
        raise ValueError(f"{name}: dtype {descr!r} is not a plain numeric type (object arrays would need pickle)")
    if header["fortran_order"]:
        raise ValueError(f"{name}: Fortran-ordered arrays are not supported")
    fmt = _FORMATS[descr]
    body = memoryview(raw)[start + hlen:]
    n = 1
    for s in shape:
        n *= int(s)
    itemsize = int(descr[2:]) if descr[2:].isdigit() else 1
    if len(body) != n * itemsize:
        raise ValueError(f"{name}: data length {len(body)} does not match shape {shape}")
    flat = body.cast("B").cast(fmt).toreadonly()
    return NpyArray(descr, shape, flat)


def read_npz(path: str) -> dict[str, NpyArray]:
    out: dict[str, NpyArray] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or "/" in info.filename:
                raise ValueError(f"unexpected member {info.filename!r}")
            key = info.filename[:-4]
            out[key] = parse_npy(zf.read(info), key)
    return out
