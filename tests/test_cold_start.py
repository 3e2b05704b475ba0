"""r1mini/cold_start.py (section 2.3.1): generator examples parse as R1's format, are right, are written in the
question's language and check themselves (the check's arithmetic redone by Python's own parser); R1-Zero
outputs rewritten or dropped on hand-made cases; the set's counts."""

import random
import re

import pytest
import torch
from conftest import StageRun, ast_eval

from r1mini.cold_start import (
    MAX_CHARS,
    ZERO_REASONS,
    build_cold_start,
    generator_example,
    readable,
    rewrite_reason,
    rewrite_zero_output,
    sample_zero_outputs,
    unreadable_reason,
)
from r1mini.metrics import corrects_itself, has_reflection
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.rejection import reject_reason
from r1mini.rewards import accuracy_reward, count_words
from r1mini.template import Example
from r1mini.toy.tasks import Problem, TaskMix, math_text, split_of
from r1mini.template import SEP, parse_r1_completion

EVERYTHING = TaskMix.parse("add:1-4:1,mul:1-4:1,expr:1-4:1,linear:1-4:1,countdown:1-3:1", zh=0.5)
CHECK = {"en": re.compile(r"Check: (.*)\. Right\.$"), "zh": re.compile(r"验算：(.*)，正确。$")}


def generated(n=300, seed=0, **style):
    rng = random.Random(seed)
    return [(p, generator_example(p, rng, **style)) for p in EVERYTHING.sample(rng, n)]


@pytest.mark.parametrize("style", [{}, {"p_check": 1.0}, {"p_reflect": 1.0}])
def test_sec2_3_1_generator_examples_are_right_readable_and_in_the_question_language(style):
    examples = generated(**style)
    assert {p.lang for p, _ in examples} == {"en", "zh"} and {p.family for p, _ in examples} == {
        "add",
        "mul",
        "expr",
        "linear",
        "countdown",
    }
    for p, ex in examples:
        assert ex.prompt == f"User: {p.question}\nAssistant:" and ex.source == "generator" and ex.language == p.lang
        assert ex.response.startswith(" " + SEP)
        reasoning, summary = parse_r1_completion(ex.response)
        assert accuracy_reward(ex.response, p) == 1.0, ex.response
        words = count_words(reasoning)
        other = "zh" if p.lang == "en" else "en"
        assert words[p.lang] > 0 and words[other] == 0, reasoning  # one language, the question's
        assert count_words(summary)[other] == 0 and summary.endswith("</answer>")
        assert readable(ex.response, p.lang)
        assert reject_reason(ex.response, p, n_tokens=0, max_tokens=10**6) is None  # stage 3's filters agree


def test_sec2_3_1_generator_closing_check_is_arithmetic_that_holds():
    """With p_check=1 every example ends its reasoning with a check; each "lhs = rhs" in it is redone with
    conftest.ast_eval."""
    for p, ex in generated(p_check=1.0):
        reasoning, _ = parse_r1_completion(ex.response)
        m = CHECK[p.lang].search(reasoning)
        assert m, reasoning
        equations = [eq.split(" = ") for eq in re.split(r", |，", m.group(1))]
        for lhs, rhs in equations:
            assert ast_eval(lhs) == ast_eval(rhs), (lhs, rhs)
        if p.family in ("add", "mul"):  # the inverse operation: it ends on the question's first operand
            assert equations[0][0] != math_text(p) and equations[0][1] == math_text(p).split()[0]


