"""Section 2.2.4 (Table 3, the "aha moment"; Fig. 3): how often responses reflect, and whether reflecting pays.

R1-Zero's reflection ("Wait, wait. That's an aha moment I can flag here", Table 3) is a behaviour to be
counted, not a phrase to be matched: `metrics.reflects(text)` says whether a response rechecks a value and
changes it ("correct"), backs off a try it found wrong ("backtrack"), rechecks a value and keeps it ("verify"),
or none of these. This file turns that per-response label into the figures of the "aha" presets (train_zero.py
--preset aha and its controls):

    share     the share of responses of each kind, and of any kind ("reflect")
    paired    on the problems where some samples reflect and some do not, the accuracy of each group
              (problem by problem, then averaged): does reflecting do work, or only decorate?
    curves    the same shares per RL step (training batch, `batch_reflection`) and per held-out curve point
              (`eval_reflection`), beside accuracy and length (train_zero.py writes them to curves.csv/png)
    tries     why a check can or cannot do work (`try_outcomes`): on countdown, each "Try ..." is a hit, a
              forged hit (the last step claims the target, its arithmetic does not give it), an honest miss
              (right arithmetic, not the target: the one a check can catch) or a slipped miss; and the share of
              the response's steps ("8 * 7 = 56") whose arithmetic is right

    python train_zero.py --preset aha      # writes reflection_before.json / reflection_after.json and the curves
    python -m r1mini.reflection --ckpt runs/base/aha-<hash>/model.pt   # a checkpoint on TRAIN problems at T = 1:
                                           # does reflecting pay where RL samples? (never the held-out set)

    >>> s = summarize_reflection([[("Try 2 + 3 = 5. It works", 10, True, "none"),
    ...                            ("... Wait, let me recheck ...", 30, True, "correct"),
    ...                            ("Try 2 * 3 = 5. It works", 10, False, "none")]])
    >>> s["pass@1"], s["reflect"], s["correct"], s["acc_reflect"], s["acc_plain"], s["paired_problems"]
    (0.6666666666666666, 0.3333333333333333, 0.3333333333333333, 1.0, 0.5, 1)
    >>> try_outcomes("Try 3 + 5 = 8, 8 * 7 = 26. It works.", 26)
    ['forged']
    >>> try_outcomes("Try 3 + 5 = 8, 8 * 7 = 56. That gives 56, not 26.", 26)
    ['honest_miss']

Checked by tests/test_reflection.py (every figure on hand-made responses, worked out by hand).
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter

import torch

from r1mini.engine.common import cli_main
from r1mini.evaluate import EvalConfig, _complete, zero_prompt
from r1mini.metrics import ANOTHER_WAY, REFLECT_KINDS, has_reflection, reflects
from r1mini.rewards import accuracy_reward, format_reward


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


TRY_OUTCOMES = ("hit", "forged", "honest_miss", "slipped_miss")
_TRY = re.compile(r"(?:Try|试试) ([^.。]{0,200})")  # a try: "Try 3 + 5 = 8, 8 * 7 = 56." up to its full stop
_STEP = re.compile(
    r"(?<![\d.(])(?<![-+*/] )(\d{1,4}) ([-+*/]) (\d{1,4}) = (\d{1,6})(?![\d])"
)  # "8 * 7 = 56", not inside "7 * 3 + 5 = 26"
MAX_TRY_CHARS = 4000  # try_outcomes / step_accuracy read this much of a response (time bounded on any string)


def _true_value(a: str, op: str, b: str) -> float | None:
    x, y = int(a), int(b)
    return {"+": x + y, "-": x - y, "*": x * y}.get(op, x / y if y else None)


def tries(text: str, target: int) -> list[tuple[str, bool]]:
    """Each countdown try of a response, in order: (outcome, gives_up). The outcome, one of TRY_OUTCOMES, comes
    from the try's last step "a op b = v": hit (v is the target and a op b gives it), forged (v is the target,
    a op b does not give it), honest_miss (v is right and is not the target: a check can catch it),
    slipped_miss (v is wrong and not the target). gives_up: before the next try (or within 120 characters),
    the response says it will try another way. A try with no step is skipped. Reads MAX_TRY_CHARS characters."""
    text = text[:MAX_TRY_CHARS]
    found = list(_TRY.finditer(text))
    out = []
    for i, m in enumerate(found):
        steps = _STEP.findall(m.group(1))
        if not steps:
            continue
        a, op, b, v = steps[-1]
        right = _true_value(a, op, b) == int(v)
        outcome = ("hit" if right else "forged") if int(v) == target else ("honest_miss" if right else "slipped_miss")
        end = found[i + 1].start() if i + 1 < len(found) else m.end() + 120
        out.append((outcome, ANOTHER_WAY.search(text[m.end() : end]) is not None))
    return out


def try_outcomes(text: str, target: int) -> list[str]:
    """The outcome of each countdown try of a response (see `tries`)."""
    return [o for o, _ in tries(text, target)]


def step_accuracy(texts: list[str]) -> tuple[int, int]:
    """(right, all) over every step "a op b = v" (non-negative integers) in the texts: is the arithmetic right?"""
    right = total = 0
    for text in texts:
        for a, op, b, v in _STEP.findall(text[:MAX_TRY_CHARS]):
            total += 1
            right += _true_value(a, op, b) == int(v)
    return right, total


def try_summary(rows: list[tuple[str, int]]) -> dict:
    """rows: (response, countdown target). The share of tries of each outcome, tries per response, and the
    share of steps whose arithmetic is right, and how often the response gives a try up ("try another way")
    after a hit and after an honest miss: why a check can or cannot do work on this model."""
    found = [t for text, target in rows for t in tries(text, target)]
    outcomes = [o for o, _ in found]
    right, total = step_accuracy([text for text, _ in rows])
    out = {f"tries_{o}": _mean(x == o for x in outcomes) for o in TRY_OUTCOMES}
    for o in ("hit", "honest_miss"):  # does the model tell a hit from a miss? it should give up after misses only
        out[f"gives_up_after_{o}"] = _mean(g for x, g in found if x == o)
    out["tries_per_response"] = len(outcomes) / len(rows) if rows else float("nan")
    out["steps_right"] = right / total if total else float("nan")
    return out


def batch_reflection(texts: list[str]) -> dict:
    """Per RL step: the share of the training batch's responses of each reflection kind, and of any kind."""
    kinds = [reflects(t) for t in texts]
    out = {"reflect": _mean(k != "none" for k in kinds)}
    out.update({f"reflect_{k}": _mean(x == k for x in kinds) for k in REFLECT_KINDS[1:]})
    return out


