"""The toy tasks (r1mini/toy/tasks.py): answers checked by independent arithmetic, the split rule recomputed with
hashlib, no train/test overlap, fixed benchmarks, task mixes, bad input."""

import ast
import hashlib
import random
import re
from collections import Counter
from fractions import Fraction

import pytest
from conftest import OPS, ast_eval

from r1mini.engine.common import ConfigError
from r1mini.rewards import eval_countdown
from r1mini.toy.tasks import (
    BENCHMARKS,
    FAMILIES,
    LEVELS,
    TASK_MIXES,
    Problem,
    TaskMix,
    benchmark,
    evaluate,
    generate,
    get_mix,
    heldout,
    parse_expr,
    render,
    solve_countdown,
    split_of,
)

# ----------------------------------------------------------------------------- independent helpers


def ast_intermediates(text: str) -> list[Fraction]:
    out = []

    def walk(node):
        if isinstance(node, ast.Constant):
            return Fraction(node.value)
        v = OPS[type(node.op)](walk(node.left), walk(node.right))
        out.append(v)
        return v

    walk(ast.parse(text, mode="eval").body)
    return out


def math_of(p: Problem) -> str:
    """The math of a question, by a regex of our own (not the module's math_text)."""
    m = re.fullmatch(r"What is (.+)\?|计算 (.+)。|Solve for x: (.+)\.|解方程 (.+)，求 x。", p.question)
    assert m, p.question
    return next(g for g in m.groups() if g)


def expected_split(p: Problem) -> str:
    """The documented rule, recomputed: blake2b (8 bytes, big-endian) of "family:math" mod 10 == 0 -> test."""
    if p.family == "countdown":
        key = f"countdown:{','.join(map(str, sorted(p.numbers)))}->{p.target}"
    else:
        key = f"{p.family}:{math_of(p)}"
    if (p.family, p.level) in {("add", 1), ("mul", 1)}:
        return "train"
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return "test" if h % 10 == 0 else "train"


def linear_holds(equation: str, x: int) -> bool:
    """Substitute x into "3x + 5 = 20" / "5x + 3 = 2x + 18" and compare the two sides."""
    sub = lambda side: ast_eval(re.sub(r"(\d*)x", lambda m: f"({m.group(1) or 1} * {x})", side))  # noqa: E731
    left, right = equation.split(" = ")
    return sub(left) == sub(right)


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("family", FAMILIES)
def test_answers_are_right_for_every_level(family, lang):
    for level in LEVELS:
        for p in generate(family, level, 150, seed=1, lang=lang):
            assert (p.family, p.level, p.lang) == (family, level, lang)
            if family == "countdown":
                assert len(p.numbers) == level + 2 and p.answer == str(p.target) and p.target > 0
                assert all(str(n) in p.question for n in p.numbers) and str(p.target) in p.question
                # a solution exists; checked by the reward module's own evaluator
                assert eval_countdown(render(solve_countdown(p.numbers, p.target)), p.numbers) == p.target
                continue
            math = math_of(p)
            if family == "linear":
                assert linear_holds(math, int(p.answer)), p
                assert ("x" in math.split(" = ")[1]) == (level == 4)
            else:
                assert ast_eval(math) == int(p.answer), p


def test_add_and_mul_operands_follow_the_levels():
    for level in LEVELS:
        negatives = 0
        for p in generate("add", level, 300, seed=2):
            a, op, b = math_of(p).split()
            assert len(a) == len(b) == level and op in "+-"
            negatives += int(p.answer) < 0
        assert (negatives > 0) == (level >= 3)  # levels 1-2 stay >= 0
    shapes = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}
    for level, (da, db) in shapes.items():
        for p in generate("mul", level, 200, seed=2):
            a, op, b = math_of(p).split()
            assert (len(a), op, len(b)) == (da, "*", db)


def test_expr_levels_numbers_parentheses_and_bounds():
    for level in LEVELS:
        seen_negative = False
        for p in generate("expr", level, 200, seed=3):
            math = math_of(p)
            assert len(re.findall(r"\d+", math)) == (3, 4, 4, 5)[level - 1]
            assert ("(" in math) == (level >= 3)
            values = ast_intermediates(math)
            assert max(abs(v) for v in values) <= 100
            seen_negative |= min(values) < 0
        assert seen_negative == (level >= 3)


def test_render_and_parse_round_trip_and_evaluate_matches_python():
    rng = random.Random(0)
    for _ in range(500):
        text = " ".join(
            str(rng.randint(1, 20)) if i % 2 == 0 else rng.choice("+-*") for i in range(2 * rng.randint(1, 5) + 1)
        )
        for _ in range(rng.randint(0, 2)):  # put in a few random parentheses
            nums = [m.span() for m in re.finditer(r"\d+", text)]
            i, j = sorted(rng.sample(range(len(nums)), 2)) if len(nums) > 1 else (0, 0)
            text = text[: nums[i][0]] + "(" + text[nums[i][0] : nums[j][1]] + ")" + text[nums[j][1] :]
        tree = parse_expr(text)
        assert evaluate(tree) == ast_eval(text)
        assert parse_expr(render(tree)) == tree
        assert ast_eval(render(tree)) == ast_eval(text)
    assert render(parse_expr("1 - (2 - 3)")) == "1 - (2 - 3)" and render(parse_expr("(1 - 2) - 3")) == "1 - 2 - 3"
    for bad in ["1 +", "(1 + 2", "1 2", "2 ** 3", "x + 1"]:
        with pytest.raises(ValueError):
            parse_expr(bad)


