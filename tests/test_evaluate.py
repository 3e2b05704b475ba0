"""Section 3 evaluation (r1mini/evaluate.py): the per-set summary against hand-worked rows, the pass@1 of a
real (random) model against the rewards recomputed on its own samples, and the CLI's errors."""

import subprocess
import sys

import pytest
import torch

from r1mini.evaluate import EvalConfig, evaluate_problems, format_table, is_worked, summarize
from r1mini.model import ModelConfig, Transformer
from r1mini.tasks import generate
from r1mini.tokenizer import get_tokenizer


def row(family, correct, cons, greedy, worked):
    k = len(correct)
    return {"family": family, "correct": correct, "cons": cons, "greedy": greedy, "format": [1.0] * k,
            "length": [10] * k, "reflect": [False] * k, "mixed": [False] * k, "worked": worked}


def test_summarize_hand_worked():
    rows = [
        row("add", [1.0, 0.0, 0.0, 1.0], 1.0, 1.0, [True, False, False, True]),  # p = 1/2, worked both right
        row("mul", [0.0, 0.0, 0.0, 1.0], 0.0, 0.0, [False, False, True, True]),  # p = 1/4
    ]
    s = summarize(rows, k=4)
    assert s["pass@1"] == pytest.approx((0.5 + 0.25) / 2)  # mean over problems of the mean over k samples
    assert s["pass@4"] == pytest.approx(1.0)  # each problem has a right sample among its 4
    assert s["cons@4"] == pytest.approx(0.5) and s["greedy"] == pytest.approx(0.5)
    assert s["worked"] == pytest.approx(4 / 8)
    assert s["acc_worked"] == pytest.approx(3 / 4)  # 3 of the 4 worked samples are right
    assert s["acc_direct"] == pytest.approx(0 / 4)
    table = format_table({"toy": {"all": s, "families": {}}}, 4)
    assert "| toy | 2 | 0.375 |" in table


def test_is_worked_counts_equations_in_the_thinking():
    assert is_worked(" <think> 7 + 8 = 15, write 5 carry 1. 4 + 3 + 1 = 8. </think> <answer> 85 </answer>")
    assert not is_worked(" <think> 47 + 38 = 85 </think> <answer> 85 = 85 = 85 </answer>")


def test_pass_at_1_of_a_model_matches_its_samples():
    torch.manual_seed(0)
    tok = get_tokenizer()
    model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))
    problems = generate("add", 2, n=3, seed=0, split="test")
    res = evaluate_problems(model, tok, problems, EvalConfig(k=2, max_new_tokens=8, batch=2))
    assert res["all"]["n"] == 3 and set(res["families"]) == {"add"}
    assert 0.0 <= res["all"]["pass@1"] <= res["all"]["pass@2"] <= 1.0
    assert 1 <= res["all"]["length"] <= 8


def test_cli_errors_are_one_clear_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "r1mini.evaluate", "--ckpt", str(tmp_path / "missing.pt")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "r1mini.evaluate", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--k" in r.stdout