def summarize_reflection(rows: list[list[tuple[str, int, bool, str]]]) -> dict:
    """rows: per problem, its samples as (text, length in tokens, correct, reflects(text)).
    pass@1, mean length, the share of each kind, and the paired accuracies: over the problems with at least one
    reflective and one non-reflective sample, the mean over problems of each group's accuracy."""
    flat = [s for r in rows for s in r]
    out = {
        "n": len(rows),
        "pass@1": _mean(_mean(ok for _, _, ok, _ in r) for r in rows),  # section 3: mean over problems of p_i
        "length": _mean(n for _, n, _, _ in flat),
        "reflect": _mean(k != "none" for *_, k in flat),
    }
    out.update({k: _mean(x == k for *_, x in flat) for k in REFLECT_KINDS[1:]})
    paired = [r for r in rows if any(k != "none" for *_, k in r) and any(k == "none" for *_, k in r)]
    out["paired_problems"] = len(paired)
    out["acc_reflect"] = _mean(_mean(ok for _, _, ok, k in r if k != "none") for r in paired)
    out["acc_plain"] = _mean(_mean(ok for _, _, ok, k in r if k == "none") for r in paired)
    out["len_reflect"] = _mean(n for _, n, _, k in flat if k != "none")
    out["len_plain"] = _mean(n for _, n, _, k in flat if k == "none")
    return out


@torch.no_grad()
def eval_reflection(model, tok, problems, k: int, max_new_tokens: int, seed: int = 0) -> dict:
    """Sample k responses per problem as evaluate.evaluate_problems does (T = 0.6, top-p 0.95, the same seeds,
    so the same samples; no greedy decode) and summarize them: overall, per family, plus the figures the
    curves of train_zero.py need (format, has_reflection) and up to 5 self-corrections that end right."""
    ecfg = EvalConfig(k=k, max_new_tokens=max_new_tokens, seed=seed, greedy=False)
    model.eval()
    sampled = _complete(model, tok, problems, ecfg, k, ecfg.temperature, ecfg.top_p, ecfg.seed, zero_prompt)
    rows = [
        [(text, n, accuracy_reward(text, p) > 0, reflects(text)) for text, n in outs]
        for p, outs in zip(problems, sampled)
    ]
    result = {"all": summarize_reflection(rows)}
    result["all"]["format"] = _mean(format_reward(text) for outs in sampled for text, _ in outs)
    result["all"]["reflective"] = _mean(
        has_reflection(text) for outs in sampled for text, _ in outs
    )  # the old phrase match
    families = sorted({p.family for p in problems})
    result["families"] = {
        f: summarize_reflection([r for p, r in zip(problems, rows) if p.family == f]) for f in families
    }
    if "countdown" in families:
        result["families"]["countdown"].update(
            try_summary([(t, p.target) for p, r in zip(problems, rows) if p.family == "countdown" for t, *_ in r])
        )
    result["aha"] = [
        {"question": p.question, "response": text, "kind": kind}
        for p, r in zip(problems, rows)
        for text, _, ok, kind in r
        if ok and kind == "correct"
    ][:5]
    return result


