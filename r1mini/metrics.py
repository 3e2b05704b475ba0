"""Section 3 (evaluation): pass@1 over k samples, pass@k, cons@k; and the behaviours of 2.2.4 and 2.3.2
(reflection, the "aha moment" of Table 3; language mixing in the chain of thought).

Pure functions over correctness flags and texts; r1mini/evaluate.py samples the responses and calls them.

A library module (no CLI); its checks: `python -m pytest tests/test_metrics.py`.

    >>> pass_at_1([[True, False, False, False], [True, True, True, True]])     # (1/4 + 4/4) / 2
    0.625
    >>> round(pass_at_k(n=4, c=1, k=2), 4)                                    # 1 - C(3,2)/C(4,2)
    0.5
    >>> majority_vote(["85", None, "84", "85.0", "84"])                        # 85 and 84 tie: first seen wins
    '85'
    >>> has_reflection("7 + 8 = 14. Wait, let me recheck: 7 + 8 = 15.")
    True
    >>> mixes_languages("<think> 7 加 8 is 15 </think>")
    True
    >>> reflects("Try 8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56, not 26.")
    'correct'
    >>> reflects("7 + 8 = 15. Wait, let me check: 7 + 8 = 15. Right.")
    'verify'
    >>> paired_difference([1.0, 0.5, 0.0], [0.5, 0.5, 0.5])   # d = (0.5, 0, -0.5): mean 0, sd 0.5, se 0.5 / sqrt(3)
    (0.0, 0.28867513459481287)
"""

from __future__ import annotations

import re

from collections import Counter
from typing import Callable

from r1mini.rewards import count_words, language_share, normalize_answer
from r1mini.template import chain_of_thought

