"""r1mini/rejection.py (section 2.3.3): each filter on hand-made responses, the order the reasons are checked
in, deduplication, and rejection_sample end to end with a sampler that returns fixed texts."""

import random
import time

import pytest
import torch
from conftest import StageRun

import r1mini.evaluate
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.rejection import MAX_PARAGRAPH_CHARS, longest_paragraph, reject_reason, rejection_sample
from r1mini.engine.sampler import Samples
from r1mini.template import Example
from r1mini.toy.tasks import Problem
from r1mini.engine.tokenizer import get_tokenizer

P = Problem("add", "What is 47 + 38?", "85", 2)
PZ = Problem("add", "计算 47 + 38。", "85", 2, lang="zh")
S = "|special_token|"
OK = (
    f" {S}ones: 7 + 8 = 15, write 5 carry 1. tens: 4 + 3 + 1 = 8.{S}So 47 + 38 = 85. "
    "The answer is <answer> 85 </answer>"
)
OK_ZH = (
    f" {S}个位：7 + 8 = 15，写 5 进 1。十位：4 + 3 + 1 = 8。"
    f"{S}所以 47 + 38 = 85。答案是 <answer> 85 </answer>"
)
RUN_ON = "7 + 8 = 15, " * 30  # 360 characters without a sentence end


@pytest.mark.parametrize(
    "completion, problem, n_tokens, reason",
    [
        (OK, P, 50, None),
        (OK_ZH, PZ, 50, None),
        (OK, P, 200, None),  # exactly max_tokens is allowed
        # malformed
        (
            " ones: 7 + 8 = 15. So 47 + 38 = 85. The answer is <answer> 85 </answer>",
            P,
            50,
            "malformed",
        ),  # no separators
        (OK.replace(S, "", 1), P, 50, "malformed"),  # one separator
        (OK + S, P, 50, "malformed"),  # three
        (" x" + OK, P, 50, "malformed"),  # text before the first separator
        (f" {S}{S}So 47 + 38 = 85. The answer is <answer> 85 </answer>", P, 50, "malformed"),  # empty reasoning
        (
            f" {S}<think> 7 + 8 = 15 </think>{S}The answer is <answer> 85 </answer>",
            P,
            50,
            "malformed",
        ),  # a leftover tag
        (f" {S}7 + 8 = 15. <answer> 85 </answer>{S}The answer is 85.", P, 50, "malformed"),  # answer in the reasoning
        (OK.replace(" <answer> 85 </answer>", " 85."), P, 50, "malformed"),  # no answer block
        (OK.replace("So 47", "<answer> 85 </answer> So 47"), P, 50, "malformed"),  # two
        (OK.replace(" </answer>", ""), P, 50, "malformed"),  # unclosed (a truncated response)
        # wrong
        (OK.replace("<answer> 85", "<answer> 84"), P, 50, "wrong"),
        (OK.replace("<answer> 85", "<answer> eighty-five"), P, 50, "wrong"),
        # mixed language
        (OK.replace("tens:", "十位："), P, 50, "mixed_language"),  # both languages in the CoT
        (OK, PZ, 50, "mixed_language"),  # an English CoT for a Chinese question
        (OK_ZH.replace("十位", "tens"), PZ, 50, "mixed_language"),
        # overlong
        (OK, P, 201, "overlong"),
        (OK.replace("tens:", RUN_ON + "tens:"), P, 50, "overlong"),  # a long paragraph
    ],
)
def test_sec2_3_3_each_filter_on_hand_made_cases(completion, problem, n_tokens, reason):
    assert reject_reason(completion, problem, n_tokens, max_tokens=200) == reason


def test_sec2_3_3_reasons_are_checked_in_order():
    wrong = OK.replace("<answer> 85", "<answer> 84")
    assert reject_reason(wrong.replace(S, "", 1), P, 999, 200) == "malformed"  # malformed + wrong + overlong
    assert reject_reason(wrong.replace("tens:", "十位："), P, 999, 200) == "wrong"  # wrong + mixed + overlong
    assert reject_reason(OK.replace("tens:", "十位：" + RUN_ON), P, 999, 200) == "mixed_language"  # mixed + overlong


