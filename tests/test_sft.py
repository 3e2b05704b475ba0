"""r1mini/sft.py (sections 2.3.1, 2.3.3, 2.4): the loss mask against a hand-worked case, the loss against a
float64 write-out, the prompt's targets never counting, training on a tiny set, the JSONL reader's errors."""

import copy
import dataclasses
import json

import pytest
import torch

from r1mini.engine.common import ConfigError, field_comments
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.sampler import SamplingConfig, generate
from r1mini.sft import (
    SFT_PRESETS,
    Example,
    SFTConfig,
    encode_example,
    read_jsonl,
    right_pad,
    sft_loss,
    train_sft,
    write_jsonl,
)
from r1mini.engine.tokenizer import get_tokenizer

tok = get_tokenizer()


def nano(seed=0):
    torch.manual_seed(seed)
    return Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))


# ----------------------------------------------------------------------------- masking


def test_encode_example_hand_worked_case():
    # "Q: 2+3?\nA:" is 8 tokens: Q | : | " 2" | + | 3 | "?\n" | A | : ; " 5" is one token; then <eot>
    ids, loss_mask = encode_example(tok, Example("Q: 2+3?\nA:", " 5", "t", "en"), max_len=64)
    assert tok.pieces(ids.tolist()[:9]) == ["Q", ":", " 2", "+", "3", "?\n", "A", ":", " 5"]
    assert ids.tolist()[9] == tok.eot_id and len(ids) == 10
    # the targets are the response token (position 8) and the eot (position 9), nothing of the prompt
    assert [t for t, m in enumerate(loss_mask.tolist()) if m] == [8, 9]


def test_encode_example_special_tokens_and_skip_length():
    ex = Example("User: hi\nAssistant:", " |special_token|a|special_token|b <answer> 1 </answer>", "t", "en")
    ids, loss_mask = encode_example(tok, ex, max_len=100)
    assert ids.tolist().count(tok.sep_id) == 2 and tok.answer_end_id in ids.tolist()  # specials are tokens
    L = len(ids)
    assert encode_example(tok, ex, max_len=L) is not None
    assert encode_example(tok, ex, max_len=L - 1) is None  # skipped, not truncated


# ----------------------------------------------------------------------------- the loss


EXAMPLES = [
    Example(
        "User: What is 47 + 38?\nAssistant:",
        " |special_token|7 + 8 = 15.|special_token|<answer> 85 </answer>",
        "t",
        "en",
    ),
    Example("User: 你好！\nAssistant:", " 你好！有什么可以帮你的吗？", "t", "zh"),
    Example("Q:", " 1 2 3 4 5 6 7 8 9", "t", "en"),
]


def float64_reference(model, examples) -> float:
    """Each example alone (no padding), the model in float64: -log softmax of every response target
    (the response tokens and the eot), summed, divided by their count."""
    m64 = copy.deepcopy(model).double()
    total, count = 0.0, 0
    for ex in examples:
        p = tok.encode(ex.prompt, allow_special=True)
        seq = p + tok.encode(ex.response, allow_special=True) + [tok.eot_id]
        logp = torch.log_softmax(m64(torch.tensor([seq]))[0], dim=-1)  # [L, V]
        for j in range(len(p), len(seq)):  # target seq[j] is predicted at position j - 1
            total -= logp[j - 1, seq[j]].item()
            count += 1
    return total / count


def test_sft_loss_against_float64_write_out():
    model = nano()
    ids, attn, loss_mask = right_pad([encode_example(tok, ex, 256) for ex in EXAMPLES], tok.pad_id)
    assert attn.sum(1).tolist() != [ids.shape[1]] * 3  # the batch really is padded
    got = sft_loss(model, ids, attn, loss_mask).item()
    assert got == pytest.approx(float64_reference(model, EXAMPLES), rel=1e-5)


def test_sft_loss_rejects_left_padding():
    ids, attn, loss_mask = right_pad([encode_example(tok, ex, 256) for ex in EXAMPLES], tok.pad_id)
    with pytest.raises(ValueError, match="right padding"):
        sft_loss(nano(), ids, attn.flip(1), loss_mask)


class FixedHidden(torch.nn.Module):
    """A 'model' whose hidden states do not depend on the input ids: the loss can then depend on the ids
    only through which targets it reads."""

    def __init__(self, T=40, D=8, V=tok.vocab_size):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.h = torch.nn.Parameter(torch.randn(1, T, D, generator=g))
        self.lm_head = torch.nn.Linear(D, V, bias=False)

    def forward(self, ids, mask=None, return_hidden=False):
        h = self.h[:, : ids.shape[1]].expand(ids.shape[0], -1, -1)
        return h if return_hidden else self.lm_head(h)


def test_prompt_targets_never_count():
    model = FixedHidden()
    ex = Example("User: What is 47 + 38?\nAssistant:", " 85", "t", "en")
    ids, attn, loss_mask = right_pad([encode_example(tok, ex, 64)], tok.pad_id)
    P = len(tok.encode(ex.prompt))
    base = sft_loss(model, ids, attn, loss_mask)
    base.backward()
    grad = model.h.grad[0].abs().sum(-1)  # [T]: which positions' predictions the loss reads
    assert grad[: P - 1].eq(0).all() and grad[P - 1 : ids.shape[1] - 1].gt(0).all()
    prompt_changed = ids.clone()
    prompt_changed[0, 1:P] = 7  # every prompt TARGET label changed (position 0 is never a target)
    assert sft_loss(model, prompt_changed, attn, loss_mask).item() == base.item()
    response_changed = ids.clone()
    response_changed[0, P] = 7  # a response target changed: the loss must move
    assert sft_loss(model, response_changed, attn, loss_mask).item() != base.item()
    ids2, attn2, loss2 = right_pad([encode_example(tok, ex, 64), encode_example(tok, EXAMPLES[2], 64)], tok.pad_id)
    assert not attn2.all()  # one row is padded
    garbage = ids2.clone()
    garbage[~attn2] = 5  # what sits in the padding never counts, even when loss_mask says so
    assert sft_loss(model, garbage, attn2, loss2 | ~attn2).item() == sft_loss(model, ids2, attn2, loss2).item()