def test_sec2_3_1_generator_reflects_and_verifies_at_the_set_rates():
    examples = generated()  # defaults: P_REFLECT = P_VERIFY = 0.3, P_CHECK = 0
    reflect = [ex for _, ex in examples if has_reflection(parse_r1_completion(ex.response)[0])]
    corrected = [ex for ex in reflect if corrects_itself(ex.response)]  # "..., not 16." then the redo
    assert 0.45 < len(reflect) / len(examples) < 0.75 and 0.2 < len(corrected) / len(examples) < 0.4
    assert not any(CHECK[p.lang].search(parse_r1_completion(ex.response)[0]) for p, ex in examples)
    # every example verifies something when p_reflect + p_verify = 1: a corrected slip or a confirmed step
    # (countdown takes no verify: its search checks every try, "28 is not 35.")
    everyone = generated(p_reflect=0.5, p_verify=0.5)
    assert all(has_reflection(ex.response) for p, ex in everyone if p.family != "countdown")
    assert 0.35 < sum(corrects_itself(ex.response) for _, ex in everyone) / len(everyone) < 0.65
    assert [ex for _, ex in generated()] == [ex for _, ex in examples]  # deterministic


# ----------------------------------------------------------------------------- rewriting R1-Zero outputs

P_EN = Problem("add", "What is 47 + 38?", "85", 2)
P_ZH = Problem("add", "计算 47 + 38。", "85", 2, lang="zh")
THINK_EN = "47 + 38: ones: 7 + 8 = 15, write 5 carry 1. tens: 4 + 3 + 1 = 8, write 8. So 47 + 38 = 85."
THINK_ZH = "47 + 38：个位：7 + 8 = 15，写 5 进 1。十位：4 + 3 + 1 = 8，写 8。所以 47 + 38 = 85。"


def test_sec2_3_1_rewrite_correct_clean_output_en():
    ex = rewrite_zero_output(P_EN, f" <think> {THINK_EN} </think> <answer> 85 </answer>")
    assert ex == Example(
        "User: What is 47 + 38?\nAssistant:",
        " |special_token|" + THINK_EN + "|special_token|So 47 + 38 = 85. The answer is <answer> 85 </answer>",
        "r1_zero",
        "en",
    )


def test_sec2_3_1_rewrite_correct_clean_output_zh():
    ex = rewrite_zero_output(P_ZH, f" <think> {THINK_ZH} </think> <answer> 85 </answer>")
    assert ex == Example(
        "User: 计算 47 + 38。\nAssistant:",
        f" |special_token|{THINK_ZH}|special_token|所以 47 + 38 = 85。答案是 <answer> 85 </answer>",
        "r1_zero",
        "zh",
    )


@pytest.mark.parametrize(
    "problem, completion, reason",
    [
        (P_EN, f" <think> {THINK_EN.replace('= 85', '= 84')} </think> <answer> 84 </answer>", "wrong"),
        (P_EN, f" <think> {THINK_EN} </think> <answer> 85.5 </answer>", "wrong"),
        (
            P_ZH,
            " <think> 47 + 38：个位：7 + 8 = 15, write 5 carry 1. 十位：4 + 3 + 1 = 8。 </think>"
            " <answer> 85 </answer>",
            "mixed_language",
        ),
        (P_ZH, f" <think> {THINK_EN} </think> <answer> 85 </answer>", "mixed_language"),  # the other language only
        (P_EN, f" <think> {THINK_EN} <answer> 85 </answer>", "malformed"),  # no </think>
        (P_EN, f" <think> {THINK_EN} </think> <answer> 85 </answer> more text", "malformed"),
        (P_EN, f" {THINK_EN} <answer> 85 </answer>", "malformed"),
        (P_EN, " <think> 47 + 38 = 85 </think> <answer> 85 </answer>", "short"),  # a direct answer, not a long CoT
        (P_EN, f" <think> {THINK_EN} |special_token| </think> <answer> 85 </answer>", "malformed"),  # a stray separator
        (P_EN, f" <think> {' '.join([THINK_EN] * 20)} </think> <answer> 85 </answer>", "overlong"),
    ],
)
def test_sec2_3_1_rewrite_drops_with_reason(problem, completion, reason):
    assert rewrite_zero_output(problem, completion) is None
    assert rewrite_reason(problem, completion) == (None, reason)


