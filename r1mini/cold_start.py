"""Section 2.3.1: DeepSeek-R1's cold-start data, a few thousand long chains of thought in a readable format.

"We construct and collect a small amount of long CoT data to fine-tune the model as the initial RL actor.
[...] directly prompting models to generate detailed answers with reflection and verification, gathering
DeepSeek-R1-Zero outputs in a readable format, and refining the results through post-processing [...]
we design a readable pattern that includes a summary at the end of each response and filter out
responses that are not reader-friendly: |special_token|<reasoning_process>|special_token|<summary>."

Both sources, on the toy world, each example an template.Example(prompt=template.r1_prompt(q), response=...):

(a) source "generator": the task generator writes the solution (corpus.worked_solution, in the question's
    language, never switching language, never keeping a wrong step), with the reflection and verification
    the paper asks for: sometimes a slip that is caught and corrected ("Wait, let me recheck: ..., not 16."),
    sometimes a right step rechecked and confirmed mid-way ("Wait, let me recheck: 7 + 8 = 15. Right."),
    and optionally (p_check) a closing check by the inverse operation ("Check: 85 - 38 = 47. Right."),
    off by default: it cost the cpu base most of its accuracy (see P_CHECK);
(b) source "r1_zero": correct R1-Zero outputs (Table 1's `<think> ... </think> <answer> ... </answer>`)
    rewritten by code into R1's format (the think text as the reasoning, a summary that states the result:
    our "post-processing"), kept only when `readable` (one language, the question's; not empty; not over
    MAX_CHARS; no leftover tags) and a long CoT (a worked solution, not a one-line direct answer).

    >>> from r1mini.toy.tasks import Problem
    >>> ex = generator_example(Problem("add", "What is 85 - 38?", "47", 2), random.Random(0), p_check=1.0)
    >>> print(ex.response)                                                 # doctest: +NORMALIZE_WHITESPACE
     |special_token|85 - 38: ones: 5 < 8, so 15 - 8 = 7, borrow 1. tens: 3 + 1 = 4, 8 - 4 = 4. So 85 - 38 = 47.
     Check: 47 + 38 = 85. Right.|special_token|So 85 - 38 = 47. The answer is <answer> 47 </answer>

    python -m pytest tests/test_cold_start.py     # each example parses, is right, is one language, verifies
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter

import torch

from r1mini.engine.common import pick_preset, set_seed
from r1mini.evaluate import EvalConfig, complete, is_worked, zero_prompt
from r1mini.pipeline import Run, finish_stage, reasoning_mix, train_problems
from r1mini.rewards import accuracy_reward, count_words
from r1mini.sft import SFT_PRESETS, train_sft, write_jsonl
from r1mini.template import (
    ANSWER,
    ANSWER_END,
    TAGS,
    Example,
    parse_r1_completion,
    parse_zero_completion,
    r1_completion,
    r1_prompt,
)
from r1mini.toy.corpus import parse_linear_side, worked_solution
from r1mini.toy.tasks import Problem, TaskMix, evaluate, get_mix, math_text, parse_expr

MAX_CHARS = 1500  # a readable response is at most this long (generator responses, all families and levels: <= ~650)
P_REFLECT = 0.3  # generator solutions with a slip that is caught and corrected ("Wait, let me recheck: ..., not 16.")
P_VERIFY = 0.3  # generator solutions with a right step rechecked mid-way ("Wait, let me recheck: 7 + 8 = 15. Right.")
# Generator solutions that end with a check of the result by the inverse operation ("Check: 85 - 38 = 47. Right.").
# 0 by default, measured: the cpu base SFT'd (cpu preset) on 1000 generator examples answers 45/64 train
# questions right with no closing check and 7/64 with one on every example (64 R1-prompted samples, T=0.6).
# The check is a multi-digit computation done in one step, which this base gets wrong about half the time,
# and the summary then copies the wrong check's numbers ("Check: 60 - 32 = 30. Right.|So 30 - 32 = 10").
P_CHECK = 0.0
OTHER = {"en": "zh", "zh": "en"}
WORDS = {
    "en": {
        "check": "Check: {}. Right.",
        "so": "So {} = {}.",
        "answer": "The answer is {} {} {}",
        ",": ", ",
        "sep": " ",
    },
    "zh": {
        "check": "验算：{}，正确。",
        "so": "所以 {} = {}。",
        "answer": "答案是 {} {} {}",
        ",": "，",
        "sep": "",
    },
}
ZERO_REASONS = ("malformed", "wrong", "short", "empty", "leftover_tags", "mixed_language", "overlong", "duplicate")


# ----------------------------------------------------------------------------- (a) the task generator writes it


def _signed(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def _ops(t) -> list[str]:
    """Every operation of an expression tree, children first: ["3 + 4 = 7", "2 * 7 = 14"]."""
    if isinstance(t, int):
        return []
    x, y = evaluate(t[1]), evaluate(t[2])
    return _ops(t[1]) + _ops(t[2]) + [f"{_signed(x)} {t[0]} {_signed(y)} = {evaluate(t)}"]


def _linear_side(a: int, b: int, x: int) -> str:
    """a * x + b with x substituted and worked out: "3 * 5 + 5 = 20"."""
    text = f"{a} * {_signed(x)}" if a != 1 else _signed(x)
    if b:
        text += f" {'+' if b > 0 else '-'} {abs(b)}"
    return f"{text} = {a * x + b}"


def check_steps(problem: Problem, answer: str) -> list[str]:
    """A verification of `answer` the reader can redo: the inverse operation for add and mul
    ("47 + 38 = 85" -> "85 - 38 = 47"), the solution substituted back for linear, every operation
    recomputed for expr and for a countdown answer (an expression)."""
    if problem.family == "countdown":
        return _ops(parse_expr(answer))
    math = math_text(problem)
    if problem.family == "expr":
        return _ops(parse_expr(math))
    if problem.family == "linear":
        sides = [parse_linear_side(side) for side in math.split(" = ")]  # "3x + 5" -> (3, 5); "20" -> (0, 20)
        return [_linear_side(a, b, int(answer)) for a, b in sides if a]  # "3 * 5 + 5 = 20" (= the right side)
    a, op, b = math.split()
    inverse = {"+": "-", "-": "+", "*": "/"}[op]
    return [f"{_signed(int(answer))} {inverse} {b} = {a}"]


def summary(problem: Problem, answer: str, lang: str) -> str:
    """The summary: the result stated, then the answer block, e.g. "So 47 + 38 = 85. The answer is
    <answer> 85 </answer>" / "所以 47 + 38 = 85。答案是 <answer> 85 </answer>". The answer block ends it
    (the sampler stops on </answer>)."""
    w = WORDS[lang]
    if problem.family == "countdown":
        stated = w["so"].format(answer, problem.target)
    elif problem.family == "linear":
        stated = w["so"].format("x", answer)
    else:
        stated = w["so"].format(math_text(problem), answer)
    return stated + w["sep"] + w["answer"].format(ANSWER, answer, ANSWER_END)


def generator_example(
    problem: Problem,
    rng: random.Random,
    p_reflect: float = P_REFLECT,
    p_verify: float = P_VERIFY,
    p_check: float = P_CHECK,
) -> Example:
    """(a) A cold-start example written by the task generator, in the question's language: a worked
    solution (with probability p_reflect a slip caught and corrected, else with p_verify a right step
    rechecked and confirmed), with probability p_check a closing check of the result (check_steps), and a
    summary that states the result and gives the answer block. See P_CHECK for why it is 0 by default."""
    lang = problem.lang
    u = rng.random()
    style = {"reflect": u < p_reflect, "verify": p_reflect <= u < p_reflect + p_verify}
    try:
        steps, answer = worked_solution(problem, lang, rng, **style)
    except RuntimeError:  # no step to slip on (a one-step problem): write it straight
        steps, answer = worked_solution(problem, lang, rng)
    w = WORDS[lang]
    reasoning = steps
    if rng.random() < p_check:
        reasoning += w["sep"] + w["check"].format(w[","].join(check_steps(problem, answer)))
    response = " " + r1_completion(reasoning, summary(problem, answer, lang))
    return Example(r1_prompt(problem.question), response, "generator", lang)


# ----------------------------------------------------------------------------- (b) R1-Zero outputs made readable


def unreadable_reason(text: str, lang: str) -> str | None:
    """Why an R1-format response is not reader-friendly, or None: "malformed" (not |sep|reasoning|sep|summary),
    "empty" (no reasoning or no summary), "leftover_tags" (a <think>/<answer> tag in the reasoning, or the
    summary not ending in exactly one answer block), "mixed_language" (a word of the other language than
    `lang` anywhere in it: rewards.count_words), "overlong" (over MAX_CHARS characters)."""
    parts = parse_r1_completion(text)
    if parts is None:
        return "malformed"
    reasoning, summ = parts
    if not reasoning or not summ:
        return "empty"
    if (
        any(tag in reasoning for tag in TAGS)
        or summ.count(ANSWER) != 1
        or summ.count(ANSWER_END) != 1
        or not summ.endswith(ANSWER_END)
    ):
        return "leftover_tags"
    if count_words(text)[OTHER[lang]] > 0:
        return "mixed_language"
    if len(text) > MAX_CHARS:
        return "overlong"
    return None


def readable(text: str, lang: str) -> bool:
    """2.3.1's filter: the response is in R1's format, one language (the question's), short enough, clean."""
    return unreadable_reason(text, lang) is None


def rewrite_reason(problem: Problem, completion: str) -> tuple[Example | None, str | None]:
    """(example, None) for an R1-Zero completion worth keeping, else (None, why): "malformed" (not Table 1's
    format), "wrong" (accuracy 0), "short" (a direct answer, not a worked CoT: evaluate.is_worked), or an
    unreadable_reason of the rewritten text."""
    parts = parse_zero_completion(completion)
    if parts is None:
        return None, "malformed"
    if accuracy_reward(completion, problem) != 1.0:
        return None, "wrong"
    think, answer = parts
    if not is_worked(think):
        return None, "short"
    response = " " + r1_completion(think, summary(problem, answer, problem.lang))
    if (why := unreadable_reason(response, problem.lang)) is not None:
        return None, why
    return Example(r1_prompt(problem.question), response, "r1_zero", problem.lang), None


def rewrite_zero_output(problem: Problem, completion: str) -> Example | None:
    """(b) A correct, readable R1-Zero output rewritten into R1's format (source "r1_zero"), else None."""
    return rewrite_reason(problem, completion)[0]


@torch.no_grad()
def sample_zero_outputs(
    model, tok, problems: list[Problem], k: int, max_new_tokens: int, temperature: float, seed: int
) -> list[tuple[Problem, str]]:
    """k R1-Zero completions per problem under Table 1's template (evaluate.zero_prompt), problem-major."""
    model.eval()
    cfg = EvalConfig(k=k, max_new_tokens=max_new_tokens, top_p=1.0, seed=seed)
    outs = complete(model, tok, problems, k, cfg, temperature=temperature, prompt_fn=zero_prompt)
    return [(p, text) for p, row in zip(problems, outs) for text, _ in row]


# ----------------------------------------------------------------------------- the set


def build_cold_start(
    zero_outputs: list[tuple[Problem, str]],
    n_generator: int,
    mix: TaskMix | str,
    seed: int,
    zh: float | None = None,
    **style,
) -> tuple[list[Example], dict]:
    """The cold-start set: every R1-Zero output that rewrite_reason keeps (identical responses to the same
    prompt kept once), plus n_generator generator examples on TRAIN-split questions drawn from `mix`
    (a TaskMix, or a TASK_MIXES name / spec; `zh` sets its share of Chinese questions, default 0.5 for a
    name or spec, the TaskMix's own otherwise; `style`: generator_example's p_reflect, p_verify, p_check).

    Returns (examples, counts) with counts = {"total", "sources": {"generator", "r1_zero"},
    "languages": {"en", "zh"}, "r1_zero_sampled", "r1_zero_dropped": {reason: n for each ZERO_REASONS}}."""
    if isinstance(mix, str):
        mix = get_mix(mix)
        zh = 0.5 if zh is None else zh
    if zh is not None:
        mix = dataclasses.replace(mix, zh=zh)
    dropped = Counter({r: 0 for r in ZERO_REASONS})
    examples, seen = [], set()
    for problem, completion in zero_outputs:
        ex, why = rewrite_reason(problem, completion)
        if ex is not None and (ex.prompt, ex.response) in seen:
            why = "duplicate"
        if why is not None:
            dropped[why] += 1
            continue
        seen.add((ex.prompt, ex.response))
        examples.append(ex)
    rng = random.Random(f"cold_start/{seed}")
    examples += [generator_example(p, rng, **style) for p in mix.sample(rng, n_generator, "train")]
    counts = {
        "total": len(examples),
        "sources": {src: sum(ex.source == src for ex in examples) for src in ("generator", "r1_zero")},
        "languages": {lang: sum(ex.language == lang for ex in examples) for lang in ("en", "zh")},
        "r1_zero_sampled": len(zero_outputs),
        "r1_zero_dropped": dict(dropped),
    }
    return examples, counts


# ----------------------------------------------------------------------------- the stage


def stage(run: Run) -> dict:
    """2.3.1: build the cold-start set and fine-tune the base on it."""
    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    zero = run.load("r1_zero")
    outs = sample_zero_outputs(
        zero,
        run.tok,
        train_problems(cfg, cfg.cold_zero_problems, "cold_zero"),
        cfg.cold_zero_k,
        max_new_tokens=cfg.max_new_tokens,
        temperature=1.0,
        seed=cfg.seed,
    )
    examples, counts = build_cold_start(outs, cfg.cold_generator, reasoning_mix(cfg), cfg.seed)
    d = run.stage_dir("cold_start")
    write_jsonl(examples, d / "cold_start.jsonl")
    model = run.load("base")
    scfg = dataclasses.replace(pick_preset(SFT_PRESETS, cfg.sft, "SFT preset"), epochs=cfg.cold_epochs, seed=cfg.seed)
    stats = train_sft(model, run.tok, examples, scfg, quiet=run.quiet, desc="2.3.1 cold-start SFT")
    return finish_stage(
        run, "cold_start", model, {"set": counts, "size": len(examples), "sft": stats}, time.time() - t0
    )
