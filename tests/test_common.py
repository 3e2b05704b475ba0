"""r1mini/engine/common.py: the precision switch (which dtype a matmul runs in under each setting, and bad values), and
dataclass configs -> CLI flags (help from the field comments, no flag for a nested config, --resume's overrides)."""

import argparse
import dataclasses

import pytest
import torch

from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    autocast,
    config_from_args,
    cpu_has_bf16,
    field_comments,
    key_hash,
    resume_overrides,
)
from r1mini.grpo import GRPOConfig
from r1mini.toy.pretrain import PretrainConfig

CPU = torch.device("cpu")


def matmul_dtype(precision: str) -> torch.dtype:
    a = torch.randn(4, 4)
    with autocast(CPU, precision):
        return (a @ a).dtype


def test_cpu_precision_settings():
    assert matmul_dtype("auto") == torch.float32  # a CPU stays exact unless asked
    assert matmul_dtype("fp32") == torch.float32
    # "bf16" on a CPU: bf16 only where the CPU multiplies it natively, else float32 (never slow emulation)
    assert matmul_dtype("bf16") == (torch.bfloat16 if cpu_has_bf16() else torch.float32)
    x = torch.randn(3, 3, dtype=torch.float64)
    with autocast(CPU, "bf16"):
        assert (x @ x).dtype == torch.float64  # float64 tensors (the tests' reference models) are never cast


def test_bad_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="precision"):
        autocast(CPU, "fp16")
    with pytest.raises(ConfigError, match="precision"):
        PretrainConfig(precision="half").validate()
    with pytest.raises(ConfigError, match="precision"):
        GRPOConfig(precision="bf32").validate()


# ----------------------------------------------------------------------------- dataclass configs -> CLI


@dataclasses.dataclass
class Inner:
    depth: int = 2  # how deep


@dataclasses.dataclass
class Toy:
    steps: int = 10  # RL steps
    tag: str = "a # b"  # the tag; a '#' in a string is not a comment
    # a comment on a line of its own belongs to no field
    lr: float = 0.1
    share: float = dataclasses.field(default=0.5, metadata={"help": "from metadata"})
    pct: int = dataclasses.field(
        default=5,
    )  # 45% of it (argparse %-formats help)
    inner: Inner = dataclasses.field(default_factory=Inner)  # nested: no flag

    def validate(self) -> None:  # a method's comment is not a field's
        pass


def test_field_comments_hand_written():
    assert field_comments(Toy) == {  # written by hand from the class above
        "steps": "RL steps",
        "tag": "the tag; a '#' in a string is not a comment",
        "pct": "45% of it (argparse %-formats help)",
        "inner": "nested: no flag",
    }


def test_config_flags_help_and_nested_config():
    p = argparse.ArgumentParser()
    add_config_args(p, Toy)
    helps = {a.dest: a.help for a in p._actions if a.dest != "help"}
    assert set(helps) == {"steps", "tag", "lr", "share", "pct"}  # no --inner
    assert helps["steps"] == "RL steps (default: from the preset)"
    assert helps["share"] == "from metadata (default: from the preset)"
    assert helps["lr"] == "(default: from the preset)"  # no comment: still says where the value comes from
    assert "45% of it" in p.format_help()  # a "%" in a comment does not break --help
    with pytest.raises(SystemExit):
        p.parse_args(["--inner", "x"])
    cfg = config_from_args(Toy(), p.parse_args(["--steps", "3", "--tag", "z"]))
    assert (cfg.steps, cfg.tag, cfg.lr, cfg.inner) == (3, "z", 0.1, Inner())


def test_resume_overrides():
    p = argparse.ArgumentParser()
    p.add_argument("--resume")
    p.add_argument("--out")
    add_config_args(p, Toy)
    assert resume_overrides(p.parse_args(["--resume", "r"])) == {}
    assert resume_overrides(p.parse_args(["--resume", "r", "--steps", "7"])) == {"steps": 7}
    for argv, flags in [
        (["--lr", "0.3"], "--lr"),
        (["--steps", "7", "--tag", "x", "--lr", "1"], "--tag, --lr"),
        (["--out", "o"], "--out"),
    ]:
        with pytest.raises(ConfigError) as e:
            resume_overrides(p.parse_args(["--resume", "r", *argv]), allowed=("steps",), others=("out",))
        assert str(e.value) == f"--resume continues a run with its saved config; only --steps may change (got {flags})"


def test_command_line_names_the_script_that_was_run(monkeypatch):
    """A report's command is the script the user ran with its flags (train_r1.py also when train_zero's code
    writes it)."""
    from r1mini.engine.common import command_line

    monkeypatch.setattr("sys.argv", ["/work/r1mini/train_r1.py", "--out", "runs/r1", "--seed", "1"])
    assert command_line() == "python train_r1.py --out runs/r1 --seed 1"
    monkeypatch.setattr("sys.argv", ["distill.py"])
    assert command_line() == "python distill.py"


def test_key_hash_names_a_key_by_its_sorted_json():
    """The cache name of a key: the first 8 hex digits of sha256 over the key written as sorted JSON, here typed
    out by hand; the order the key was built in does not matter, a value that JSON lacks counts as its str."""
    import hashlib
    from pathlib import Path

    want = hashlib.sha256(b'{"a": 1, "b": "runs/base"}').hexdigest()[:8]
    assert key_hash({"b": Path("runs/base"), "a": 1}) == key_hash({"a": 1, "b": "runs/base"}) == want
    assert key_hash({"a": 2, "b": "runs/base"}) != want
