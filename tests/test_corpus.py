"""The synthetic pretraining corpus (r1mini/toy/corpus.py): every equation of a right solution re-checked by
Python's parser, wrong ones end wrong, reflections end right, no test problem in the corpus, kind shares,
determinism."""

import random
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pytest
from conftest import ast_eval

from r1mini.engine.common import ConfigError
from r1mini.toy.corpus import (
    CORPUS_PRESETS,
    KINDS,
    CorpusConfig,
    chinese_number,
    countdown_trace,
    direct_answer,
    english_number,
    generate_documents,
    iter_documents,
    sample_text,
    worked_solution,
)
from r1mini.rewards import accuracy_reward, eval_countdown, extract_answer
from r1mini.toy.tasks import FAMILIES, LEVELS, TASK_MIXES, benchmark, generate, heldout
from r1mini.template import R1_ZERO_TEMPLATE

_ARITH = re.compile(r"[(\-]*\d[\d\s()+\-*/]*")
RECHECK = ("Wait, let me recheck", "等等，让我再检查一下")


def equations(text: str) -> list[tuple[str, bool]]:
    """Every chain "A = B (= C)" of pure arithmetic in the text, and whether all its sides are equal.
    Words (English or Chinese, and the x of an equation) and clause punctuation cut the text first, so
    "ones: 7 + 8 = 15, write 5" gives "7 + 8 = 15", and "3x = 20 - 5 = 15" gives "20 - 5 = 15"."""
    out = []
    for clause in re.split(r"[A-Za-z\u4e00-\u9fff,，:：。<>]|\.(?:\s|$)", text):
        if "=" not in clause:
            continue
        sides = [s.strip() for s in clause.split("=") if _ARITH.fullmatch(s.strip())]
        if len(sides) >= 2:
            out.append((" = ".join(sides), len({ast_eval(s) for s in sides}) == 1))
    return out


def final_ok(p, answer: str) -> bool:
    if p.family == "countdown":
        return eval_countdown(answer, p.numbers) == p.target
    return answer == p.answer


def has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def has_english(text: str) -> bool:
    return re.search(r"[A-Za-z]{2,}", text) is not None


# ----------------------------------------------------------------------------- worked solutions


def test_equation_checker_itself():
    assert equations("ones: 7 + 8 = 15, write 5 carry 1. 3x = 20 - 5 = 15.") == [
        ("7 + 8 = 15", True),
        ("20 - 5 = 15", True),
    ]
    assert equations("十位：4 + 3 + 1 = 9，写 9。So 2 - 8 = -(8 - 2).") == [
        ("4 + 3 + 1 = 9", False),
        ("2 - 8 = -(8 - 2)", True),
    ]
    assert equations("5x + 3 = 2x + 18. (-4) - 16 = -20") == [("(-4) - 16 = -20", True)]


@pytest.mark.parametrize("family", FAMILIES)
def test_right_solutions_have_only_true_equations_and_end_in_the_answer(family):
    rng = random.Random(0)
    n = 25 if family == "countdown" else 60
    for level in LEVELS:
        for lang in ("en", "zh"):
            for p in generate(family, level, n, seed=11, lang=lang):
                steps, answer = worked_solution(p, lang, rng)
                assert final_ok(p, answer), (p, steps, answer)
                eqs = equations(steps)
                assert len(eqs) >= 1 and all(ok for _, ok in eqs), (steps, eqs)
                assert has_chinese(steps) == (lang == "zh") and not any(r in steps for r in RECHECK)
                tail = steps.rstrip(".。")
                assert tail.endswith(f"= {p.target}" if family == "countdown" else f"= {p.answer}"), steps


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_solutions_end_wrong_and_reflections_end_right(family):
    rng = random.Random(1)
    n = 20 if family == "countdown" else 50
    for level in LEVELS:
        for lang in ("en", "zh"):
            for p in generate(family, level, n, seed=12, lang=lang):
                steps, answer = worked_solution(p, lang, rng, wrong=True)
                assert not final_ok(p, answer), (p, steps, answer)
                assert any(not ok for _, ok in equations(steps)), steps  # the slip is visible
                steps, answer = worked_solution(p, lang, rng, reflect=True)
                assert final_ok(p, answer), (p, steps, answer)
                phrase = RECHECK[lang == "zh"]
                assert steps.count(phrase) == 1, steps
                # the equation right after the phrase is the true one
                recheck = steps.split(phrase, 1)[1][1:]
                assert equations(recheck)[0][1], recheck
    with pytest.raises(ValueError):
        worked_solution(generate(family, 2, 1, seed=0)[0], "en", rng, wrong=True, reflect=True)


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "countdown"])
def test_verified_solutions_confirm_a_true_step_and_end_right(family):
    rng = random.Random(3)
    n = checked = 0
    for level in LEVELS:
        for lang in ("en", "zh"):
            phrase = RECHECK[lang == "zh"]
            for p in generate(family, level, 30, seed=5, lang=lang):
                steps, answer = worked_solution(p, lang, rng, verify=True)
                assert final_ok(p, answer), (p, steps, answer)
                assert all(ok for _, ok in equations(steps)), steps  # no step is wrong
                assert steps.count(phrase) <= 1, steps
                n += 1
                if phrase in steps:  # a solution with no step to recheck has no recheck
                    assert ("Right." if lang == "en" else "没错") in steps, steps
                    assert equations(steps.split(phrase, 1)[1][1:])[0][1], steps  # the confirmed equation is true
                    checked += 1
    assert checked >= 0.9 * n, (checked, n)


