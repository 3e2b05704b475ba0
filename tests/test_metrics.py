"""Evaluation metrics (r1mini/metrics.py) against brute force: pass@k by enumerating k-subsets, cons@k by
counting votes by hand; reflection and language mixing on hand cases."""

import itertools
import math
import random
from fractions import Fraction

import pytest

import time

from r1mini.metrics import (
    MAX_REFLECT_CHARS,
    cons_at_k,
    corrects_itself,
    has_reflection,
    majority_vote,
    mixes_languages,
    off_language,
    paired_difference,
    pass_at_1,
    pass_at_k,
    reflects,
)


def test_sec3_pass_at_k_brute_force():
    for n in range(1, 9):
        for c in range(n + 1):
            samples = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(samples, k))
                brute = sum(any(s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12), (n, c, k)


def test_pass_at_k_large_n_is_stable():
    for n, c, k in [(200, 3, 100), (1000, 1, 1), (1000, 999, 2), (500, 0, 250), (64, 10, 64)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


def test_pass_at_k_bad_arguments():
    for n, c, k in [(4, 5, 1), (4, -1, 1), (4, 1, 0), (4, 1, 5)]:
        with pytest.raises(ValueError, match="pass_at_k"):
            pass_at_k(n, c, k)


def test_sec3_paired_difference_hand_case_and_float64_loop():
    # hand-worked: d = (0.5, 0, -0.5), mean 0, sample variance (0.25 + 0 + 0.25) / 2 = 0.25, se = 0.5 / sqrt(3)
    mean, se = paired_difference([1.0, 0.5, 0.0], [0.5, 0.5, 0.5])
    assert mean == 0.0 and se == pytest.approx(0.5 / math.sqrt(3), abs=1e-15)
    # a constant shift has no spread: se 0
    assert paired_difference([0.75, 0.25, 0.5], [0.5, 0.0, 0.25]) == pytest.approx((0.25, 0.0), abs=1e-15)
    # against the textbook two-pass formula in exact fractions, on random pass rates over k = 4 samples
    rng = random.Random(0)
    for n in (2, 7, 128):
        a = [Fraction(rng.randint(0, 4), 4) for _ in range(n)]
        b = [Fraction(rng.randint(0, 4), 4) for _ in range(n)]
        d = [x - y for x, y in zip(a, b)]
        mean = sum(d) / n
        var = sum((x - mean) ** 2 for x in d) / (n - 1)
        got = paired_difference([float(x) for x in a], [float(x) for x in b])
        assert got[0] == pytest.approx(float(mean), abs=1e-12)
        assert got[1] == pytest.approx(math.sqrt(float(var) / n), rel=1e-12)
    # a paired s.e. is smaller than the unpaired one when the questions drive both models alike
    a = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    b = [1.0, 0.75, 0.0, 0.25, 1.0, 0.0]
    unpaired = math.sqrt(sum((x - sum(a) / 6) ** 2 for x in a) / 5 / 6 + sum((x - sum(b) / 6) ** 2 for x in b) / 5 / 6)
    assert paired_difference(a, b)[1] < unpaired / 3


def test_paired_difference_refuses_unpaired_lists():
    for a, b in [([1.0, 0.0], [1.0]), ([1.0], [0.0]), ([], [])]:
        with pytest.raises(ValueError, match="same length"):
            paired_difference(a, b)


def test_off_language_hand_cases():
    zh_chain = " <think> 4x + 14 = 42。两边减去 14：4x = 28。 </think> <answer> 7 </answer>"
    en_chain = " <think> 4x + 14 = 42. Subtract 14: 4x = 28. </think> <answer> 7 </answer>"
    mixed = " <think> 两边减去 14, so 4x = 28 </think> <answer> 7 </answer>"
    symbols = " <think> 4x = 42 - 14 = 28, x = 28 / 4 = 7 </think> <answer> 7 </answer>"  # "x" is no word: no language
    # R1's format: the summary is not the chain
    r1_en = " |special_token|Subtract 14: 4x = 28.|special_token|所以 x = 7。"
    expected = {  # (zh question, en question)
        zh_chain: (False, True),
        en_chain: (True, False),
        mixed: (True, True),
        symbols: (False, False),
        r1_en: (True, False),
    }
    for text, (zh, en) in expected.items():
        assert (off_language(text, "zh"), off_language(text, "en")) == (zh, en), text
    # mixing is the narrower figure: a chain wholly in the other language is off-language but not mixed
    assert not mixes_languages(en_chain) and mixes_languages(mixed)


def test_sec3_pass_at_1():
    assert pass_at_1([[True, False, False, False], [True, True]]) == pytest.approx((1 / 4 + 1) / 2)
    assert pass_at_1([[False] * 16]) == 0.0
    rng = random.Random(0)
    rows = [[rng.random() < 0.3 for _ in range(rng.randint(1, 9))] for _ in range(50)]
    loop = 0.0
    for row in rows:  # float64 loop: pass@1 = mean over problems of (c / n)
        loop += sum(1.0 for x in row if x) / len(row)
    assert pass_at_1(rows) == pytest.approx(loop / len(rows), abs=1e-12)
    with pytest.raises(ValueError):
        pass_at_1([])
    with pytest.raises(ValueError):
        pass_at_1([[True], []])


# Answers and their equivalence classes, written by hand (not computed by normalize_answer).
CLASS = {
    "3/2": "A",
    "1.5": "A",
    "6/4": "A",
    " 3 / 2 ": "A",
    "2": "B",
    "+2": "B",
    "2.0": "B",
    "02": "B",
    "-2": "C",
    "7": "D",
    "x": "E",
}
CANONICAL = {"3/2": "A", "2": "B", "-2": "C", "7": "D", "x": "E"}


def brute_force_vote(answers):
    """The class with the most votes; of tied classes, the one whose first vote comes earliest."""
    classes = [CLASS[a] for a in answers if a is not None]
    if not classes:
        return None
    tally = {cl: classes.count(cl) for cl in set(classes)}
    top = max(tally.values())
    first_seen = {cl: classes.index(cl) for cl in tally}
    return min((cl for cl in tally if tally[cl] == top), key=first_seen.__getitem__)


def test_sec3_majority_vote_and_cons_at_k_brute_force():
    rng = random.Random(0)
    pool = list(CLASS) + [None, None]
    for _ in range(3000):
        answers = [rng.choice(pool) for _ in range(rng.randint(0, 9))]
        want = brute_force_vote(answers)
        voted = majority_vote(answers)
        assert (None if voted is None else CANONICAL[voted]) == want, answers
        reference = rng.choice(list(CANONICAL))
        assert cons_at_k(answers, reference) == (want is not None and want == CANONICAL[reference])
        assert cons_at_k(answers, lambda a: CANONICAL[a] == "B") == (want == "B")


def test_sec3_majority_vote_hand_cases():
    assert majority_vote([]) is None
    assert majority_vote([None, None]) is None
    assert majority_vote(["7", "2", "2.0", "7"]) == "7"  # 2 votes each: 7 was seen first
    assert majority_vote(["1.5", None, "7", "6/4"]) == "3/2"
    assert cons_at_k(["6/4", "7", "1.5"], "3/2") and not cons_at_k(["7", "7", "3/2"], "3/2")
    assert not cons_at_k([None, None], "3/2")
    assert cons_at_k(["6/4", "7", "1.5"], "1.50") and cons_at_k(["2", "2"], " 2.0 ")  # the reference is normalised too


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7 + 8 = 14. Wait, let me recheck: 7 + 8 = 15.", True),
        ("7 + 8 = 14. wait, 7 + 8 = 15.", True),
        ("Let me check: 15 - 8 = 7.", True),
        ("7 加 8 等于 14。等等，让我再检查一下：等于 15。", True),
        ("等等 7 加 8 等于 15", True),
        ("7 + 8 = 15. So the answer is 15.", False),
        ("Waiting for the carry: 7 + 8 = 15.", False),
        ("", False),
    ],
)
def test_has_reflection(text, expected):
    assert has_reflection(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think> 7 加 8 is 15 </think> <answer> 15 </answer>", True),
        ("<think> 7 加 8 等于 15 </think> <answer> 15 </answer>", False),
        ("<think> seven plus eight is fifteen </think> <answer> 15 </answer>", False),
        ("<think> 7 加 8 等于 15, x = 15 </think>", False),  # "x" is not a word
        ("<think>7 加 8 等于 15</think><answer>15</answer>", False),  # tag names are not words
        ("<think> seven plus eight </think> <answer> 十五 </answer>", False),  # only the CoT counts
        ("so 7 加 8 = 15 <answer> 15 </answer>", True),  # no think block: the text before <answer>
        ("|special_token|七加八 is 15|special_token|15", True),
        ("<think> 47 + 38 = 85 </think>", False),
    ],
)
def test_mixes_languages(text, expected):
    assert mixes_languages(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ones: 7 + 8 = 16, write 6 carry 1. Wait, let me recheck: 7 + 8 = 15, not 16. ones: 7 + 8 = 15", True),
        ("个位：7 + 8 = 16。等等，让我再检查一下：7 + 8 = 15，不是 16。", True),
        ("ones: 7 + 8 = 15. Wait, let me recheck: 7 + 8 = 15. Right.", False),  # a confirmation changes nothing
        ("7 + 8 is 15, not 16.", False),  # a correction without a reflection phrase
        ("Wait, let me recheck: x = 3, not -4.", True),
        ("", False),
    ],
)
def test_corrects_itself(text, expected):
    assert corrects_itself(text) is expected