def curve_point(step: int, res: dict) -> dict:
    """One row of curves.csv: the columns train_zero.py always wrote, then the reflection figures."""
    a = res["all"]
    row = {
        "step": step,
        "pass@1": a["pass@1"],
        "length": a["length"],
        "reflective": a["reflective"],
        "format": a["format"],
    }
    row.update({c: a[c] for c in ("reflect", "verify", "backtrack", "correct", "acc_reflect", "acc_plain")})
    row.update({f"{f}_pass@1": s["pass@1"] for f, s in res["families"].items()})
    return row


def reflection_table(before: dict, after: dict) -> list[str]:
    """Markdown lines: before/after RL, overall and per family, the figures comparing the aha presets and controls."""
    cols = (
        "pass@1",
        "length",
        "reflect",
        "verify",
        "backtrack",
        "correct",
        "acc_reflect",
        "acc_plain",
        "paired_problems",
    )
    lines = ["| set | when | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, get in [("heldout", lambda r: r["all"])] + [
        (f"heldout/{f}", lambda r, f=f: r["families"][f]) for f in before["families"]
    ]:
        for when, res in (("base", before), ("after RL", after)):
            s = get(res)
            lines.append(
                f"| {name} | {when} | "
                + " | ".join(f"{s[c]:.3f}" if c not in ("length", "paired_problems") else f"{s[c]:.0f}" for c in cols)
                + " |"
            )
    return lines


def tries_table(before: dict, after: dict) -> list[str]:
    """Markdown lines: countdown's try outcomes (try_summary) before/after RL; none without countdown problems."""
    if "tries_hit" not in before["families"].get("countdown", {}):
        return []
    cols = (
        "tries_per_response",
        *(f"tries_{o}" for o in TRY_OUTCOMES),
        "steps_right",
        "gives_up_after_hit",
        "gives_up_after_honest_miss",
    )
    lines = ["| heldout/countdown | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for when, res in (("base", before), ("after RL", after)):
        lines.append(f"| {when} | " + " | ".join(f"{res['families']['countdown'][c]:.3f}" for c in cols) + " |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m r1mini.reflection",
        description="Reflection kinds and paired accuracies of a checkpoint's samples on TRAIN problems of a task "
        "mix (RL's own distribution; never the held-out set).",
    )
    p.add_argument("--ckpt", required=True, help="a model.pt (base or policy)")
    p.add_argument("--mix", default="aha", help="task mix (r1mini/toy/tasks.py)")
    p.add_argument("--n", type=int, default=96, help="train problems")
    p.add_argument("--k", type=int, default=16, help="samples per problem")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (RL samples at 1.0)")
    p.add_argument("--max-new-tokens", type=int, default=160, help="longest response")
    p.add_argument("--seed", type=int, default=3, help="sampler seed")
    args = p.parse_args()
    from r1mini.engine.model import load_model
    from r1mini.toy.tasks import get_mix
    from r1mini.engine.tokenizer import get_tokenizer

    model, _ = load_model(args.ckpt, "cpu")
    model.eval()
    tok = get_tokenizer()
    problems = get_mix(args.mix).sample(random.Random("diag/7"), args.n, "train")
    ecfg = EvalConfig(k=args.k, max_new_tokens=args.max_new_tokens, greedy=False)
    with torch.no_grad():
        sampled = _complete(model, tok, problems, ecfg, args.k, args.temperature, 1.0, args.seed, zero_prompt)
    rows = [
        [(text, n, accuracy_reward(text, q) > 0, reflects(text)) for text, n in outs]
        for q, outs in zip(problems, sampled)
    ]
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in summarize_reflection(rows).items()})
    kinds = Counter(x[3] for r in rows for x in r)
    acc = {kd: round(sum(x[2] for r in rows for x in r if x[3] == kd) / kinds[kd], 3) for kd in kinds}
    print("responses by kind", dict(kinds), "accuracy by kind (pooled)", acc)
    cd = [(x[0], q.target) for q, r in zip(problems, rows) if q.family == "countdown" for x in r]
    if cd:
        print("countdown tries:", {k: round(v, 3) for k, v in try_summary(cd).items()})
    for text in [x[0] for r in rows for x in r if x[3] != "none"][:4]:
        print("example:", text[:300])


if __name__ == "__main__":
    cli_main(main)