def test_switch_mixes_both_languages():
    rng = random.Random(2)
    for family in FAMILIES:
        for p in generate(family, 2, 30, seed=13):
            for lang in ("en", "zh"):
                steps, answer = worked_solution(p, lang, rng, switch=True)
                assert has_chinese(steps) and has_english(steps), steps
                assert final_ok(p, answer)


def test_direct_answers():
    rng = random.Random(3)
    for family in FAMILIES:
        for level in LEVELS:
            for p in generate(family, level, 40, seed=14):
                right, wrong = direct_answer(p, rng), direct_answer(p, rng, wrong=True)
                assert final_ok(p, right) and not final_ok(p, wrong), (p, right, wrong)
                if family == "countdown":
                    assert eval_countdown(wrong, p.numbers) is not None  # a real expression, just a miss
                else:
                    int(wrong)
    p = generate("add", 2, 1, seed=0)[0]
    wrongs = Counter(direct_answer(p, random.Random(s), wrong=True) for s in range(200))
    assert len(wrongs) >= 4  # several kinds of near miss


def test_number_words():
    cases = {
        0: ("zero", "零"),
        7: ("seven", "七"),
        15: ("fifteen", "十五"),
        40: ("forty", "四十"),
        47: ("forty-seven", "四十七"),
        100: ("one hundred", "一百"),
        105: ("one hundred five", "一百零五"),
        110: ("one hundred ten", "一百一十"),
        999: ("nine hundred ninety-nine", "九百九十九"),
    }
    for n, (en, zh) in cases.items():
        assert (english_number(n), chinese_number(n)) == (en, zh)


# ----------------------------------------------------------------------------- documents


@pytest.fixture(scope="module")
def cpu_docs():
    return list(iter_documents(replace(CORPUS_PRESETS["cpu"], n_docs=20_000, seed=1)))


def test_no_test_or_benchmark_problem_is_ever_posed(cpu_docs):
    """Every problem in the corpus is from the train split, and no held-out question (in either language)
    appears anywhere in its text, though the cpu corpus covers nearly all of the small mul level-2 space."""
    assert all(split_of_independent(d.problem) == "train" for d in cpu_docs if d.problem)
    held = benchmark("medium") + benchmark("hard") + heldout(TASK_MIXES["cpu"], 300, seed=0)
    questions = {p.question for p in held}
    questions |= {q.replace("What is ", "计算 ").replace("?", "。") for q in questions if q.startswith("What is ")}
    text = "\n".join(d.text for d in cpu_docs)
    found = re.findall(r"What is [^?]+\?|计算 [^。]+。", text)
    assert found and not set(found) & questions
    mul2 = {d.problem.question for d in cpu_docs if d.problem and d.problem.family == "mul" and d.problem.level == 2}
    assert len(mul2) > 500  # of 720 - ~72 test ones: the test ones would have shown up


def split_of_independent(p) -> str:
    import hashlib

    if p.family == "countdown":
        key = f"countdown:{','.join(map(str, sorted(p.numbers)))}->{p.target}"
    else:
        m = re.fullmatch(r"What is (.+)\?|计算 (.+)。|Solve for x: (.+)\.|解方程 (.+)，求 x。", p.question)
        key = f"{p.family}:{next(g for g in m.groups() if g)}"
    if (p.family, p.level) in {("add", 1), ("mul", 1)}:
        return "train"
    return "test" if int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 10 == 0 else "train"


