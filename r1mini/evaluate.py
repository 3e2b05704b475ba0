"""Section 3 (evaluation setup): pass@1 over k samples, cons@k, pass@k, plus the figures of section 2.2.4.

The paper evaluates reasoning models by sampling k responses per problem at temperature 0.6, top-p 0.95
and reporting

    pass@1 = 1/k sum_i p_i            (p_i = correctness of the i-th response, averaged over problems)
    cons@k = majority vote over the k answers (ties to the first seen; unparsable answers do not vote)

Both are computed by r1mini/metrics.py (pass_at_1, cons_at_k; tested there against brute force); this file
samples the responses, scores them and tabulates (tests/test_evaluate.py: every figure on fixed responses,
worked out by hand). We add the unbiased pass@k estimator (Chen et al. 2021), greedy accuracy, the format
rate, the mean response length (Fig. 3), the share of responses that reflect ("Wait, let me recheck", the
"aha" of Table 3), the share that mix languages (the R1-Zero problem that section 2.3.2 fixes), and the
share of worked (multi-step) solutions vs direct answers, each per benchmark set and per task family.

    python -m r1mini.evaluate --ckpt runs/base/cpu-*/model.pt     # the cached cpu base: heldout + medium + hard
    python -m r1mini.evaluate --ckpt runs/zero/cpu-.../model.pt   # any checkpoint
    python -m r1mini.evaluate --ckpt ... --sets medium --k 16 --json out.json

The numbers it prints for our base model are in docs/evaluation.md, after R1-Zero in docs/r1_zero.md. Under torchrun
(train_zero.py's evaluations) every rank samples a share of the problems and the completions are gathered,
so the figures are the one-process figures (tests/test_distributed.py).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass

import torch

from r1mini.engine import dist
from r1mini.engine.common import ConfigError, add_config_args, cli_main, config_from_args, write_json
from r1mini.metrics import (
    cons_at_k,
    corrects_itself,
    has_reflection,
    mixes_languages,
    off_language,
    paired_difference,
    pass_at_1,
    pass_at_k,
)
from r1mini.rewards import accuracy_reward, extract_answer, format_reward, normalize_answer
from r1mini.engine.sampler import SamplingConfig, generate
from r1mini.template import r1_prompt, r1_zero_prompt


@dataclass
class EvalConfig:
    k: int = 8  # samples per problem
    temperature: float = 0.6  # sampling temperature (section 3: 0.6)
    top_p: float = 0.95  # nucleus sampling (section 3: 0.95)
    max_new_tokens: int = 128  # longest response, in tokens
    greedy: bool = True  # also decode greedily once per problem
    batch: int = 64  # problems per sampler call
    seed: int = 0  # sampler seed (per batch of problems: seed + index of its first problem)

    def validate(self) -> None:
        if self.k < 1 or self.batch < 1 or self.max_new_tokens < 1:
            raise ConfigError("k, batch and max_new_tokens must be >= 1")


def zero_prompt(problem) -> str:
    """The prompt of a task problem under the R1-Zero template (Table 1)."""
    return r1_zero_prompt(problem.question)


def is_worked(completion: str) -> bool:
    """A worked (multi-step) solution rather than a direct answer: its thinking holds >= 2 equations."""
    think = completion.split("</think>")[0]
    return think.count("=") + think.count("等于") >= 2


def _complete(model, tok, problems, cfg: EvalConfig, n: int, temperature: float, top_p: float, seed: int, prompt_fn):
    """Decoded completions, n per problem, problem-major: [[o_1..o_n] for each problem].

    Under torchrun every rank is given all the problems, samples its share of each batch (dist.shard_range;
    the sampler draws what one process would for those rows) and gets everyone's completions back, in order:
    the same list as one process, on every rank."""
    scfg = SamplingConfig(cfg.max_new_tokens, temperature, top_p=top_p, stop_ids=(tok.eot_id, tok.answer_end_id))
    out = []
    for b0 in range(0, len(problems), cfg.batch):
        chunk = problems[b0 : b0 + cfg.batch]
        lo, hi = dist.shard_range(len(chunk))  # this rank's problems of the batch: all of them in one process
        prompts = [tok.encode(prompt_fn(p), allow_special=True) for p in chunk[lo:hi]]
        texts = []
        if prompts:
            s = generate(
                model, prompts, scfg, n_samples=n, seed=seed + b0, pad_id=tok.pad_id, first=lo, total=len(chunk)
            )
            rows = [
                [t for t, m in zip(r, mr) if m and t != tok.eot_id] for r, mr in zip(s.tokens.tolist(), s.mask.tolist())
            ]
            texts = [(tok.decode(r), len(r)) for r in rows]
        texts = dist.all_gather_lists(texts)  # [(text, n_tokens)] * (len(chunk) * n), problem-major
        out.extend(texts[i * n : (i + 1) * n] for i in range(len(chunk)))
    return out


@torch.no_grad()
def evaluate_problems(model, tok, problems, cfg: EvalConfig, prompt_fn=zero_prompt, format_fn=format_reward) -> dict:
    """All figures for one list of problems, overall and per family, plus a few example responses.

    prompt_fn(problem) -> prompt text (default: the R1-Zero template); format_fn(completion, problem) -> 1.0 if
    the response has the expected shape (default: R1-Zero's strict think/answer format, rewards.format_reward).
    pass@1, cons@k and pass@k are metrics.pass_at_1 / cons_at_k / pass_at_k (in summarize and below)."""
    model.eval()
    sampled = _complete(model, tok, problems, cfg, cfg.k, cfg.temperature, cfg.top_p, cfg.seed, prompt_fn)
    greedy = _complete(model, tok, problems, cfg, 1, 0.0, 1.0, cfg.seed, prompt_fn) if cfg.greedy else None
    rows = []
    for i, (p, outs) in enumerate(zip(problems, sampled)):
        correct = [accuracy_reward(text, p) for text, _ in outs]
        answers = [normalize_answer(a) if (a := extract_answer(text)) is not None else None for text, _ in outs]

        # cons@k: the voted answer is judged by accuracy_reward on a response that gave it (countdown answers
        # are programs, not strings to compare)
        def judge(voted):  # the voted answer is right: a response that gave it earns the accuracy reward
            return accuracy_reward(next(t for (t, _), a in zip(outs, answers) if a == voted), p) > 0

        rows.append(
            {
                "family": p.family,
                "correct": correct,
                "cons": float(cons_at_k(answers, judge)),
                "greedy": accuracy_reward(greedy[i][0][0], p) if greedy else float("nan"),
                "format": [format_fn(text, p) for text, _ in outs],
                "length": [n for _, n in outs],
                "reflect": [has_reflection(text) for text, _ in outs],
                "mixed": [mixes_languages(text) for text, _ in outs],
                "off_lang": [off_language(text, p.lang) for text, _ in outs],
                "worked": [is_worked(text) for text, _ in outs],
            }
        )
    result = {"all": summarize(rows, cfg.k)}
    # each question's pass rate over its k samples, beside the question: two models are compared on the same
    # questions by metrics.paired_difference
    result["questions"] = [p.question for p in problems]
    result["per_question"] = [sum(r["correct"]) / len(r["correct"]) for r in rows]
    by_family = defaultdict(list)
    for r in rows:
        by_family[r["family"]].append(r)
    result["families"] = {f: summarize(rs, cfg.k) for f, rs in sorted(by_family.items())}
    result["examples"] = [
        {"question": p.question, "answer": p.answer, "response": outs[0][0]}
        for p, outs in list(zip(problems, sampled))[:8]
    ]
    # "aha" candidates (Table 3 analog): responses that reflect and still end correct, those whose recheck
    # changed a value ("..., not 16") first
    aha = [
        {"question": p.question, "answer": p.answer, "response": text}
        for p, outs, r in zip(problems, sampled, rows)
        for (text, _), ok, refl in zip(outs, r["correct"], r["reflect"])
        if ok and refl
    ]
    result["aha"] = sorted(aha, key=lambda a: not corrects_itself(a["response"]))[:5]
    return result


def paired(a: dict, b: dict) -> tuple[float, float] | None:
    """Two evaluate_problems results on the same questions -> (pass@1 of a - pass@1 of b, its standard error),
    metrics.paired_difference over the questions; None when they were not the same questions in the same order
    (or a result predates per-question figures)."""
    if "per_question" not in a or "per_question" not in b or a["questions"] != b["questions"]:
        return None
    return paired_difference(a["per_question"], b["per_question"])


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def summarize(rows: list[dict], k: int) -> dict:
    flat = lambda key: [x for r in rows for x in r[key]]  # noqa: E731
    worked = flat("worked")
    correct = flat("correct")
    acc_if = lambda want: _mean(c for c, w in zip(correct, worked) if w == want)  # noqa: E731
    return {
        "n": len(rows),
        "pass@1": pass_at_1([r["correct"] for r in rows]) if rows else float("nan"),
        f"pass@{k}": _mean(pass_at_k(k, int(sum(r["correct"])), k) for r in rows),
        f"cons@{k}": _mean(r["cons"] for r in rows),
        "greedy": _mean(r["greedy"] for r in rows),
        "format": _mean(flat("format")),
        "length": _mean(flat("length")),
        "reflective": _mean(flat("reflect")),
        "mixed_lang": _mean(flat("mixed")),
        "off_lang": _mean(flat("off_lang")),
        "worked": _mean(worked),
        "acc_worked": acc_if(True),
        "acc_direct": acc_if(False),
    }


COLUMNS = (
    "n",
    "pass@1",
    "cons@k",
    "pass@k",
    "greedy",
    "format",
    "length",
    "worked",
    "acc_worked",
    "acc_direct",
    "reflective",
    "mixed_lang",
)


def format_table(results: dict, k: int) -> str:
    """results: set name -> evaluate_problems(...) output. One row per set and per family."""
    head = [c.replace("@k", f"@{k}") for c in COLUMNS]
    lines = ["| set | " + " | ".join(head) + " |", "|" + "---|" * (len(head) + 1)]
    for name, res in results.items():
        for label, s in [(name, res["all"])] + [(f"  {name}/{f}", v) for f, v in res["families"].items()]:
            cells = [f"{s[c]:.0f}" if c in ("n", "length") else f"{s[c]:.3f}" for c in head]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def complete(
    model, tok, items, n: int, cfg: EvalConfig, temperature: float | None = None, prompt_fn=zero_prompt
) -> list[list[tuple[str, int]]]:
    """n sampled responses per item (a task problem or a general request), item-major: [[(text, n_tokens)] * n]."""
    t = cfg.temperature if temperature is None else temperature
    return _complete(model, tok, items, cfg, n, t, cfg.top_p if t > 0 else 1.0, cfg.seed, prompt_fn)


def r1_prompt_of(item) -> str:
    """The prompt of every DeepSeek-R1 stage (2.3.1-2.3.4) and of the distilled students: the chat format."""
    return r1_prompt(item.question)


@torch.no_grad()
def evaluate_general(model, tok, n: int, cfg: EvalConfig, prompt_fn=r1_prompt_of, seed: int = 0) -> dict:
    """2.3.4's two figures on held-out general requests (r1mini/toy/general.py), judged by the hidden annotator:
    helpfulness = mean gold_helpfulness (the summary) over n requests of the non-adversarial kinds,
    harmlessness = share of responses with gold_harmless = 1 (the whole response) over n adversarial requests;
    cfg.k samples each. Also per kind, and a few examples."""
    from r1mini.toy.general import (
        ADVERSARIAL_KINDS,
        HELPFUL_KINDS,
        KINDS,
        general_prompts,
        gold_harmless,
        gold_helpfulness,
    )

    model.eval()
    out, examples = {"helpfulness": [], "harmlessness": []}, []
    per_kind = defaultdict(list)
    for figure, kinds, judge in (
        ("helpfulness", HELPFUL_KINDS, gold_helpfulness),
        ("harmlessness", ADVERSARIAL_KINDS, gold_harmless),
    ):
        prompts = general_prompts(n, "test", seed=seed, kinds=kinds)
        for p, outs in zip(prompts, complete(model, tok, prompts, cfg.k, cfg, prompt_fn=prompt_fn)):
            scores = [judge(p, text) for text, _ in outs]
            out[figure] += scores
            per_kind[p.kind] += scores
            if len(examples) < 2 * len(KINDS) and not any(
                e["kind"] == p.kind and e["language"] == p.language for e in examples
            ):
                examples.append(
                    {"kind": p.kind, "language": p.language, "question": p.question, "response": outs[0][0]}
                )
    return {
        "helpfulness": _mean(out["helpfulness"]),
        "harmlessness": _mean(out["harmlessness"]),
        "kinds": {k: _mean(v) for k, v in sorted(per_kind.items())},
        "examples": examples,
    }


def eval_sets(names, heldout_mix: str = "cpu", heldout_n: int = 128) -> dict:
    """Problem lists by name: the fixed benchmarks "medium" and "hard", and "heldout" (the test split
    of a task mix: the problems R1-Zero's training distribution could have had, but never did)."""
    from r1mini.toy.tasks import TASK_MIXES, benchmark, heldout

    sets = {}
    for name in names:
        sets[name] = heldout(TASK_MIXES[heldout_mix], heldout_n, seed=1234) if name == "heldout" else benchmark(name)
    return sets


def main() -> None:
    from r1mini.engine.model import load_model
    from r1mini.engine.tokenizer import get_tokenizer

    p = argparse.ArgumentParser(description="Evaluate a checkpoint: pass@1 over k samples, cons@k, pass@k, ...")
    p.add_argument("--ckpt", required=True, help="an r1mini checkpoint (model.pt), e.g. runs/base/cpu-*/model.pt")
    p.add_argument("--sets", default="heldout,medium,hard", help="comma-separated: heldout, medium, hard")
    p.add_argument("--mix", default="cpu", help="task mix whose test split is the 'heldout' set")
    p.add_argument("--json", default=None, help="also write the figures here")
    p.add_argument("--device", default="auto", help="cuda, mps or cpu; auto = the first there")
    add_config_args(p, EvalConfig)
    args = p.parse_args()
    dist.init()  # under torchrun: the ranks share the sampling; rank 0 prints and writes
    cfg = config_from_args(EvalConfig(), args)
    device = dist.device(args.device)
    model, _ = load_model(args.ckpt, device)
    tok = get_tokenizer()
    results, t0 = {}, time.time()
    for name, problems in eval_sets(args.sets.split(","), args.mix).items():
        results[name] = evaluate_problems(model, tok, problems, cfg)
    if dist.is_main():
        print(format_table(results, cfg.k))
        print(f"({time.time() - t0:.0f} s, k={cfg.k}, T={cfg.temperature}, top-p={cfg.top_p}, {device})")
        if args.json:
            write_json({"config": vars(cfg), "results": results}, args.json)
    dist.close()


if __name__ == "__main__":
    cli_main(main)
