"""Shared test helpers. `ast_eval` is the tests' own arithmetic: Python's parser plus exact Fractions,
independent of r1mini's expression code (r1mini.toy.tasks.parse_expr / evaluate) that it checks."""

import ast
import operator
from fractions import Fraction

OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def ast_eval(text: str) -> Fraction:
    """Exact value of + - * / integer arithmetic, by Python's own parser (our generated text only)."""

    def walk(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"not arithmetic: {ast.dump(node)}")

    return walk(ast.parse(text, mode="eval").body)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def smoke_base_root(tmp_path_factory):
    """A folder holding the smoke base model, pretrained once per pytest run (~20 s on 2 cores) and shared by
    the end-to-end tests of train_zero.py and train_r1.py."""
    from r1mini.toy.pretrain import ensure_base

    root = tmp_path_factory.mktemp("base")
    ensure_base("smoke", quiet=True, out_root=str(root))
    return root


@pytest.fixture(scope="session")
def smoke_r1_run(tmp_path_factory, smoke_base_root):
    """One `python train_r1.py --preset smoke` run per pytest run (~30 s on 2 cores), shared by the tests of
    train_r1.py (each stage did its job) and distill.py (its teacher). Returns (run folder, --json summary)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("r1")
    cmd = [
        sys.executable,
        str(root / "train_r1.py"),
        "--preset",
        "smoke",
        "--base-root",
        str(smoke_base_root),
        "--out",
        str(out / "run"),
        "--json",
        str(out / "summary.json"),
    ]
    r = subprocess.run(
        cmd, env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True, text=True, timeout=900, cwd=root
    )
    assert r.returncode == 0, r.stderr[-4000:]
    return out / "run", json.loads((out / "summary.json").read_text())


class StageRun:
    """A stand-in for an R1 run (r1mini/pipeline.py) handed to one stage's `stage(run)`: `load(stage)` returns the
    label "<stage model>" and records the stage, so that a test sees which checkpoint the stage samples from and
    which it fine-tunes; stage folders go under `root`. `train_sft` and `finish_stage` stand in for the module's:
    the SFT records the model it tunes and its data in `seen`, and a finished stage is {"model": ..., **extra}."""

    def __init__(self, root, preset: str = "smoke"):
        from r1mini.pipeline import R1_PRESETS

        self.cfg, self.tok, self.quiet, self.root, self.loaded = R1_PRESETS[preset], None, True, root, []
        self.seen: dict = {}

    def train_sft(self, model, tok, data, cfg, quiet=False, desc=""):
        self.seen.update(tuned=model, data=data)
        return {"steps": 1}

    @staticmethod
    def finish_stage(run, stage, model, extra, s):
        return {"model": model, **extra}

    def load(self, stage: str) -> str:
        self.loaded.append(stage)
        return f"<{stage} model>"

    def stage_dir(self, stage: str):
        (self.root / stage).mkdir(exist_ok=True)
        return self.root / stage