def test_kind_and_noise_shares_match_the_config(cpu_docs):
    cfg = CORPUS_PRESETS["cpu"]
    n = len(cpu_docs)
    total = sum(getattr(cfg, k) for k in KINDS)
    kinds = Counter(d.kind for d in cpu_docs)
    for k in KINDS:
        assert abs(kinds[k] / n - getattr(cfg, k) / total) < 0.015, k
    share = lambda kind, tag: sum(tag in d.tags for d in cpu_docs if d.kind == kind) / kinds[kind]  # noqa: E731
    assert abs(share("direct", "wrong") - cfg.direct_wrong) < 0.03
    assert abs(share("worked", "wrong") - cfg.step_wrong) < 0.02
    assert abs(share("worked", "reflect") - cfg.reflect) < 0.02
    assert abs(share("worked", "verify") - cfg.verify) < 0.02  # (the cpu mix has no countdown, which takes no verify)
    assert abs(share("worked", "switch") - cfg.switch) < 0.02
    assert abs(share("template", "worked") - cfg.template_worked) < 0.03
    assert abs(share("template", "chat") - cfg.template_chat) < 0.03
    # English questions get Chinese steps at rate zh; Chinese questions always
    assert abs(share("worked", "zh") - (cfg.zh_questions + (1 - cfg.zh_questions) * cfg.zh)) < 0.03


def test_documents_read_as_their_tags_say(cpu_docs):
    for d in cpu_docs:
        assert any(r in d.text for r in RECHECK) == ("reflect" in d.tags or "verify" in d.tags), d
        if "zh" in d.tags or "switch" in d.tags:
            assert has_chinese(d.text)
        if d.kind != "template" or "chat" in d.tags:
            continue
        prompt, completion = d.text.split(" Assistant:", 1)
        assert R1_ZERO_TEMPLATE.split("User:")[0] in prompt + " "
        think = completion.split("</think>")[0]
        n_eq = think.count("=")
        assert (n_eq >= 2) == ("worked" in d.tags), d.text  # what evaluate.is_worked counts
        right = accuracy_reward(completion, d.problem) == 1.0
        assert right == ("wrong" not in d.tags), d.text
        assert extract_answer(completion) is not None


def test_worked_template_answers_are_more_often_right_than_direct(cpu_docs):
    acc = {"worked": [], "direct": []}
    for d in cpu_docs:
        if d.kind == "template" and "chat" not in d.tags:
            acc["worked" if "worked" in d.tags else "direct"].append(
                accuracy_reward(d.text.split(" Assistant:", 1)[1], d.problem)
            )
    worked, direct = (sum(v) / len(v) for v in (acc["worked"], acc["direct"]))
    assert worked > 0.85 and direct < 0.6, (worked, direct)


def test_deterministic_from_the_seed():
    cfg = replace(CORPUS_PRESETS["gpu"], n_docs=300)
    a, b = list(generate_documents(cfg)), list(generate_documents(cfg))
    assert a == b and a != list(generate_documents(replace(cfg, seed=1)))
    assert sample_text(5000, seed=3) == sample_text(5000, seed=3) != sample_text(5000, seed=4)


def test_sample_text_is_representative():
    text = sample_text(200_000)
    assert len(text) == 200_000
    for needle in (
        "Using the numbers",
        "Solve for x",
        " * ",
        "<think>",
        "</answer>",
        "个位",
        "Wait, let me recheck",
        "User:",
        "r1mini",
    ):
        assert needle in text, needle


def test_bad_configs():
    for bad in [dict(direct_wrong=1.5), dict(facts=-1), dict(step_wrong=0.6, reflect=0.6), dict(n_docs=0),
                dict(mix="add:7:1"), dict(facts=0, direct=0, worked=0, template=0, text=0)]:  # fmt: skip
        with pytest.raises(ConfigError):
            next(generate_documents(CorpusConfig(**bad)))