# ----------------------------------------------------------------------------- training


def test_train_sft_memorises_a_tiny_set():
    model = nano()
    data = [
        Example(f"User: What is {a} + {b}?\nAssistant:", f" {a + b}", "t", "en")
        for a, b in [(2, 3), (4, 4), (7, 1), (6, 3)]
    ]
    too_long = Example("User: x\nAssistant:", " 1" * 300, "t", "en")
    cfg = SFTConfig(epochs=60, batch_size=4, lr=1e-2, warmup=5, max_len=64)
    stats = train_sft(model, tok, data + [too_long], cfg, quiet=True)
    assert stats["skipped"] == 1 and stats["examples"] == 4
    assert stats["steps"] == 60  # 4 examples, batch 4: one step an epoch
    n_tokens = sum(len(tok.encode(ex.prompt)) + len(tok.encode(ex.response)) + 1 for ex in data)
    assert stats["tokens"] == 60 * n_tokens
    assert stats["loss_last"] < 0.1 * stats["loss_first"]
    for ex in data:  # after training, greedy decoding writes each response, then stops
        s = generate(
            model, [tok.encode(ex.prompt)], SamplingConfig(4, temperature=0, stop_ids=(tok.eot_id,)), pad_id=tok.pad_id
        )
        assert s.tokens[0, : s.lengths[0]].tolist() == tok.encode(ex.response) + [tok.eot_id]


def test_train_sft_bad_inputs():
    with pytest.raises(ConfigError, match="fits max_len"):
        train_sft(nano(), tok, [Example("User: x\nAssistant:", " 1" * 300)], SFTConfig(max_len=32), quiet=True)
    with pytest.raises(ConfigError, match="epochs"):
        SFTConfig(epochs=0).validate()
    for cfg in SFT_PRESETS.values():
        cfg.validate()
    assert set(field_comments(SFTConfig)) == {
        f.name for f in dataclasses.fields(SFTConfig)
    }  # every field has its --help


# ----------------------------------------------------------------------------- JSONL


GOOD = {
    "prompt": "User: 计算 47 + 38。\nAssistant:",
    "response": " |special_token|个位：7 + 8 = 15。|special_token|答案是 <answer> 85 </answer>",
    "source": "generator",
    "language": "zh",
}


def test_write_read_round_trip_with_chinese(tmp_path):
    exs = [Example(**GOOD), Example("User: hi\nAssistant:", ' Hello! "quoted"\nnew line', "general/greeting", "en")]
    path = tmp_path / "sub" / "set.jsonl"
    write_jsonl(exs, path)
    assert read_jsonl(path) == exs
    raw = path.read_bytes().decode("utf-8")
    assert "答案是" in raw and "\\u" not in raw  # ensure_ascii=False
    assert raw.count("\n") == 2 and [json.loads(line)["source"] for line in raw.splitlines()] == [
        "generator",
        "general/greeting",
    ]


def test_read_jsonl_skips_empty_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n" + json.dumps(GOOD) + "\n   \n" + json.dumps(GOOD | {"extra": 1}) + "\n", encoding="utf-8")
    assert read_jsonl(path) == [Example(**GOOD)] * 2


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"prompt": "a", "response": ', r"d\.jsonl:3: invalid JSON"),
        ("[1, 2]", r"d\.jsonl:3: expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "response"}), r"d\.jsonl:3: missing key 'response'"),
        (json.dumps(GOOD | {"prompt": 5}), r"d\.jsonl:3: 'prompt' must be a string, got int"),
        (json.dumps(GOOD | {"source": None}), r"d\.jsonl:3: 'source' must be a string, got NoneType"),
        (json.dumps(GOOD | {"language": "fr"}), r"d\.jsonl:3: unknown language 'fr'; choose one of: en, zh"),
    ],
)
def test_read_jsonl_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n", encoding="utf-8")  # the bad line is line 3
    with pytest.raises(ConfigError, match=message):
        read_jsonl(path)


def test_read_jsonl_missing_or_binary_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.jsonl' does not exist"):
        read_jsonl(tmp_path / "nope.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"bin\.jsonl: not UTF-8"):
        read_jsonl(tmp_path / "bin.jsonl")


def test_sft_batches_hold_similar_lengths_and_come_in_random_order():
    """length_batches (2.3.3's SFT, the reward models): each batch holds examples of similar length, but an epoch's
    batches come in random order, not shortest first (a curriculum from short to long that the paper does not use).
    One run of 16 x 32 examples: sorted by length and cut, its 16 batches would be in increasing order; shuffled,
    about half the neighbouring batches go down in length."""
    import random

    from r1mini.sft import length_batches

    lengths = [random.Random(i).randint(5, 300) for i in range(512)]
    for seed in range(3):
        batches = length_batches(lengths, 32, random.Random(seed))
        assert sorted(i for b in batches for i in b) == list(range(512)) and len(batches) == 16
        longest = [max(lengths[i] for i in b) for b in batches]
        spans = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
        assert max(spans) < 60, spans  # similar lengths: a 32nd of the 5..300 range each, about 19
        downs = sum(b < a for a, b in zip(longest, longest[1:]))
        assert 3 <= downs <= 12, f"the batches' order is not random: longest per batch {longest}"