REFLECTION_PHRASES = ("Wait, let me recheck", "Wait,", "let me check", "等等，让我再检查一下", "等等")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): the chance that k of
    the n, drawn without replacement, hold at least one correct one, 1 - C(n-c, k) / C(n, k),
    computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i) in float64 (no huge binomials)."""
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def pass_at_1(correct: list[list[bool]]) -> float:
    """Section 3: pass@1 = (1/k) sum_i p_i per problem, averaged over problems (k may differ per problem)."""
    if not correct or not all(correct):
        raise ValueError("pass_at_1 needs at least one problem and at least one sample per problem")
    return sum(sum(row) / len(row) for row in correct) / len(correct)


def paired_difference(a: list[float], b: list[float]) -> tuple[float, float]:
    """Two models on the SAME questions: the mean of d_i = a_i - b_i (a_i, b_i: question i's pass rate over its
    k samples, evaluate.py's "per_question") and its standard error sd(d) / sqrt(n), sd with n - 1. The questions
    are the unit, so the s.e. holds both the draw of the questions and the draw of the k samples; pairing removes
    what the questions share (an easy question is easy for both). A difference under 2 s.e. is within the noise
    of the evaluation."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"paired_difference needs two lists of the same length >= 2, got {len(a)} and {len(b)}")
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / len(d)
    var = sum((x - mean) ** 2 for x in d) / (len(d) - 1)
    return mean, (var / len(d)) ** 0.5


def majority_vote(answers: list[str | None]) -> str | None:
    """The most frequent answer after normalize_answer ("6/4" and "1.5" vote together); None answers
    (unparsable) do not vote; a tie goes to the answer seen first. None if nobody voted."""
    votes = Counter(normalize_answer(a) for a in answers if a is not None)
    # a Counter iterates in first-seen order and max() keeps the first of equal maxima
    return max(votes, key=votes.__getitem__) if votes else None


def cons_at_k(answers: list[str | None], reference: str | Callable[[str], bool]) -> bool:
    """Section 3: cons@k, whether the majority-voted answer of the k samples is correct. `reference` is
    the reference answer (compared after normalize_answer) or a function that judges a voted answer."""
    voted = majority_vote(answers)
    if voted is None:
        return False
    if callable(reference):
        return bool(reference(voted))
    return voted == normalize_answer(reference)


def has_reflection(text: str) -> bool:
    """2.2.4 (Table 3, the "aha moment"): the response re-examines itself ("Wait, let me recheck", "等等")."""
    low = text.lower()
    return any(p.lower() in low for p in REFLECTION_PHRASES)


def corrects_itself(text: str) -> bool:
    """A reflection that changed a value: "Wait, let me recheck: 7 + 8 = 15, not 16." (not just "... Right.").

    >>> corrects_itself("7 + 8 = 16. Wait, let me recheck: 7 + 8 = 15, not 16.")
    True
    >>> corrects_itself("等等，让我再检查一下：7 + 8 = 15，没错。")
    False
    """
    return has_reflection(text) and re.search(r"(, not|，不是) -?\d", text) is not None


# ----------------------------------------------------------------------------- reflects(): the strict detector

REFLECT_KINDS = ("none", "verify", "backtrack", "correct")  # reflects() answers one; the later ones win
MAX_REFLECT_CHARS = 4000  # reflects() reads this much of a response (time bounded on any string)
_MARKER = re.compile(r"\b[Ww]ait\b[,.!]?|等等[，,]?")
_EQUATION = re.compile(
    r"(?<![\d.])(\(?-?\d{1,7}\)?(?: [-+*/] \(?-?\d{1,7}\)?){1,3}) = \(?(-?\d{1,8})\)?"
)  # "21 + 5 = 26"
_REJECTED = re.compile(
    r"(-?\d{1,8})\s?[,，]\s?(?:not|不是) (-?\d{1,8})\s?[.。]\s?$"
)  # "That gives 56, not 26." just before
ANOTHER_WAY = re.compile(r"try another|another way|换一种")


def reflects(text: str) -> str:
    """2.2.4, Table 3: what kind of reflection a response holds, judged on what it writes, not on a phrase alone.
    A reflection is a marker ("Wait", "等等") followed, before the next marker, by one of:

        correct    an equation whose left side was written before the marker with another value: a recheck
                   that changes a value ("8 * 7 = 26. Wait, let me recheck: 8 * 7 = 56, not 26.")
        backtrack  the sentence before the marker rejects a value ("That gives 56, not 26.", the two numbers
                   differ), the marker's sentence says it will try another way, and a new equation follows
        verify     an equation written before the marker with the same value, restated: a recheck that changes
                   nothing ("7 + 8 = 15. Wait, let me check: 7 + 8 = 15. Right.")

    The strongest kind found wins (correct > backtrack > verify); "none" if there is none. A marker with no
    such equation ("Wait, 26 is right.") is not a reflection here, unlike has_reflection's phrase match.
    Reads the first MAX_REFLECT_CHARS characters.

    >>> reflects("Try 3 + 5 = 8, 8 * 7 = 56. That gives 56, not 26. Wait, let me try another way. "
    ...          "Try 7 * 3 = 21, 21 + 5 = 26.")
    'backtrack'
    >>> reflects("7 + 8 = 15. Wait, 15 is right."), reflects("")
    ('none', 'none')
    """
    text = text[:MAX_REFLECT_CHARS]
    marks = [m.start() for m in _MARKER.finditer(text)][:50]
    if not marks:
        return "none"
    eqs = [
        (m.start(), " ".join(m.group(1).split()), m.group(2)) for m in _EQUATION.finditer(text)
    ]  # (position, lhs, value)
    best = 0
    for i, at in enumerate(marks):
        end = marks[i + 1] if i + 1 < len(marks) else len(text)
        before = {}
        for pos, lhs, v in eqs:
            if pos < at:
                before.setdefault(lhs, set()).add(v)
        after = [(lhs, v) for pos, lhs, v in eqs if at <= pos < end]
        if any(lhs in before and before[lhs] - {v} for lhs, v in after):
            return "correct"
        rejected = _REJECTED.search(text[max(0, at - 40) : at])
        if after and rejected and rejected.group(1) != rejected.group(2) and ANOTHER_WAY.search(text[at : at + 40]):
            best = max(best, 2)
        elif any(lhs in before and v in before[lhs] for lhs, v in after):
            best = max(best, 1)
    return REFLECT_KINDS[best]


def off_language(text: str, lang: str) -> bool:
    """2.3.2's problem in full: the chain of thought holds a word of a language other than the question's `lang`,
    so it is mixed or wholly in the other language (language_consistency_reward < 1). mixes_languages counts only
    the first; a chain of digits and symbols alone is in no language and not off.

    >>> off_language("<think> 4x = 42 - 14 = 28. Divide by 4: x = 7 </think>", "zh")
    True
    >>> off_language("<think> 两边除以 4：x = 7 </think>", "zh")
    False
    """
    return language_share(text, lang) < 1.0


def mixes_languages(text: str) -> bool:
    """2.3.2: the chain of thought holds both an English word (>= 2 ASCII letters, tags excluded) and a
    Chinese character (see rewards.count_words)."""
    counts = count_words(chain_of_thought(text))
    return counts["en"] > 0 and counts["zh"] > 0