def test_cli_shows_documents_and_shares():
    r = subprocess.run(
        [sys.executable, "-m", "r1mini.toy.corpus", "--preset", "smoke", "--show", "3", "--count", "200"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("----- ") == 4 and all(k in r.stdout for k in KINDS)
    r = subprocess.run(
        [sys.executable, "-m", "r1mini.toy.corpus", "--preset", "smoke", "--zh", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "zh" in r.stderr


# ----------------------------------------------------------------------------- the aha corpora (2.2.4, Table 3)


def test_aha_knobs_at_their_defaults_leave_the_presets_unchanged():
    """The aha knobs at their defaults leave the cpu, smoke and gpu corpora and the cached bases' keys as pinned
    here: the sha256 of each corpus's first 200 documents, and run_hash of each pretrain preset."""
    import hashlib

    from r1mini.toy.pretrain import PRETRAIN_PRESETS, run_hash

    before = {
        "cpu": "9b6810fbd2f1115153b9590b031d0b6f7beb37797d1cbf64fed3cbe74e560752",
        "smoke": "6044e95196805ccae7010c01b68fb09a4bf5af72cfdf1dc0aaa3bc213001ff74",
        "gpu": "3e51eb545ee945839257aee1c8128e9c10a7c6eebaf8751fac9c29f7a2c248e2",
    }
    for name, digest in before.items():
        docs = generate_documents(replace(CORPUS_PRESETS[name], n_docs=200))
        assert hashlib.sha256("\x00".join(docs).encode()).hexdigest() == digest, name
    # the cached bases' keys: run_hash covers the pretrain config, the corpus, the model and the tokenizer
    assert {n: run_hash(PRETRAIN_PRESETS[n]) for n in ("smoke", "cpu", "gpu")} == {
        "smoke": "ec0f33e4",
        "cpu": "9baf896b",
        "gpu": "77614bc5",
    }


def _tries(steps: str) -> list[str]:
    return [t for t in re.split(r"(?=Try |试试 )", steps) if t.startswith(("Try ", "试试 "))]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_countdown_trace_behaviours(lang):
    """Each behaviour reads as it should: backed-off tries are true misses, a corrected slip's recheck is the true
    value, a verification restates true equations, the answer is right unless the trace is wrong."""
    rng = random.Random(5)
    en = lang == "en"
    gives, recheck = ("That gives", "Wait, let me recheck") if en else ("得到", "等等，让我再检查一下")
    for level in (1, 2):
        for p in generate("countdown", level, 30, seed=21, lang=lang):
            for backtracks, correct, verify, end_wrong in [
                (0, 0, 0, 0),
                (1, 0, 0, 0),
                (2, 1, 0, 0),
                (0, 1, 1, 0),
                (1, 0, 1, 1),
                (0, 0, 0, 1),
            ]:
                wrong = end_wrong and not (backtracks or correct or verify)
                steps, answer = countdown_trace(
                    p, lang, rng, wrong, backtracks, bool(correct), bool(verify), bool(end_wrong and not wrong)
                )
                assert final_ok(p, answer) == (not end_wrong), (steps, answer)
                tries = _tries(steps)
                assert len(tries) == 1 + backtracks + correct, steps
                assert steps.count(gives) == backtracks and steps.count(recheck) == correct, steps
                for t in tries[:-1]:  # every try before the last: a miss, backed off or corrected
                    eqs = equations(t.split(recheck)[0])
                    last = ast_eval(eqs[-1][0].split(" = ")[0])
                    assert last != p.target, t
                    if recheck in t:  # the slip claims the target, the recheck gives the true value
                        assert not eqs[-1][1] and equations(t.split(recheck)[1])[0][1], t
                    else:
                        assert all(ok for _, ok in eqs), t
                final = equations(tries[-1])
                assert all(ok for _, ok in final) == (not end_wrong), steps  # a wrong ending is a slip claimed to hit
                assert (("Right." if lang == "en" else "没错") in steps) == bool(verify), steps


def test_reflects_labels_the_corpus_traces_as_written():
    """metrics.reflects (a separate reading of the text) finds in each trace the behaviour it was written with."""
    from r1mini.metrics import reflects

    rng = random.Random(6)
    for p in generate("countdown", 1, 40, seed=22):
        assert reflects(countdown_trace(p, "en", rng)[0]) == "none"
        assert reflects(countdown_trace(p, "en", rng, verify=True)[0]) == "verify"
        assert reflects(countdown_trace(p, "en", rng, backtracks=1)[0]) == "backtrack"
        assert reflects(countdown_trace(p, "en", rng, backtracks=1, correct=True, verify=True)[0]) == "correct"
    for family in ("add", "mul", "expr", "linear"):
        for p in generate(family, 2, 20, seed=23):
            assert reflects(worked_solution(p, "en", rng, reflect=True)[0]) == "correct"
            assert reflects(worked_solution(p, "en", rng, wrong=True)[0]) == "none"


@pytest.mark.parametrize("family", ["add", "mul", "expr", "linear"])
def test_reflective_solutions_that_end_wrong(family):
    """end_wrong: the recheck (or confirmation) is true, and a later step slips to a wrong answer."""
    rng = random.Random(7)
    n = later = skipped = 0
    for level in (2, 3):
        for p in generate(family, level, 25, seed=24):
            for reflect, verify in ((True, False), (False, True)):
                try:
                    steps, answer = worked_solution(p, "en", rng, reflect=reflect, verify=verify, end_wrong=True)
                except RuntimeError:  # a solution with one slippable step: _solution falls back to a plain wrong one
                    skipped += 1
                    continue
                assert not final_ok(p, answer), (steps, answer)
                head, tail = steps.split(RECHECK[0], 1)
                assert equations(tail[1:])[0][1], steps  # what the reflection states is true
                assert any(not ok for _, ok in equations(head + tail)), steps  # and some step is wrong
                n += 1
                later += sum(not ok for _, ok in equations(head)) == reflect  # the late slip comes after the reflection
    assert skipped <= 0.2 * (n + skipped), (skipped, n)
    if family != "linear":  # (linear has 1-2 slippable steps: often none after the reflection)
        assert later >= 0.5 * n, (
            later,
            n,
        )  # not always possible (a reflection at the last step): 56-72%; slipping before it: 30-35%
    with pytest.raises(ValueError):
        worked_solution(generate(family, 2, 1, seed=0)[0], "en", rng, end_wrong=True)


def test_aha_presets_and_their_controls():
    """aha: the behaviours at a low rate; aha_plain: none (no "Wait" at all); aha_wrong: every behaviour ends wrong."""
    docs = {
        n: list(iter_documents(replace(CORPUS_PRESETS[n], n_docs=6000, seed=2)))
        for n in ("aha", "aha_plain", "aha_wrong")
    }
    behaviours = ("backtrack", "reflect", "verify")
    shares = {
        n: sum(any(t in d.tags for t in behaviours) for d in ds if d.kind == "worked")
        / sum(d.kind == "worked" for d in ds)
        for n, ds in docs.items()
    }
    assert 0.1 < shares["aha"] < 0.3 and shares["aha_plain"] == 0 and abs(shares["aha_wrong"] - shares["aha"]) < 0.05, (
        shares
    )
    assert not any("Wait" in d.text for d in docs["aha_plain"])
    for n, ds in docs.items():
        for d in ds:
            if d.kind in ("worked", "template") and d.problem and "direct" not in d.tags and "chat" not in d.tags:
                answer = (
                    d.text.rsplit("The answer is ", 1)[-1].rstrip(".")
                    if d.kind == "worked" and "The answer is" in d.text
                    else None
                )
                if d.kind == "template":
                    ok = accuracy_reward(d.text.split(" Assistant:", 1)[1], d.problem) == 1.0
                    assert ok == ("wrong" not in d.tags), d.text
                    if n == "aha_wrong" and any(t in d.tags for t in behaviours):
                        assert not ok, d.text
                    if n == "aha" and any(t in d.tags for t in behaviours):
                        assert ok, d.text
                elif answer is not None:
                    assert final_ok(d.problem, answer) == ("wrong" not in d.tags), d.text
    with pytest.raises(ConfigError):
        next(generate_documents(replace(CORPUS_PRESETS["aha"], countdown_style="random")))


def test_facts_hi_adds_countdown_sized_steps_and_every_fact_is_true():
    """facts_hi = 90: about a quarter of the facts lines have a first operand in 10..90 (half the random-facts
    documents' lines, which are half the documents); each line, checked with Python's own arithmetic, is true;
    facts_hi = 9 (the default) leaves every first operand a digit and the documents unchanged."""
    cfg = replace(CORPUS_PRESETS["aha"], n_docs=3000, seed=5)
    assert cfg.facts_hi == 90
    lines = [ln for d in iter_documents(cfg) if d.kind == "facts" for ln in d.text.split("\n")]
    big = 0
    for ln in lines:
        a, op, b, eq, v = ln.split(" ")
        a, b, v = int(a), int(b), int(v)
        assert eq == "=" and {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op] == v, ln
        assert 0 <= a <= 90 and 0 <= b <= 9, ln
        big += a >= 10 and op in "+-*"  # a 2-digit first operand (a - b and a / b from digits can reach 18 and 81 too)
    assert len(lines) > 1000 and 0.1 < big / len(lines) < 0.3, (big, len(lines))
    plain = [d.text for d in iter_documents(replace(cfg, facts_hi=9)) if d.kind == "facts"]
    assert all(
        int(ln.split(" ")[0]) <= 18 and "/" not in ln or int(ln.split(" ")[0]) <= 81
        for t in plain
        for ln in t.split("\n")
    )
    assert not any(int(ln.split(" ")[0]) >= 10 and ln.split(" ")[1] in "+*" for t in plain for ln in t.split("\n"))
    for bad in (8, 5000):
        with pytest.raises(ConfigError):
            next(generate_documents(replace(cfg, facts_hi=bad)))