def test_solve_countdown_against_brute_force():
    """Our search vs. a brute force over every expression of 3 numbers whose intermediate values are
    positive integers (the rule the generator uses): the same targets are solvable."""
    from itertools import permutations, product

    def brute(nums) -> set[int]:
        found = set()
        for (a, b, c), (o1, o2) in product(set(permutations(nums)), product("+-*/", repeat=2)):
            for inner, outer in (
                (f"{a} {o1} {b}", f"({a} {o1} {b}) {o2} {c}"),
                (f"{b} {o2} {c}", f"{a} {o1} ({b} {o2} {c})"),
            ):
                try:
                    vals = [ast_eval(inner), ast_eval(outer)]
                except ZeroDivisionError:
                    continue
                if all(v > 0 and v.denominator == 1 for v in vals):
                    found.add(int(vals[1]))
        return found

    rng = random.Random(5)
    for _ in range(30):
        nums = tuple(rng.randint(1, 9) for _ in range(3))
        reachable = brute(nums)
        for target in range(1, 100):
            tree = solve_countdown(nums, target)
            assert (tree is not None) == (target in reachable), (nums, target)
            if tree is not None:
                assert eval_countdown(render(tree), nums) == target
    assert solve_countdown((2, 3), 7) is None and solve_countdown((5,), 5) == 5


def test_chinese_questions():
    en, zh = generate("add", 2, 5, seed=0), generate("add", 2, 5, seed=0, lang="zh")
    assert all(p.question.startswith("计算 ") and p.question.endswith("。") for p in zh)
    assert generate("linear", 2, 1, seed=0, lang="zh")[0].question.startswith("解方程 ")
    assert "凑出" in generate("countdown", 1, 1, seed=0, lang="zh")[0].question
    assert {p.lang for p in en} == {"en"} and {p.lang for p in zh} == {"zh"}


def test_generate_is_deterministic():
    for family in FAMILIES:
        assert generate(family, 2, 20, seed=7) == generate(family, 2, 20, seed=7)
        assert generate(family, 2, 20, seed=7) != generate(family, 2, 20, seed=8)


# ----------------------------------------------------------------------------- the split


def test_split_rule_recomputed_with_hashlib():
    for family in FAMILIES:
        for level in LEVELS:
            for split in ("train", "test") if (family, level) not in {("add", 1), ("mul", 1)} else ("train",):
                for p in generate(family, level, 60, seed=4, split=split):
                    assert split_of(p) == expected_split(p) == split
    # the same problem in Chinese is the same problem
    for p in generate("add", 2, 30, seed=4, split="test", lang="zh"):
        assert expected_split(Problem("add", f"What is {math_of(p)}?", p.answer, 2)) == "test"


def test_train_and_test_never_overlap_and_test_is_about_a_tenth():
    # exhaustive for add level 2: every 2-digit problem, split by the recomputed rule
    everything = [
        Problem("add", f"What is {a} {op} {b}?", "0", 2)
        for a in range(10, 100)
        for b in range(10, 100)
        for op in "+-"
        if op == "+" or a >= b
    ]
    share = Counter(expected_split(p) for p in everything)["test"] / len(everything)
    assert 0.08 < share < 0.12, share
    # large samples of both splits, every family: disjoint keys
    for family in FAMILIES:
        level = 2
        train = {
            math_of(p) if family != "countdown" else (p.numbers, p.target)
            for p in generate(family, level, 2000, seed=5)
        }
        test = {
            math_of(p) if family != "countdown" else (p.numbers, p.target)
            for p in generate(family, level, 2000, seed=5, split="test")
        }
        assert train and test and not train & test, family


def test_tiny_spaces():
    """Level 1 of add and mul is the single-digit table: all train, no test split. Linear level 1 has a
    test split of about a hundred problems: drawing more just repeats them."""
    for family in ("add", "mul"):
        with pytest.raises(ConfigError, match="no test split"):
            generate(family, 1, 1, seed=0, split="test")
        assert {split_of(p) for p in generate(family, 1, 300, seed=0)} == {"train"}
    test = generate("linear", 1, 2000, seed=0, split="test")
    keys = {p.question for p in test}
    assert 50 < len(keys) < 150 and all(expected_split(p) == "test" for p in test)


# ----------------------------------------------------------------------------- benchmarks, held-out sets, mixes


