"""Shared plumbing: device choice, autocast, seeding, atomic checkpoints, dataclass configs -> CLI.

Nothing here is from the paper; it is what every script needs.

    >>> from r1mini.common import get_device, atomic_save
    >>> get_device()            # cuda, then mps, then cpu
    device(type='cpu')
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import sys
import tempfile
import typing
from pathlib import Path

import numpy as np
import torch


class ConfigError(ValueError):
    """A bad config or a bad file: the message says what is wrong and how to fix it."""


# ----------------------------------------------------------------------------- device


def get_device(name: str | None = None) -> torch.device:
    """The device to use: `name` if given ("cuda", "mps", "cpu"), else cuda, then mps, then cpu."""
    if name and name != "auto":
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but torch sees no CUDA GPU")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): then bf16 matmuls are ~2x float32's."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def autocast(device: torch.device, precision: str = "auto"):
    """The mixed-precision context for a forward pass. "auto": bf16 autocast on a GPU, float32 on a CPU (exact,
    and faster for small decode steps); "bf16": bf16 also on a CPU that has native bf16 (else float32, quietly);
    "fp32": never. Weights, optimizer state and the loss stay float32 in every case."""
    check_precision(precision)
    if precision != "fp32" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if precision == "bf16" and device.type == "cpu" and cpu_has_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every RNG the training loop draws from, so that a resumed run replays exactly."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------- files


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_save(obj, path: str | Path) -> None:
    """torch.save, atomically (see atomic_write_bytes)."""
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location="cpu", keys=("model", "model_config"), what="an r1mini checkpoint") -> dict:
    """torch.load with a clear error for a missing or corrupt file, or one without the expected `keys`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated zip, not a torch file, ...
        raise ConfigError(f"checkpoint {str(path)!r} could not be read ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in keys):
        raise ConfigError(f"checkpoint {str(path)!r} is not {what} (it needs the keys {', '.join(keys)})")
    return ckpt


def write_json(obj, path: str | Path) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


# ----------------------------------------------------------------------------- configs -> CLI


def _parse_bool(s: str) -> bool:
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


def _field_parser(tp):
    """The argparse `type=` for a dataclass field type (int, float, str, bool, optional or tuple of them)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        inner = [a for a in args if a is not type(None)][0]
        base = _field_parser(inner)
        return lambda s: None if s.lower() == "none" else base(s)
    if origin is tuple:
        base = _field_parser(args[0])
        return lambda s: tuple(base(x) for x in s.split(",") if x)
    if tp is bool:
        return _parse_bool
    if tp in (int, float, str):
        return tp
    return str


def add_config_args(parser: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    """One `--name` flag per dataclass field; the default is None so that presets can fill it."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        help_text = f.metadata.get("help", "")
        parser.add_argument(
            f"--{prefix}{f.name}".replace("_", "-"),
            dest=f"{prefix}{f.name}",
            type=_field_parser(hints[f.name]),
            default=None,
            metavar=typing.get_origin(hints[f.name]) and "X" or hints[f.name].__name__.upper(),
            help=help_text,
        )


def config_from_args(base, args: argparse.Namespace, prefix: str = ""):
    """`base` (a preset) with every flag the user gave replaced."""
    changes = {}
    for f in dataclasses.fields(base):
        v = getattr(args, f"{prefix}{f.name}", None)
        if v is not None:
            changes[f.name] = v
    cfg = dataclasses.replace(base, **changes)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def pick_preset(presets: dict, name: str, what: str = "preset"):
    if name not in presets:
        raise ConfigError(f"unknown {what} {name!r}; choose one of: {', '.join(presets)}")
    return presets[name]


def cli_main(main):
    """Run `main()`, turning a ConfigError into one clear line on stderr and exit code 2."""
    try:
        return main()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