def test_sec2_3_3_longest_paragraph():
    assert longest_paragraph("ab. cde!\nfghi? 个位。jk") == 4
    assert longest_paragraph(RUN_ON) > MAX_PARAGRAPH_CHARS


def test_sec2_3_3_reject_reason_is_total_on_garbage():
    rng = random.Random(0)
    alphabet = ["<answer>", "</answer>", "<think>", S, "85", " ", "个", "ab", ".", "\n", "\x00"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert reject_reason(text, P, 10, 200) in (None, "malformed", "wrong", "mixed_language", "overlong")
    t0 = time.time()
    assert reject_reason(f" {S}" + "7 + 8 = 15 " * 10_000 + f"{S}<answer> 85 </answer>", P, 10, 200) == "overlong"
    assert time.time() - t0 < 1.0


# ----------------------------------------------------------------------------- end to end


def fake_generate(texts, tok, calls):
    """A stand-in for sampler.generate that returns `texts` (n_samples per prompt, in order), each followed
    by <|endoftext|>, as the real sampler lays them out."""

    def generate(model, prompts, cfg, n_samples=1, seed=None, pad_id=0, **kw):
        calls.append(prompts)
        rows = [tok.encode(t, allow_special=True) + [tok.eot_id] for t in texts]
        assert len(rows) == len(prompts) * n_samples
        T = max(map(len, rows))
        tokens = torch.full((len(rows), T), pad_id)
        mask = torch.zeros(len(rows), T, dtype=torch.bool)
        for i, r in enumerate(rows):
            tokens[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), True
        index = torch.arange(len(prompts)).repeat_interleave(n_samples)
        return Samples(tokens, torch.zeros(tokens.shape), mask, index, torch.zeros(len(rows), dtype=torch.bool))

    return generate


def test_sec2_3_3_rejection_sample_end_to_end(monkeypatch):
    tok = get_tokenizer()
    model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))
    texts = [
        OK, OK, OK.replace("<answer> 85", "<answer> 84"),  # P: kept, duplicate, wrong
        OK_ZH, OK.replace("tens:", "十位："), OK.replace(S, ""),  # PZ: kept, mixed, malformed
    ]  # fmt: skip
    calls = []
    monkeypatch.setattr(r1mini.evaluate, "generate", fake_generate(texts, tok, calls))
    examples, drops = rejection_sample(
        model, tok, [P, PZ], k=3, max_new_tokens=64, temperature=1.0, seed=0, max_tokens=200
    )
    prompts = ["User: What is 47 + 38?\nAssistant:", "User: 计算 47 + 38。\nAssistant:"]
    assert calls == [[tok.encode(p) for p in prompts]]
    assert examples == [
        Example("User: What is 47 + 38?\nAssistant:", OK, "rejection", "en"),
        Example("User: 计算 47 + 38。\nAssistant:", OK_ZH, "rejection", "zh"),
    ]
    assert drops == {
        "sampled": 6,
        "kept": 2,
        "malformed": 1,
        "wrong": 1,
        "mixed_language": 1,
        "overlong": 0,
        "duplicate": 1,
    }

    # the same prompt twice in the problem list: its identical responses are still kept once
    monkeypatch.setattr(
        r1mini.evaluate, "generate", fake_generate([OK, OK_ZH.replace("85", "86")] + [OK] * 2, tok, calls)
    )
    examples, drops = rejection_sample(
        model, tok, [P, P], k=2, max_new_tokens=64, temperature=1.0, seed=0, max_tokens=200
    )
    assert len(examples) == 1 and drops["duplicate"] == 2 and drops["malformed"] == 0 and drops["wrong"] == 1

    # max_tokens counts the response's tokens (the eot not included)
    n = len(tok.encode(OK, allow_special=True))
    monkeypatch.setattr(r1mini.evaluate, "generate", fake_generate([OK], tok, calls))
    assert rejection_sample(model, tok, [P], 1, 64, 1.0, 0, max_tokens=n)[1]["kept"] == 1
    assert rejection_sample(model, tok, [P], 1, 64, 1.0, 0, max_tokens=n - 1)[1]["overlong"] == 1


