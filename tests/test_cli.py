"""Every runnable module answers --help (exit 0, a usage line) without doing any work."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["r1mini.model", "r1mini.tokenizer", "r1mini.corpus", "r1mini.pretrain", "r1mini.evaluate", "r1mini.bench", "r1mini.export"]


@pytest.mark.parametrize("cmd", [["-m", m] for m in MODULES] + [[str(ROOT / "train_zero.py")]], ids=lambda c: c[-1].split("/")[-1])
def test_help(cmd):
    r = subprocess.run([sys.executable, *cmd, "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage:")
