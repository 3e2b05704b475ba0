"""Section 2.3.3: rejection sampling, the reasoning half of DeepSeek-R1's stage-3 SFT data.

"We curate reasoning prompts and generate reasoning trajectories by performing rejection sampling from the
checkpoint from the above RL training. [...] because the model output is sometimes chaotic and difficult to
read, we have filtered out chain-of-thought with mixed languages, long paragraphs, and code blocks. For
each prompt, we sample multiple responses and retain only the correct ones."

`rejection_sample` draws k responses per (train) prompt under R1's prompt (evaluate.r1_prompt_of) and keeps a
response only when `reject_reason` finds nothing, checked in this fixed order (the first that applies is
the one counted):

    "malformed"       not |special_token|<reasoning>|special_token|<summary> (template.parse_r1_completion),
                      an empty reasoning, a <think>/<answer> tag in the reasoning, or not exactly one answer
                      block, in the summary
    "wrong"           rewards.accuracy_reward == 0 (the paper's "retain only the correct ones")
    "mixed_language"  the CoT mixes languages (metrics.mixes_languages) or holds a word of the language the
                      question is not in (rewards.count_words)
    "overlong"        more than max_tokens tokens, or a "long paragraph": a run of the CoT without a
                      sentence end or line break (. 。 ! ? ！ ？ newline) longer than MAX_PARAGRAPH_CHARS
                      (our worked steps are short sentences; a run-on is a model that lost its way)
The paper's third filter, code blocks, has nothing to act on here: the toy tasks hold no code.

Identical responses to the same prompt are kept once ("duplicate"). The kept ones become
template.Example(prompt=r1_prompt(q), response=the text as sampled, leading space kept, source="rejection").

    >>> from r1mini.toy.tasks import Problem
    >>> p = Problem("add", "What is 47 + 38?", "85", 2)
    >>> ok = " |special_token|7 + 8 = 15, 4 + 3 + 1 = 8.|special_token|The answer is <answer> 85 </answer>"
    >>> reject_reason(ok, p, n_tokens=40, max_tokens=200), reject_reason(ok.replace("85 <", "84 <"), p, 40, 200)
    (None, 'wrong')

    python -m pytest tests/test_rejection.py      # each filter on hand-made cases, the order, dedupe, end to end
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections import Counter

import torch

from r1mini.engine.common import pick_preset, set_seed
from r1mini.evaluate import EvalConfig, complete, r1_prompt_of
from r1mini.metrics import mixes_languages
from r1mini.pipeline import Run, finish_stage, train_problems
from r1mini.rewards import accuracy_reward, count_words
from r1mini.sft import SFT_PRESETS, train_sft, write_jsonl
from r1mini.template import ANSWER, ANSWER_END, TAGS, Example, chain_of_thought, parse_r1_completion
from r1mini.toy.general import general_prompts, sft_examples
from r1mini.toy.tasks import Problem

REASONS = ("malformed", "wrong", "mixed_language", "overlong")  # the order reject_reason checks them in
MAX_PARAGRAPH_CHARS = 240  # the longest run of a CoT without a sentence end or line break
OTHER = {"en": "zh", "zh": "en"}
_BREAK = re.compile(r"[.!?。！？\n]")


def longest_paragraph(text: str) -> int:
    """Characters in the longest run of `text` between sentence ends / line breaks."""
    return max(len(run.strip()) for run in _BREAK.split(text))


def _malformed(completion: str) -> bool:
    parts = parse_r1_completion(completion)
    if parts is None:
        return True
    reasoning, summ = parts
    if not reasoning or any(tag in reasoning for tag in TAGS):
        return True
    return summ.count(ANSWER) != 1 or summ.count(ANSWER_END) != 1


def reject_reason(completion: str, problem: Problem, n_tokens: int, max_tokens: int) -> str | None:
    """None to keep the response, else the first of REASONS that applies (see the module docstring).
    Total on any string: never raises, never evaluates the text."""
    if _malformed(completion):
        return "malformed"
    if accuracy_reward(completion, problem) == 0.0:
        return "wrong"
    cot = chain_of_thought(completion)
    if mixes_languages(completion) or count_words(cot)[OTHER[problem.lang]] > 0:
        return "mixed_language"
    if n_tokens > max_tokens or longest_paragraph(cot) > MAX_PARAGRAPH_CHARS:
        return "overlong"
    return None


@torch.no_grad()
def rejection_sample(
    model,
    tok,
    problems: list[Problem],
    k: int,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    max_tokens: int,
    top_p: float = 1.0,
) -> tuple[list[Example], dict]:
    """k responses per problem from `model` (R1's prompt, evaluate.r1_prompt_of), filtered by reject_reason and
    deduplicated per prompt. Returns (examples, drops) with drops = {"sampled", "kept", "malformed", "wrong",
    "mixed_language", "overlong", "duplicate"} (sampled = kept + every drop)."""
    model.eval()
    cfg = EvalConfig(k=k, max_new_tokens=max_new_tokens, top_p=top_p, seed=seed)
    outs = complete(model, tok, problems, k, cfg, temperature=temperature, prompt_fn=r1_prompt_of)
    drops = Counter({key: 0 for key in ("sampled", "kept", *REASONS, "duplicate")})
    examples, seen = [], set()  # seen: (prompt, response) pairs kept so far
    for problem, row in zip(problems, outs):
        prompt = r1_prompt_of(problem)
        for text, n_tokens in row:
            drops["sampled"] += 1
            why = reject_reason(text, problem, n_tokens, max_tokens)
            if why is None and (prompt, text) in seen:
                why = "duplicate"
            if why is not None:
                drops[why] += 1
                continue
            seen.add((prompt, text))
            drops["kept"] += 1
            examples.append(Example(prompt, text, "rejection", problem.lang))
    return examples, dict(drops)


# ----------------------------------------------------------------------------- the stage


def stage(run: Run) -> dict:
    """2.3.3: rejection-sample the stage-2 model, add non-reasoning data, SFT the BASE for 2 epochs."""
    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    rl_model = run.load("reasoning_rl")
    problems = train_problems(cfg, cfg.rs_problems, "rejection")
    reasoning, drops = rejection_sample(
        rl_model,
        run.tok,
        problems,
        cfg.rs_k,
        max_new_tokens=cfg.max_new_tokens,
        temperature=1.0,
        seed=cfg.seed,
        max_tokens=cfg.rs_max_tokens,
    )
    del rl_model
    general = sft_examples(
        general_prompts(cfg.general_sft, "train", cfg.seed, power=cfg.general_power), random.Random(cfg.seed)
    )
    data = reasoning + general
    d = run.stage_dir("rejection_sft")
    write_jsonl(data, d / "sft_data.jsonl")
    model = run.load("base")  # the paper fine-tunes DeepSeek-V3-Base, not the RL checkpoint
    scfg = dataclasses.replace(pick_preset(SFT_PRESETS, cfg.sft, "SFT preset"), epochs=cfg.sft_epochs, seed=cfg.seed)
    stats = train_sft(model, run.tok, data, scfg, quiet=run.quiet, desc="2.3.3 SFT on the base")
    counts = {"reasoning": len(reasoning), "general": len(general), "drops": drops}
    return finish_stage(run, "rejection_sft", model, {"set": counts, "size": len(data), "sft": stats}, time.time() - t0)