def test_sec2_3_1_readable_hand_cases():
    ok = f" |special_token|{THINK_EN}|special_token|So 47 + 38 = 85. The answer is <answer> 85 </answer>"
    assert readable(ok, "en") and not readable(ok, "zh")
    assert not readable(ok.replace(THINK_EN, ""), "en")  # empty reasoning
    assert not readable(ok.replace("So 47", "<think> So 47"), "en")  # leftover tag in the summary
    assert not readable(
        ok.replace(THINK_EN, THINK_EN + " <answer> 85 </answer>"), "en"
    )  # answer block in the reasoning
    assert not readable(ok.replace(" </answer>", ""), "en")


def test_sec2_3_1_readable_boundaries_by_hand():
    """The length limit counts the whole response (reasoning and summary) and allows exactly MAX_CHARS; the summary
    holds exactly one answer block (one opening tag, one closing tag)."""
    ok = f" |special_token|{THINK_EN}|special_token|So 47 + 38 = 85. The answer is <answer> 85 </answer>"
    at_limit = ok.replace(THINK_EN, THINK_EN + " " + "a" * (MAX_CHARS - len(ok) - 1))
    assert len(at_limit) == MAX_CHARS and unreadable_reason(at_limit, "en") is None, "2.3.1: MAX_CHARS is allowed"
    over = at_limit.replace(" a", " aa", 1)
    assert len(over) == MAX_CHARS + 1 and unreadable_reason(over, "en") == "overlong", "2.3.1: over MAX_CHARS"
    long_summary = ok.replace("So 47", "So " + "b" * MAX_CHARS + " 47")
    assert unreadable_reason(long_summary, "en") == "overlong", "2.3.1: the summary counts toward the length limit"
    two_opens = ok.replace("<answer> 85", "<answer> <answer> 85")
    assert unreadable_reason(two_opens, "en") == "leftover_tags", "2.3.1: one <answer> in the summary, not two"


# ----------------------------------------------------------------------------- the set


def test_sec2_3_1_build_cold_start_counts():
    good = f" <think> {THINK_EN} </think> <answer> 85 </answer>"
    zero = [
        (P_EN, good),
        (P_EN, good),  # the same response to the same prompt: kept once
        (P_EN, good.replace("<answer> 85", "<answer> 86")),
        (P_ZH, f" <think> {THINK_EN} </think> <answer> 85 </answer>"),
        (P_ZH, f" <think> {THINK_ZH} </think> <answer> 85 </answer>"),
        (P_EN, "garbage"),
    ]
    examples, counts = build_cold_start(zero, n_generator=200, mix="add:2:1,mul:2:1", seed=3)
    assert counts["sources"] == {"generator": 200, "r1_zero": 2}
    assert counts["r1_zero_sampled"] == 6 and counts["total"] == len(examples) == 202
    assert counts["r1_zero_dropped"] == {r: 0 for r in ZERO_REASONS} | {
        "duplicate": 1,
        "wrong": 1,
        "mixed_language": 1,
        "malformed": 1,
    }
    assert counts["languages"]["en"] + counts["languages"]["zh"] == 202
    gen = [ex for ex in examples if ex.source == "generator"]
    assert 0.35 < sum(ex.language == "zh" for ex in gen) / len(gen) < 0.65  # a string mix: half Chinese by default
    questions = {ex.prompt for ex in gen}
    drawn = [p for p in TaskMix.parse("add:2:1,mul:2:1", zh=0.5).sample(random.Random("cold_start/3"), 200)]
    assert (
        all(split_of(p) == "train" for p in drawn) and {f"User: {p.question}\nAssistant:" for p in drawn} == questions
    )
    assert build_cold_start(zero, 200, "add:2:1,mul:2:1", seed=3) == (examples, counts)  # deterministic
    only_en = build_cold_start([], 50, TaskMix.parse("add:2:1"), seed=0)[0]  # a TaskMix keeps its own zh (0)
    assert {ex.language for ex in only_en} == {"en"}
    checked = build_cold_start([], 20, "add:2:1", seed=0, p_check=1.0)[0]  # style reaches generator_example
    assert all(CHECK[ex.language].search(parse_r1_completion(ex.response)[0]) for ex in checked)


