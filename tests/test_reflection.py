"""The reflection figures of the aha presets (r1mini/reflection.py) on hand-made responses, every figure worked out by
hand; and the curve point / table shapes train_zero.py writes."""

import math

import pytest

from r1mini.reflection import batch_reflection, curve_point, reflection_table, summarize_reflection

CORRECT = (
    "Try 8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56, not 26. Let me try another way. Try 7 * 3 = 21, 21 + 5 = 26."
)
VERIFY = "Try 7 * 3 = 21, 21 + 5 = 26. Wait, let me check: 7 * 3 = 21, 21 + 5 = 26. Right."
BACK = "Try 3 + 5 = 8, 8 * 7 = 56. That gives 56, not 26. Wait, let me try another way. Try 7 * 3 = 21, 21 + 5 = 26."
PLAIN = "Try 7 * 3 = 21, 21 + 5 = 26. It works."
PHRASE = "Wait, 26 is right."  # has_reflection says yes, reflects says none


def test_batch_reflection_shares():
    s = batch_reflection([CORRECT, VERIFY, BACK, PLAIN, PHRASE, PLAIN, CORRECT, PLAIN])
    assert s == {"reflect": 4 / 8, "reflect_verify": 1 / 8, "reflect_backtrack": 1 / 8, "reflect_correct": 2 / 8}


def test_summarize_reflection_by_hand():
    rows = [
        # problem 1: 2 reflective (1 right), 2 plain (0 right): paired, acc 1/2 vs 0
        [
            (CORRECT, 40, True, "correct"),
            (BACK, 30, False, "backtrack"),
            (PLAIN, 10, False, "none"),
            (PLAIN, 10, False, "none"),
        ],
        # problem 2: all plain: not paired
        [(PLAIN, 10, True, "none"), (PLAIN, 12, True, "none"), (PLAIN, 10, False, "none"), (PLAIN, 8, False, "none")],
        # problem 3: 1 reflective (right), 3 plain (1 right): paired, acc 1 vs 1/3
        [
            (VERIFY, 20, True, "verify"),
            (PLAIN, 10, True, "none"),
            (PLAIN, 10, False, "none"),
            (PLAIN, 10, False, "none"),
        ],
    ]
    s = summarize_reflection(rows)
    assert s["n"] == 3 and s["paired_problems"] == 2
    assert s["pass@1"] == pytest.approx((1 / 4 + 2 / 4 + 2 / 4) / 3)
    assert s["length"] == pytest.approx((40 + 30 + 10 + 10 + 10 + 12 + 10 + 8 + 20 + 10 + 10 + 10) / 12)
    assert (s["reflect"], s["verify"], s["backtrack"], s["correct"]) == pytest.approx((3 / 12, 1 / 12, 1 / 12, 1 / 12))
    assert s["acc_reflect"] == pytest.approx((1 / 2 + 1) / 2)  # per problem, then averaged: not 2/3 pooled
    assert s["acc_plain"] == pytest.approx((0 + 1 / 3) / 2)
    assert s["len_reflect"] == pytest.approx(30) and s["len_plain"] == pytest.approx((20 + 40 + 30) / 9)
    none = summarize_reflection([[(PLAIN, 10, True, "none")]])
    assert none["paired_problems"] == 0 and math.isnan(none["acc_reflect"]) and math.isnan(none["len_reflect"])


def test_curve_point_and_table_shapes():
    fam = summarize_reflection([[(CORRECT, 40, True, "correct"), (PLAIN, 10, False, "none")]])
    res = {"all": dict(fam, format=1.0, reflective=0.5), "families": {"countdown": fam}}
    row = curve_point(25, res)
    assert list(row)[:5] == ["step", "pass@1", "length", "reflective", "format"]  # the columns curves.csv always had
    assert row["step"] == 25 and row["reflect"] == 0.5 and row["countdown_pass@1"] == 0.5 and row["acc_reflect"] == 1.0
    lines = reflection_table(res, res)
    assert len(lines) == 2 + 2 * 2 and lines[2].startswith("| heldout | base | 0.500 | 25 | 0.500")
    from r1mini.reflection import try_summary, tries_table

    assert tries_table(res, res) == []  # no try figures: no table
    with_tries = {"all": res["all"], "families": {"countdown": dict(fam, **try_summary([(CORRECT, 26), (PLAIN, 26)]))}}
    t = tries_table(
        with_tries, with_tries
    )  # CORRECT: a forged try, then a hit; PLAIN: a hit. 5 of 6 steps right (the recheck "8 * 7 = 56" is one)
    assert len(t) == 4 and t[2] == "| base | 1.500 | 0.667 | 0.333 | 0.000 | 0.000 | 0.833 | 0.000 | nan |", (
        t
    )  # no hit given up; no honest miss