def test_sec2_3_3_stage_samples_the_rl_model_and_fine_tunes_the_base(monkeypatch, tmp_path):
    """2.3.3: the reasoning data is rejection-sampled from the 2.3.2 checkpoint ("the checkpoint from the above RL
    training") on train-split questions, and the SFT starts again from the base, DeepSeek-V3-Base's stand-in, not
    from the checkpoint sampled. The sampler and the SFT are spies; each model is a label naming its checkpoint."""
    import r1mini.rejection as rejection
    from r1mini.toy.tasks import split_of

    run = StageRun(tmp_path)
    seen = run.seen  # what the spies were handed

    def fake_sample(model, tok, problems, k, max_new_tokens, temperature, seed, max_tokens, top_p=1.0):
        seen.update(sampled_from=model, problems=problems)
        return [Example("User: q\nAssistant:", OK, "rejection", "en")], {"sampled": k * len(problems)}

    monkeypatch.setattr(rejection, "rejection_sample", fake_sample)
    monkeypatch.setattr(rejection, "train_sft", run.train_sft)
    monkeypatch.setattr(rejection, "finish_stage", run.finish_stage)
    done = rejection.stage(run)
    assert run.loaded == ["reasoning_rl", "base"], f"2.3.3: sample the RL model, fine-tune the base: {run.loaded}"
    assert seen["sampled_from"] == "<reasoning_rl model>" and seen["tuned"] == done["model"] == "<base model>"
    assert len(seen["problems"]) == run.cfg.rs_problems and all(split_of(p) == "train" for p in seen["problems"])
    assert seen["data"][0].response == OK and len(seen["data"]) == 1 + run.cfg.general_sft  # + the general data


def test_sec2_3_3_the_filters_read_the_chain_of_thought_and_allow_their_limits():
    """What part of a response each filter reads, and its boundary, on hand-made responses: a "long paragraph" is a
    run of the CoT longer than MAX_PARAGRAPH_CHARS (exactly that many is allowed); a line break ends a run as a full
    stop does; the summary is not the chain of thought, for the paragraph filter as for the language filter."""
    run = ("7 + 8 = 15, carry 1, " * 12)[:MAX_PARAGRAPH_CHARS - 1] + "x"  # no sentence end, no break, no edge space
    assert len(run) == MAX_PARAGRAPH_CHARS and run == run.strip()

    def answer(cot, summary="So 47 + 38 = 85. The answer is <answer> 85 </answer>"):
        return f" {S}{cot}{S}{summary}"

    assert reject_reason(answer(run + "."), P, 50, 200) is None, "2.3.3: a run of exactly MAX_PARAGRAPH_CHARS is kept"
    assert reject_reason(answer(run + "y."), P, 50, 200) == "overlong", "2.3.3: one character more is a long paragraph"
    half = run[: MAX_PARAGRAPH_CHARS // 2]
    assert reject_reason(answer(f"{half}\n{half}\n{half}"), P, 50, 200) is None, "2.3.3: a line break ends a run"
    long_summary = answer("7 + 8 = 15.", f"So {run} 47 + 38 = 85, the answer is <answer> 85 </answer>")
    assert reject_reason(long_summary, P, 50, 200) is None, "2.3.3: the paragraph filter reads the CoT, not the summary"
    zh_summary = answer("7 + 8 = 15. 4 + 3 + 1 = 8.", "So 47 + 38 = 85 (八十五). It is <answer> 85 </answer>")
    assert reject_reason(zh_summary, P, 50, 200) is None, "2.3.3: the language filter reads the chain of thought only"
