"""Shared plumbing: device choice, autocast, seeding, atomic checkpoints, dataclass configs -> CLI.

Nothing here is from the paper; it is what every script needs.

    >>> from r1mini.engine.common import get_device, atomic_save
    >>> get_device()            # cuda, then mps, then cpu
    device(type='cpu')
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import os
import random
import sys
import tempfile
import textwrap
import tokenize
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


def peak_rss_mb() -> float | None:
    """The most resident memory this process has held so far, in MiB (None where the OS does not say: Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def key_hash(key: dict) -> str:
    """8 hex digits naming a cache entry: sha256 of the key as sorted JSON (anything JSON lacks as its str).
    The cached bases (pretrain.run_hash) and the cached R1-Zero policies (train_r1.zero_cache_dir) are named so."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]


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


def load_checkpoint(
    path: str | Path, map_location="cpu", keys=("model", "model_config"), what="an r1mini checkpoint"
) -> dict:
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


def field_comments(cls) -> dict[str, str]:
    """{field name: its trailing `# comment`} for a dataclass and its bases, read from the class source with
    tokenize (a `#` inside a string default is not a comment). {} when the source is not available."""
    out: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
        try:
            src = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        depth, line, comment = 0, [], None  # the significant tokens and the last comment of a logical line
        for t in tokenize.generate_tokens(io.StringIO(src).readline):
            if t.type == tokenize.INDENT:
                depth += 1
            elif t.type == tokenize.DEDENT:
                depth -= 1
            elif t.type == tokenize.COMMENT:
                comment = t.string.lstrip("#").strip()
            elif t.type == tokenize.NEWLINE:  # `name: type [= default]  # comment` in the class body
                if (
                    depth == 1
                    and comment
                    and len(line) >= 2
                    and line[0].type == tokenize.NAME
                    and line[1].string == ":"
                ):
                    out[line[0].string] = comment
                line, comment = [], None
            elif t.type == tokenize.NL:
                if not line:  # a comment on a line of its own belongs to no field
                    comment = None
            else:
                line.append(t)
    return out


def _metavar(tp) -> str:
    """The type a flag takes, as --help shows it: INT, FLOAT, STR, BOOL, INT|none, INT,INT,..."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        return f"{_metavar(args[0])},{_metavar(args[0])},..."
    if args and type(None) in args:
        return _metavar([a for a in args if a is not type(None)][0]) + "|none"
    return getattr(tp, "__name__", "X").upper()


def add_plan_args(p: argparse.ArgumentParser) -> None:
    """--estimate and --dry-run, the same on every script (they hand their config to r1mini/tools/plans.py)."""
    p.add_argument(
        "--estimate",
        action="store_true",
        help="print the cost model's minutes per phase on an H100 and on this CPU "
        "(calibrated, ~10 s; r1mini/tools/cost.py) and exit",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="run every phase for a step at full size on this device, print the "
        "measured s/step and projected total beside the cost model's, fail early on lengths or memory; writes nothing",
    )


def add_config_args(parser: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    """One `--name` flag per dataclass field; the default is None so that presets can fill it.

    The help text is the field's trailing `# comment` (else its metadata["help"]) and "default: from the
    preset"; the metavar is the field's type. A field that is itself a dataclass (ZeroConfig.grpo) gets no flag:
    its own fields are added by a separate call, and `--grpo x` is then argparse's one-line "unrecognized
    arguments" error.
    The flags' destinations are remembered in the namespace (`_config_dests`) for `resume_overrides`."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    dests = list(parser.get_default("_config_dests") or [])
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or dataclasses.is_dataclass(hints[f.name]):
            continue
        text = comments.get(f.name) or f.metadata.get("help", "")
        help_text = (f"{text} " if text else "") + "(default: from the preset)"
        parser.add_argument(
            f"--{prefix}{f.name}".replace("_", "-"),
            dest=f"{prefix}{f.name}",
            type=_field_parser(hints[f.name]),
            default=None,
            metavar=_metavar(hints[f.name]),
            help=help_text.replace("%", "%%"),  # argparse %-formats help strings
        )
        dests.append(f"{prefix}{f.name}")
    parser.set_defaults(_config_dests=dests)


def config_from_args(base, args: argparse.Namespace, prefix: str = ""):
    """`base` (a preset) with every flag the user gave replaced."""
    changes = {}
    for f in dataclasses.fields(base):
        v = getattr(args, f"{prefix}{f.name}", None)
        if v is not None and not dataclasses.is_dataclass(v):
            changes[f.name] = v
    cfg = dataclasses.replace(base, **changes)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def given_config_flags(args: argparse.Namespace, others=()) -> list[str]:
    """The destinations of the config flags (add_config_args) and of `others` that the command line gave."""
    return [d for d in getattr(args, "_config_dests", []) + list(others) if getattr(args, d, None) is not None]


def resume_overrides(args: argparse.Namespace, allowed=("steps",), others=()) -> dict:
    """With `--resume`: {dest: value} of the config flags given that may change a saved run (`allowed`);
    any other config flag given (or any of `others`, e.g. "preset", "out") raises ConfigError, one line.

    >>> p = argparse.ArgumentParser(); _ = p.add_argument("--resume")
    >>> @dataclasses.dataclass
    ... class C:
    ...     steps: int = 1  # RL steps
    ...     lr: float = 0.1  # learning rate
    >>> add_config_args(p, C)
    >>> resume_overrides(p.parse_args(["--resume", "r", "--steps", "9"]))
    {'steps': 9}
    >>> resume_overrides(p.parse_args(["--resume", "r", "--lr", "1"]))
    Traceback (most recent call last):
    r1mini.engine.common.ConfigError: --resume continues a run with its saved config; only --steps may change (got --lr)
    """
    given = given_config_flags(args, others)
    refused = [d for d in given if d not in allowed]
    if refused:
        flags = ", ".join("--" + d.replace("_", "-") for d in refused)
        may = " and ".join("--" + a.replace("_", "-") for a in allowed) or "no flag"
        raise ConfigError(f"--resume continues a run with its saved config; only {may} may change (got {flags})")
    return {d: getattr(args, d) for d in given}


def pick_preset(presets: dict, name: str, what: str = "preset"):
    if name not in presets:
        raise ConfigError(f"unknown {what} {name!r}; choose one of: {', '.join(presets)}")
    return presets[name]


def command_line() -> str:
    """The command this process runs, for a report: "python train_r1.py --out runs/r1" (the script that was run,
    also when another script's code writes the report: train_r1.py runs train_zero.py's train)."""
    return " ".join(["python", Path(sys.argv[0]).name, *sys.argv[1:]])


def cli_main(main):
    """Run `main()`, turning a ConfigError into one clear line on stderr and exit code 2."""
    try:
        return main()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
