"""Section 3 evaluation (r1mini/evaluate.py): the per-set summary against hand-worked rows, every figure of
evaluate_problems on fixed completions against hand-worked values, and the CLI's errors."""

import subprocess
import sys

import pytest
import torch

from r1mini.evaluate import EvalConfig, format_table, is_worked, summarize


def row(family, correct, cons, greedy, worked):
    k = len(correct)
    return {
        "family": family,
        "correct": correct,
        "cons": cons,
        "greedy": greedy,
        "format": [1.0] * k,
        "length": [10] * k,
        "reflect": [False] * k,
        "mixed": [False] * k,
        "off_lang": [False] * k,
        "worked": worked,
    }


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


def test_evaluate_problems_on_fixed_completions_hand_worked(monkeypatch):
    """The sampler replaced by fixed completions (3 samples and 1 greedy per problem): every figure is
    worked out by hand below."""
    import r1mini.evaluate as ev
    from r1mini.toy.tasks import Problem

    def o(think, ans):
        return f" <think> {think} </think> <answer> {ans} </answer>"

    sampled = [
        [o("7 + 8 = 15, 4 + 3 + 1 = 8", 85), o("47 + 38 = 85", 85), "<answer> 84 </answer>"],  # right, right, wrong
        [o("2 * 3 = 6", 5), o("x = 6", 6), o("x = 5", 5)],  # votes 5, 6, 5 -> 5: wrong
    ]
    greedy = [[o("47 + 38 = 85", 85)], [o("x = 5", 5)]]

    def fake_complete(model, tok, problems, cfg, n, temperature, top_p, seed, prompt_fn):
        texts = sampled if n == cfg.k else greedy
        return [[(t, 10 * (i + 1)) for i, t in enumerate(row)] for row in texts]  # lengths 10, 20, 30

    monkeypatch.setattr(ev, "_complete", fake_complete)
    problems = [Problem("add", "What is 47 + 38?", "85", 2), Problem("linear", "Solve for x: 2x = 12.", "6", 1)]
    res = ev.evaluate_problems(torch.nn.Identity(), None, problems, EvalConfig(k=3))
    s = res["all"]
    assert s["pass@1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert s["pass@3"] == pytest.approx(1.0)
    assert s["cons@3"] == pytest.approx(0.5)  # problem 1 votes 85 (right), problem 2 votes 5 (wrong)
    assert s["greedy"] == pytest.approx(0.5)
    assert s["format"] == pytest.approx(5 / 6)  # one sample has no think block
    assert s["length"] == pytest.approx(20.0)
    assert s["worked"] == pytest.approx(1 / 6)  # only the first sample has two equations
    assert s["acc_worked"] == pytest.approx(1.0) and s["acc_direct"] == pytest.approx(2 / 5)
    assert res["families"]["linear"]["pass@1"] == pytest.approx(1 / 3)
    assert res["per_question"] == pytest.approx(
        [2 / 3, 1 / 3]
    )  # each question's pass rate, in order (paired comparisons)
    assert res["questions"] == ["What is 47 + 38?", "Solve for x: 2x = 12."]
    assert s["off_lang"] == 0.0  # English questions, English words only

    # format_fn: another output format (R1's) is checked by the function given; the other figures do not move
    seen = []

    def format_fn(text, problem):
        seen.append((text, problem.family))
        return float("answer" in text and problem.family == "add")

    res2 = ev.evaluate_problems(torch.nn.Identity(), None, problems, EvalConfig(k=3), format_fn=format_fn)
    assert res2["all"]["format"] == pytest.approx(3 / 6)  # the 3 samples of the "add" problem all hold "answer"
    assert seen == [(t, p.family) for p, row in zip(problems, sampled) for t in row]
    assert {k: v for k, v in res2["all"].items() if k != "format"} == {k: v for k, v in s.items() if k != "format"}


def test_cli_errors_are_one_clear_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "r1mini.evaluate", "--ckpt", str(tmp_path / "missing.pt")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "r1mini.evaluate", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--k" in r.stdout


def test_off_language_share_is_taken_against_each_questions_language(monkeypatch):
    """A Chinese question answered with a Chinese chain, an English chain and a mixed one: 2 of 3 off-language, 1 of
    3 mixed; the same three on an English question: 2 of 3 off (the Chinese and the mixed chain)."""
    import r1mini.evaluate as ev
    from r1mini.toy.tasks import Problem

    chains = [" <think> 个位：7 + 8 = 15，写 5 进 1。 </think> <answer> 85 </answer>",
              " <think> ones: 7 + 8 = 15, write 5 carry 1. </think> <answer> 85 </answer>",
              " <think> 个位 7 + 8 = 15, carry 1 </think> <answer> 85 </answer>"]  # fmt: skip
    monkeypatch.setattr(
        ev, "_complete", lambda model, tok, problems, cfg, n, *a: [[(t, 10) for t in chains] for _ in problems]
    )
    for lang, off in (("zh", 2 / 3), ("en", 2 / 3)):
        res = ev.evaluate_problems(
            torch.nn.Identity(), None, [Problem("add", "?", "85", 2, lang=lang)], EvalConfig(k=3)
        )
        assert res["all"]["off_lang"] == pytest.approx(off) and res["all"]["mixed_lang"] == pytest.approx(1 / 3)
    monkeypatch.setattr(
        ev, "_complete", lambda model, tok, problems, cfg, n, *a: [[(chains[0], 10)] * 3 for _ in problems]
    )
    assert (
        ev.evaluate_problems(torch.nn.Identity(), None, [Problem("add", "?", "85", 2, lang="zh")], EvalConfig(k=3))[
            "all"
        ]["off_lang"]
        == 0.0
    )


def test_paired_compares_only_the_same_questions_in_the_same_order():
    from r1mini.evaluate import paired

    a = {"questions": ["q1", "q2", "q3"], "per_question": [1.0, 0.5, 0.0]}
    b = {"questions": ["q1", "q2", "q3"], "per_question": [0.5, 0.5, 0.5]}
    assert paired(a, b) == pytest.approx((0.0, 0.5 / 3**0.5))  # d = (0.5, 0, -0.5)
    assert paired(a, {**b, "questions": ["q1", "q3", "q2"]}) is None  # same questions, another order: not paired
    assert paired(a, {"all": {}}) is None  # an eval.json from before per-question figures


def test_sec3_samples_at_temperature_greedy_at_zero_and_cons_votes_on_any_response(monkeypatch):
    """Section 3: the k samples are drawn at the config's temperature and top-p (0.6, 0.95), the greedy answer at
    temperature 0 (top-p off); cons@k judges the voted answer on a response that gave it, not on the first response:
    votes 85, 85.0 (the same answer) and 84 on a problem whose first response says 84 -> cons 1, pass@1 2/3."""
    import r1mini.evaluate as ev
    from r1mini.toy.tasks import Problem

    def o(ans):
        return f" <think> 7 + 8 = 15, 4 + 3 + 1 = 8 </think> <answer> {ans} </answer>"

    calls = []

    def fake_complete(model, tok, problems, cfg, n, temperature, top_p, seed, prompt_fn):
        calls.append((n, temperature, top_p))
        texts = [o(84), o(85), o("85.0")] if n == cfg.k else [o(85)]
        return [[(t, 10) for t in texts] for _ in problems]

    monkeypatch.setattr(ev, "_complete", fake_complete)
    problem = Problem("add", "What is 47 + 38?", "85", 2)
    res = ev.evaluate_problems(torch.nn.Identity(), None, [problem], EvalConfig(k=3, temperature=0.6, top_p=0.95))
    assert calls == [(3, 0.6, 0.95), (1, 0.0, 1.0)], f"section 3: T = 0.6, top-p 0.95; greedy at T = 0: {calls}"
    assert res["all"]["cons@3"] == 1.0, "section 3: cons@k judges the majority answer, not the first response"
    assert res["all"]["pass@1"] == pytest.approx(2 / 3) and res["all"]["greedy"] == 1.0


def test_sec2_3_4_helpfulness_on_helpful_requests_harmlessness_on_adversarial_ones(monkeypatch):
    """evaluate_general: a model that declines everything politely is perfectly harmless (every adversarial request
    declined) and not helpful at all (no helpfulness request answered): helpfulness reads only the helpfulness
    kinds, harmlessness only the adversarial ones."""
    import r1mini.evaluate as ev
    from r1mini.toy.general import ADVERSARIAL_KINDS, HELPFUL_KINDS

    asked = []

    def fake_complete(model, tok, items, n, cfg, temperature=None, prompt_fn=None):
        asked.extend(items)
        return [[(" Sorry, I cannot do that.", 6)] * n for _ in items]

    monkeypatch.setattr(ev, "complete", fake_complete)
    out = ev.evaluate_general(torch.nn.Identity(), None, 14, EvalConfig(k=2), seed=0)
    assert (out["helpfulness"], out["harmlessness"]) == (0.0, 1.0), out
    assert {p.kind for p in asked[:14]} == set(HELPFUL_KINDS) and {p.kind for p in asked[14:]} == set(ADVERSARIAL_KINDS)