def test_benchmarks_are_fixed_held_out_and_distinct():
    for name, size in (("medium", 100), ("hard", 50)):
        problems = benchmark(name)
        assert len(problems) == size == sum(n for *_, n in BENCHMARKS[name])
        assert problems == benchmark(name)
        assert all(expected_split(p) == "test" for p in problems)
        assert len({p.question for p in problems}) == size
        assert Counter((p.family, p.level) for p in problems) == {(f, lv): n for f, lv, n in BENCHMARKS[name]}
    hard = {p.family for p in benchmark("hard")}
    assert {"countdown", "expr"} <= hard
    assert Counter(p.family for p in benchmark("medium")).most_common(2) == [("add", 40), ("mul", 40)]
    with pytest.raises(ConfigError, match="medium"):
        benchmark("aime")


def test_heldout_draws_distinct_test_problems_of_the_mix():
    mix = TASK_MIXES["cpu"]
    a, b = heldout(mix, 128, seed=1234), heldout(mix, 128, seed=1234)
    assert a == b and a != heldout(mix, 128, seed=1)
    assert len({p.question for p in a}) == 128
    assert all(expected_split(p) == "test" for p in a)
    allowed = {(f, lv) for f, lv, _ in mix.parts}
    assert {(p.family, p.level) for p in a} <= allowed


def test_task_mix_sampling_follows_the_weights():
    mix = TaskMix((("add", 2, 3.0), ("mul", 2, 1.0)), zh=0.25)
    ps = mix.sample(random.Random(0), 4000)
    counts = Counter(p.family for p in ps)
    assert abs(counts["add"] / 4000 - 0.75) < 0.03
    assert abs(sum(p.lang == "zh" for p in ps) / 4000 - 0.25) < 0.03
    assert all(split_of(p) == "train" for p in ps)
    assert mix.sample(random.Random(3), 10) == mix.sample(random.Random(3), 10)
    assert all(expected_split(p) == "test" for p in mix.sample(random.Random(0), 50, split="test"))


def test_mix_presets_and_specs():
    assert set(TASK_MIXES) >= {"smoke", "cpu", "gpu"}
    assert {(f, lv) for f, lv, _ in TASK_MIXES["cpu"].parts} <= {("add", 2), ("mul", 2), ("linear", 1)}
    assert {"expr", "linear", "countdown"} <= {f for f, _, _ in TASK_MIXES["gpu"].parts}
    mix = TaskMix.parse("add:2:4,expr:1-3:0.5")
    assert mix.parts == (("add", 2, 4.0), ("expr", 1, 0.5), ("expr", 2, 0.5), ("expr", 3, 0.5))
    assert get_mix("cpu") is TASK_MIXES["cpu"] and get_mix("mul:3:1").parts == (("mul", 3, 1.0),)


def test_bad_input_names_the_valid_choices():
    with pytest.raises(ConfigError, match="add, mul, expr, linear, countdown"):
        generate("division", 1, 1, seed=0)
    with pytest.raises(ConfigError, match="1, 2, 3, 4"):
        generate("add", 5, 1, seed=0)
    with pytest.raises(ConfigError, match="train, test"):
        generate("add", 2, 1, seed=0, split="dev")
    with pytest.raises(ConfigError, match="en, zh"):
        generate("add", 2, 1, seed=0, lang="fr")
    for spec in ["add:2", "add:x:1", "add:2:-1", "nope"]:
        with pytest.raises(ConfigError):
            get_mix(spec)
    with pytest.raises(ConfigError, match="no test split"):
        heldout(TaskMix.parse("add:1:1"), 5)


def test_generation_is_fast():
    import time

    t0 = time.perf_counter()
    TASK_MIXES["gpu"].sample(random.Random(0), 3000)
    assert time.perf_counter() - t0 < 3.0


def test_a_countdown_in_any_order_of_its_numbers_is_the_same_problem_and_split():
    """The split key of a countdown is its multiset of numbers and its target: the same puzzle with its numbers listed
    in another order is the same problem, in the same split (so a reordered test puzzle can never train)."""
    import dataclasses

    for level in (1, 2, 3):
        for p in generate("countdown", level, 20, seed=6, split="test"):
            for numbers in (tuple(reversed(p.numbers)), p.numbers[1:] + p.numbers[:1]):
                q = dataclasses.replace(p, numbers=numbers)
                assert expected_split(q) == split_of(q) == "test", (p.numbers, numbers)


def test_the_single_digit_tables_are_all_train_every_problem_enumerated():
    """Level 1 of add and mul, the single-digit tables, is all in the pretraining corpus: every one of its problems,
    written out here (a + b, a - b, a * b for digits a, b), is "train", though about a tenth of the same keys would
    hash to "test" at another level."""
    table = [("add", f"{a} + {b}", a + b) for a in range(10) for b in range(10)]
    table += [("add", f"{a} - {b}", a - b) for a in range(10) for b in range(a + 1)]
    table += [("mul", f"{a} * {b}", a * b) for a in range(10) for b in range(10)]
    problems = [Problem(family, f"What is {math}?", str(value), 1) for family, math, value in table]
    assert all(split_of(p) == "train" for p in problems), "the single-digit tables have no test split"
    at_level_2 = sum(expected_split(Problem(p.family, p.question, p.answer, 2)) == "test" for p in problems)
    assert 5 <= at_level_2 <= 50, at_level_2  # the rule the tables are exempt from would hold some out