def test_aha_presets_and_curves_csv(tmp_path):
    """The aha preset and its controls differ from it only where they should; curves.csv carries the reflection."""
    import dataclasses
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from train_zero import ZERO_PRESETS, write_curves

    from r1mini.toy.corpus import CORPUS_PRESETS
    from r1mini.toy.pretrain import PRETRAIN_PRESETS

    aha = ZERO_PRESETS["aha"]
    assert aha.mix == "aha" and aha.reflection_eval and aha.base == "aha"
    for name, want in {"aha_plain": {"base": "aha_plain"}, "aha_wrong": {"base": "aha_wrong"}}.items():
        diff = {
            f.name: getattr(ZERO_PRESETS[name], f.name)
            for f in dataclasses.fields(aha)
            if getattr(ZERO_PRESETS[name], f.name) != getattr(aha, f.name)
        }
        assert diff == want, name
    dr = ZERO_PRESETS["aha_drgrpo"]
    assert (
        dr.base == "aha"
        and (dr.grpo.loss_agg, dr.grpo.scale_std) == ("constant", False)
        and aha.grpo.loss_agg == "seq_mean"
    )
    for name in ("aha", "aha_plain", "aha_wrong"):
        pre = PRETRAIN_PRESETS[name]
        assert pre.corpus == name and dataclasses.replace(pre, corpus="aha") == PRETRAIN_PRESETS["aha"]
        ZERO_PRESETS[name].validate()
        CORPUS_PRESETS[name].validate()
    fam = summarize_reflection([[(CORRECT, 40, True, "correct"), (PLAIN, 10, False, "none")]])
    res = {"all": dict(fam, format=1.0, reflective=0.5), "families": {"countdown": fam}}
    write_curves(tmp_path, [curve_point(0, res), curve_point(20, res)])
    lines = (tmp_path / "curves.csv").read_text().splitlines()
    assert lines[0].split(",")[:9] == [
        "step",
        "pass@1",
        "length",
        "reflective",
        "format",
        "reflect",
        "verify",
        "backtrack",
        "correct",
    ]
    assert lines[2].startswith("20,0.5000,25.0000,0.5000,1.0000,0.5000,0.0000,0.0000,0.5000")


def test_cli_on_a_tiny_checkpoint(tmp_path):
    """`python -m r1mini.reflection` runs end to end on a checkpoint (an untrained nano model: figures are noise)."""
    import subprocess
    import sys
    from pathlib import Path

    from r1mini.engine.common import atomic_save
    from r1mini.engine.model import ModelConfig, Transformer, model_state
    from r1mini.engine.tokenizer import get_tokenizer

    model = Transformer(ModelConfig.preset("nano", vocab_size=get_tokenizer().vocab_size))
    atomic_save(model_state(model), tmp_path / "model.pt")
    root = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        "-m",
        "r1mini.reflection",
        "--ckpt",
        str(tmp_path / "model.pt"),
        "--n",
        "3",
        "--k",
        "2",
        "--max-new-tokens",
        "8",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr
    assert "'n': 3" in r.stdout and "responses by kind" in r.stdout


def test_try_outcomes_by_hand():
    from r1mini.reflection import step_accuracy, tries, try_outcomes, try_summary

    hit = "Try 7 * 3 = 21, 21 + 5 = 26. It works: 7 * 3 + 5 = 26."
    forged = "Try 6 + 1 = 7, 7 * 6 = 26. It works: 7 * (6 + 1) = 26."  # 7 * 6 is 42
    honest = "Try 6 + 2 = 8, 8 * 7 = 56. That gives 56, not 26. Wait, let me try another way."
    slipped = "Try 9 + 8 = 16, 16 - 9 = 7."  # 16 - 9 is right, but the try ends at 7: honest; 9 + 8 is wrong
    assert try_outcomes(hit, 26) == ["hit"] and try_outcomes(forged, 26) == ["forged"]
    assert try_outcomes(honest, 26) == ["honest_miss"] and try_outcomes(slipped, 26) == ["honest_miss"]
    assert try_outcomes("Try 5 * 2 = 11.", 26) == ["slipped_miss"] and try_outcomes("Try 45 / 9 = 5.", 5) == ["hit"]
    assert try_outcomes(honest + " " + hit, 26) == ["honest_miss", "hit"]
    assert try_outcomes("Try again. Try. 试试 7 * 3 = 21，21 + 5 = 26。", 26) == [
        "hit"
    ]  # tries with no step are skipped
    assert step_accuracy([hit, forged, slipped]) == (
        4,
        6,
    )  # the wrong ones: 7 * 6 = 26, 9 + 8 = 16; "7 * 3 + 5 = 26" is no step
    s = try_summary([(hit, 26), (forged, 26), (honest + " " + hit, 26), ("no try at all", 26)])
    assert (
        s["tries_hit"] == 2 / 4
        and s["tries_forged"] == 1 / 4
        and s["tries_honest_miss"] == 1 / 4
        and s["tries_slipped_miss"] == 0
    )
    assert s["tries_per_response"] == 1.0 and s["steps_right"] == 7 / 8
    assert s["gives_up_after_honest_miss"] == 1.0 and s["gives_up_after_hit"] == 0.0
    assert tries(honest + " " + hit, 26) == [("honest_miss", True), ("hit", False)]
    committed = "Try 6 + 2 = 8, 8 * 7 = 56. It works: (6 + 2) * 7 = 26."  # an honest miss, not given up
    rash = "Try 7 * 3 = 21, 21 + 5 = 26. Wait, let me try another way. Try 3 + 5 = 8."  # a hit given up
    assert tries(committed, 26) == [("honest_miss", False)] and tries(rash, 26) == [
        ("hit", True),
        ("honest_miss", False),
    ]
    assert tries(hit.split(" It works")[0] + " " + honest, 26) == [
        ("hit", False),
        ("honest_miss", True),
    ]  # each try's own words
    s = try_summary([(committed, 26), (rash, 26), (honest, 26), (hit, 26)])
    assert s["gives_up_after_honest_miss"] == 1 / 3 and s["gives_up_after_hit"] == 1 / 2


def test_try_outcomes_bounded_on_adversarial_strings():
    import time

    from r1mini.reflection import step_accuracy, try_outcomes

    for text in [
        "Try " + "1 + 1 = 2, " * 20000,
        "Try " * 50000,
        "9" * 100000 + " = 9",
        "Try 99999 * 99999 = 1. " * 5000,
    ]:
        t0 = time.perf_counter()
        assert isinstance(try_outcomes(text, 26), list) and step_accuracy([text])[1] >= 0
        assert time.perf_counter() - t0 < 0.5
