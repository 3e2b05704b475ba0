"""Every runnable module answers --help (exit 0, a usage line) without doing any work, and every flag in it has
help text; train_zero.py's CLI: no flag for the nested GRPO config, and --resume with other flags (only --steps
may change: it extends the run, the same steps as a run started with that count)."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from r1mini.engine.common import ConfigError, field_comments

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "r1mini.engine.model",
    "r1mini.engine.tokenizer",
    "r1mini.toy.corpus",
    "r1mini.toy.pretrain",
    "r1mini.evaluate",
    "r1mini.tools.bench",
    "r1mini.tools.export",
    "r1mini.tools.walkthrough",
]
TIMING = {"tokens_per_s", "sample_s", "train_s"}


def help_entries(text: str) -> dict[str, str]:
    """{"--flag": its help text} from argparse's --help output (help on the flag's line or the lines under it)."""
    entries, current = {}, None
    for line in text.split("\n"):
        if re.match(r"^  -", line):
            invocation, _, rest = line.strip().partition("  ")
            current = invocation.split()[0].rstrip(",")
            entries[current] = rest.strip()
        elif current and line.startswith("    ") and line.strip():
            entries[current] = (entries[current] + " " + line.strip()).strip()
        elif not line.strip() or not line.startswith(" "):
            current = None
    return entries


SCRIPTS = ["train_zero.py", "train_r1.py", "distill.py"]


@pytest.mark.parametrize(
    "cmd", [["-m", m] for m in MODULES] + [[str(ROOT / s)] for s in SCRIPTS], ids=lambda c: c[-1].split("/")[-1]
)
def test_help(cmd):
    r = subprocess.run([sys.executable, *cmd, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage:")
    entries = help_entries(r.stdout)
    assert "-h" in entries and len(entries) > 1
    # help that says what the flag does, not only where its default comes from
    assert not [flag for flag, text in entries.items() if not text.replace("(default: from the preset)", "").strip()]


def test_train_zero_and_evaluate_flags_say_what_they_do():
    """The config classes of train_zero.py and evaluate.py: a trailing comment on every field (the flag's help)."""
    import train_zero
    from r1mini.evaluate import EvalConfig
    from r1mini.grpo import GRPOConfig

    for cls in (train_zero.ZeroConfig, GRPOConfig, EvalConfig):
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in field_comments(cls)]
        assert not missing, (cls.__name__, missing)
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_zero.py"), "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    entries = help_entries(r.stdout)
    assert entries["--mu"] == "inner updates per batch (default: from the preset)"
    assert "--grpo" not in entries


def one_line_error(r) -> str:
    """The error argparse or cli_main printed: the last line of stderr, and no traceback."""
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    return r.stderr.strip().split("\n")[-1]


def test_nested_config_is_not_a_flag():
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_zero.py"), "--grpo", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert one_line_error(r) == "train_zero.py: error: unrecognized arguments: --grpo x"


def test_resume_refuses_other_config_flags(tmp_path):
    for extra, flags in [
        (["--lr", "0.1"], "--lr"),
        (["--steps", "9", "--beta", "0.1"], "--beta"),
        (["--preset", "smoke"], "--preset"),
    ]:
        r = subprocess.run(
            [sys.executable, str(ROOT / "train_zero.py"), "--resume", str(tmp_path), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert (
            r.stderr.strip()
            == f"error: --resume continues a run with its saved config; only --steps may change (got {flags})"
        )
        assert one_line_error(r)


@pytest.fixture()
def fake_smoke_base(tmp_path):
    """A seeded untrained nano model where the smoke preset's cached base would be (no pretraining: fast)."""
    import torch

    from r1mini.engine.common import atomic_save
    from r1mini.engine.model import ModelConfig, Transformer, model_state
    from r1mini.toy.pretrain import PRETRAIN_PRESETS, base_dir
    from r1mini.engine.tokenizer import get_tokenizer

    root = tmp_path / "base"
    torch.manual_seed(0)
    model = Transformer(ModelConfig.preset("nano", vocab_size=get_tokenizer().vocab_size))
    atomic_save(
        model_state(model),
        base_dir(dataclasses.replace(PRETRAIN_PRESETS["smoke"], out_root=str(root)), "smoke") / "model.pt",
    )
    return root


def test_resume_with_steps_extends_the_run(tmp_path, fake_smoke_base, monkeypatch):
    """A 2-step run resumed with --steps 3 ends with the same 3 metrics lines as a run started with --steps 3."""
    import train_zero

    small = [
        "--preset",
        "smoke",
        "--base-root",
        str(fake_smoke_base),
        "--questions",
        "2",
        "--G",
        "2",
        "--max-new-tokens",
        "8",
        "--final-n",
        "2",
        "--final-k",
        "1",
        "--eval-every",
        "0",
        "--ckpt-every",
        "1",
        "--beta",
        "0.04",
    ]

    def run(*argv):
        monkeypatch.setattr(sys, "argv", ["train_zero.py", *argv])
        train_zero.main()

    def metrics(run_dir):
        return [
            {k: v for k, v in json.loads(x).items() if k not in TIMING}
            for x in (run_dir / "metrics.jsonl").read_text().splitlines()
        ]

    run(*small, "--steps", "3", "--out", str(tmp_path / "whole"))
    run(*small, "--steps", "2", "--out", str(tmp_path / "ext"))
    assert len(metrics(tmp_path / "ext")) == 2
    run("--resume", str(tmp_path / "ext"), "--steps", "3")
    assert json.loads((tmp_path / "ext" / "config.json").read_text())["grpo"]["steps"] == 3
    assert [m["step"] for m in metrics(tmp_path / "ext")] == [1, 2, 3]
    assert metrics(tmp_path / "ext") == metrics(tmp_path / "whole")
    with pytest.raises(ConfigError, match="has done 3 steps; --steps must be at least that, got 1"):
        run("--resume", str(tmp_path / "ext"), "--steps", "1")
    assert json.loads((tmp_path / "ext" / "config.json").read_text())["grpo"]["steps"] == 3  # left as it was