def test_sample_zero_outputs_shapes():
    from r1mini.engine.tokenizer import get_tokenizer

    tok = get_tokenizer()
    torch.manual_seed(0)
    model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))
    out = sample_zero_outputs(model, tok, [P_EN, P_ZH], k=3, max_new_tokens=8, temperature=1.0, seed=0)
    assert [p for p, _ in out] == [P_EN] * 3 + [P_ZH] * 3 and all(isinstance(t, str) for _, t in out)
    assert out == sample_zero_outputs(model, tok, [P_EN, P_ZH], k=3, max_new_tokens=8, temperature=1.0, seed=0)


def test_sec2_3_1_r1_zero_answers_under_table_1s_template(monkeypatch):
    """(b) R1-Zero's outputs are sampled under the template it was trained with (Table 1: the <think> / <answer>
    instruction), not under R1's chat prompt; `complete` is a spy that records the prompt of each problem."""
    import r1mini.cold_start as cold_start
    from r1mini.template import r1_zero_prompt

    prompts = []

    def fake_complete(model, tok, problems, k, cfg, temperature=None, prompt_fn=None):
        prompts.extend(prompt_fn(p) for p in problems)
        return [[(" x", 1)] * k for _ in problems]

    monkeypatch.setattr(cold_start, "complete", fake_complete)
    out = sample_zero_outputs(torch.nn.Identity(), None, [P_EN, P_ZH], k=2, max_new_tokens=8, temperature=1.0, seed=0)
    assert out == [(P_EN, " x")] * 2 + [(P_ZH, " x")] * 2
    assert prompts == [r1_zero_prompt(P_EN.question), r1_zero_prompt(P_ZH.question)], prompts
    assert all("<think>" in p and p.rstrip().endswith("Assistant:") for p in prompts), "2.3.1: Table 1's template"


def test_sec2_3_1_stage_samples_r1_zero_and_fine_tunes_the_base(monkeypatch, tmp_path):
    """2.3.1: the R1-Zero outputs of the cold-start set come from the R1-Zero checkpoint, and the cold-start SFT
    fine-tunes the base ("fine-tune DeepSeek-V3-Base as the starting point for RL"), not R1-Zero. The sampler and the
    SFT are spies; each model is a label naming its checkpoint."""
    import r1mini.cold_start as cold_start

    run = StageRun(tmp_path)
    seen = run.seen  # what the spies were handed

    def fake_sample(model, tok, problems, k, max_new_tokens, temperature, seed):
        seen.update(sampled_from=model, problems=problems)
        return [(P_EN, f" <think> {THINK_EN} </think> <answer> 85 </answer>")]  # kept: one r1_zero example

    monkeypatch.setattr(cold_start, "sample_zero_outputs", fake_sample)
    monkeypatch.setattr(cold_start, "train_sft", run.train_sft)
    monkeypatch.setattr(cold_start, "finish_stage", run.finish_stage)
    done = cold_start.stage(run)
    assert run.loaded == ["r1_zero", "base"], f"2.3.1: sample R1-Zero, fine-tune the base: {run.loaded}"
    assert seen["sampled_from"] == "<r1_zero model>" and seen["tuned"] == done["model"] == "<base model>"
    assert len(seen["problems"]) == run.cfg.cold_zero_problems and all(split_of(p) == "train" for p in seen["problems"])
    assert len(seen["data"]) == done["size"] == run.cfg.cold_generator + 1 and seen["data"][0].source == "r1_zero"


def test_sec2_3_1_readable_summary_is_not_empty_and_ends_with_its_answer_block():
    """R1's readable pattern ends each response with a summary: an empty summary is "empty", and a summary that goes
    on after its answer block is not clean ("leftover_tags"), hand-made on the same response."""
    ok = f" |special_token|{THINK_EN}|special_token|So 47 + 38 = 85. The answer is <answer> 85 </answer>"
    assert unreadable_reason(ok, "en") is None
    assert unreadable_reason(f" |special_token|{THINK_EN}|special_token|", "en") == "empty", "2.3.1: no summary"
    assert unreadable_reason(ok + " Thanks.", "en") == "leftover_tags", "2.3.1: the answer block ends the summary"