# ----------------------------------------------------------------------------- reflects(): the aha presets' detector

REFLECT_CASES = [
    # a recheck that changes nothing: verify; one that fixes a value: correct (two hand-made cases)
    ("ones: 7 + 8 = 15, write 5 carry 1. Wait, let me recheck: 7 + 8 = 15. Right.", "verify"),
    ("ones: 7 + 8 = 16, write 6 carry 1. Wait, let me recheck: 7 + 8 = 15, not 16. ones: 7 + 8 = 15", "correct"),
    (
        "Try 7 * 3 = 21, 21 + 5 = 26. Wait, let me check: 7 * 3 = 21, 21 + 5 = 26. Right. It works: 7 * 3 + 5 = 26.",
        "verify",
    ),
    (
        "Try 8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56, not 26. Let me try another way. "
        "Try 7 * 3 = 21, 21 + 5 = 26.",
        "correct",
    ),
    (
        "Try 3 + 5 = 8, 8 * 7 = 56. That gives 56, not 26. Wait, let me try another way. Try 7 * 3 = 21, 21 + 5 = 26.",
        "backtrack",
    ),
    ("个位：7 + 8 = 16，写 6 进 1。等等，让我再检查一下：7 + 8 = 15，不是 16。", "correct"),
    (
        "试试 3 + 5 = 8，8 * 7 = 56。得到 56，不是 26。等等，换一种方法。"
        "试试 7 * 3 = 21，21 + 5 = 26。",
        "backtrack",
    ),
    ("试试 7 * 3 = 21，21 + 5 = 26。等等，让我验证一下：7 * 3 = 21，21 + 5 = 26，没错。", "verify"),
    # a verify and a correction in one response: the correction wins
    ("3 + 4 = 7. Wait, 3 + 4 = 7. Then 7 * 2 = 15. Wait, let me recheck: 7 * 2 = 14, not 15.", "correct"),
    # not reflections: no marker; a marker with nothing rechecked; a new equation only; "Waiting"
    ("7 + 8 = 16. 7 + 8 = 15, not 16.", "none"),  # a change of value, but no marker
    ("7 + 8 = 15. Wait, 15 is right.", "none"),  # a marker with no equation restated
    ("7 + 8 = 15. Wait, let me recheck: 9 + 1 = 10.", "none"),  # the equation after the marker is a new one
    ("Waiting for the carry: 7 + 8 = 15. 7 + 8 = 15.", "none"),
    (
        "Try 3 + 5 = 8, 8 * 7 = 56. That gives 56, not 56. Wait, let me try another way. Try 7 * 3 = 21.",
        "none",
    ),  # nothing rejected
    ("Try 3 + 5 = 8, 8 * 7 = 56. That gives 56, not 26. Wait, let me try another way.", "none"),  # no new try follows
    ("Wait, let me recheck: x = 3, not -4.", "none"),  # corrects_itself says yes: "x = -4" was never written
    ("", "none"),
]


@pytest.mark.parametrize("text, expected", REFLECT_CASES)
def test_reflects(text, expected):
    assert reflects(text) == expected


def test_reflects_reads_a_bounded_prefix_in_bounded_time():
    # a correction after MAX_REFLECT_CHARS is not read; adversarial strings take milliseconds
    pad = "1 + 1 = 2. " * (MAX_REFLECT_CHARS // 11 + 1)
    assert reflects(pad + "8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56.") == "none"
    assert reflects("8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56." + pad) == "correct"
    for bad in [
        "Wait, " * 20_000,
        "1 + 1 = 2. Wait, " * 10_000,
        "9" * 100_000 + " = 1",
        "(" * 50_000 + "1 + 1 = 2 Wait",
        "1 +" * 30_000,
    ]:
        t0 = time.perf_counter()
        assert reflects(bad) in ("none", "verify", "backtrack", "correct")
        assert time.perf_counter() - t0 < 0.5, bad[:30]
