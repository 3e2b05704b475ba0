"""Reward models (r1mini/reward_model.py): the Bradley-Terry loss and its gradient against a float64 write-out,
the scalar head reading the last real token under right and left padding, a toy separable preference learned in
seconds, the views, the pair labeller on a hand-worked case, and checkpoint round trip and load errors."""

import math
import random

import pytest
import torch

from r1mini.engine.common import ConfigError, atomic_save
from r1mini.engine.model import ModelConfig, Transformer, model_state
from r1mini.reward_model import (
    Pair,
    RMConfig,
    RM_PRESETS,
    RewardModel,
    bt_loss,
    encode_texts,
    length_batches,  # r1mini.sft's, which the reward models share
    load_reward_model,
    pair_accuracy,
    preference_pairs,
    rm_state,
    rm_text,
    rm_view,
    score,
    train_reward_model,
)
from r1mini.engine.sampler import left_pad
from r1mini.engine.tokenizer import get_tokenizer

TOK = get_tokenizer()


def nano_rm(seed=0) -> RewardModel:
    torch.manual_seed(seed)
    return RewardModel(ModelConfig.preset("nano", vocab_size=TOK.vocab_size))


# ----------------------------------------------------------------------------- the Bradley-Terry loss


def test_sec2_3_4_bt_loss_value_and_gradient_against_float64_write_out():
    rng = random.Random(0)
    rc = [rng.uniform(-4, 4) for _ in range(7)] + [40.0, -40.0]  # far in both tails too
    rr = [rng.uniform(-4, 4) for _ in range(7)] + [-40.0, 40.0]
    n = len(rc)
    c = torch.tensor(rc, dtype=torch.float64, requires_grad=True)
    r = torch.tensor(rr, dtype=torch.float64, requires_grad=True)
    loss = bt_loss(c, r)
    loss.backward()

    def sigmoid(x):
        return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))

    expected = (
        sum(
            math.log1p(math.exp(-(a - b))) if a - b > -30 else (b - a) + math.log1p(math.exp(a - b))
            for a, b in zip(rc, rr)
        )
        / n
    )
    assert loss.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    for i in range(n):  # d/dr_c = -(1 - sigmoid(r_c - r_r)) / n, d/dr_r = +(1 - sigmoid(r_c - r_r)) / n
        g = (1 - sigmoid(rc[i] - rr[i])) / n
        assert c.grad[i].item() == pytest.approx(-g, rel=1e-9, abs=1e-15)
        assert r.grad[i].item() == pytest.approx(g, rel=1e-9, abs=1e-15)
    assert torch.isfinite(bt_loss(torch.tensor([-1e4]), torch.tensor([1e4])))  # no overflow in float32


# ----------------------------------------------------------------------------- the head reads the last real token

TEXTS = [
    "User: Who are you?\nAssistant: I am r1mini.",
    "User: 你好！\nAssistant:",
    "User: How do you say 47 in Chinese?\nAssistant: "
    "|special_token|forty-seven = 四十七 = 47.|special_token|47 is 四十七 in Chinese.",
    "x",
]


def test_padding_does_not_change_a_rows_score():
    rm = nano_rm().eval()
    with torch.no_grad():
        alone = [rm(*encode_texts(TOK, [t], 256)).item() for t in TEXTS]
        right = rm(*encode_texts(TOK, TEXTS, 256))  # right padding
        rows = [TOK.encode(t, allow_special=True) + [TOK.eot_id] for t in TEXTS]
        ids, mask = left_pad(rows, TOK.pad_id)  # left padding
        left = rm(ids, mask)
    assert len(set(alone)) == len(alone)  # the texts do score differently
    assert right.tolist() == pytest.approx(alone, abs=1e-5)
    assert left.tolist() == pytest.approx(alone, abs=1e-5)
    # and score() (sorted batches of 3) agrees
    assert score(rm, TOK, [t[:5] for t in TEXTS], [t[5:] for t in TEXTS], "whole", batch=3).tolist() == pytest.approx(
        [rm(*encode_texts(TOK, [rm_text(t[:5], t[5:], "whole")], 256)).item() for t in TEXTS], abs=1e-5
    )


def test_score_runs_under_the_autocast_the_model_was_trained_with(monkeypatch):
    """score() uses rm.precision (set by train_reward_model, kept by a checkpoint): "bf16" scores equal a forward
    written out under torch's own CPU bf16 autocast; "auto" on a CPU stays exact float32 (as before)."""
    import r1mini.engine.common

    monkeypatch.setattr(r1mini.engine.common, "cpu_has_bf16", lambda: True)  # so that "bf16" autocasts on any CPU
    rm = nano_rm(3).eval()
    prompts, responses = [t[:5] for t in TEXTS], [t[5:] for t in TEXTS]
    one = [encode_texts(TOK, [rm_text(p, o, "whole")], 256) for p, o in zip(prompts, responses)]  # unpadded rows
    with torch.no_grad():
        fp32 = [rm(*x).item() for x in one]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = [rm(*x).float().item() for x in one]
    assert rm.precision == "auto" and score(rm, TOK, prompts, responses, "whole", batch=1).tolist() == fp32
    rm.precision = "bf16"
    got = score(rm, TOK, prompts, responses, "whole", batch=1).tolist()
    assert got == bf16 and got != fp32
    rm.precision = "fp32"
    assert score(rm, TOK, prompts, responses, "whole", batch=1).tolist() == fp32
    cfg = RMConfig(epochs=1, batch=4, max_len=64, warmup=0, precision="bf16")
    train_reward_model(rm, TOK, [Pair("q", "a", "b")], cfg, "whole", quiet=True)
    assert rm.precision == "bf16"


def test_encode_texts_appends_eot_and_truncates():
    ids, mask = encode_texts(TOK, ["hello world", "a" * 2000], 16)
    assert ids.shape[1] == 16 and mask[1].all()
    n0 = len(TOK.encode("hello world"))
    assert ids[0, n0].item() == TOK.eot_id and mask[0].sum().item() == n0 + 1
    assert ids[1, 15].item() == TOK.eot_id


def test_length_batches_cover_each_pair_once_with_less_padding():
    """Each item in exactly one batch of at most `batch`, ceil(n / batch) batches, reproducible from the rng, and
    much less padding than batches of a plain random order (each batch padded to its longest item)."""
    sizes = [random.Random(i).randint(5, 150) for i in range(1000)]
    batches = length_batches(sizes, 32, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert len(batches) == math.ceil(1000 / 32) and all(1 <= len(b) <= 32 for b in batches)
    order = random.Random(1).sample(range(1000), 1000)
    plain = sum(max(sizes[i] for i in order[k : k + 32]) * len(order[k : k + 32]) for k in range(0, 1000, 32))
    padded = sum(max(sizes[i] for i in b) * len(b) for b in batches)
    assert padded < 0.75 * plain, (padded, plain)
    assert (
        length_batches(sizes, 32, random.Random(1)) == batches
        and length_batches(sizes, 32, random.Random(2)) != batches
    )


# ----------------------------------------------------------------------------- learning a toy preference

WORDS = "the a cat dog sun sky red blue runs sits big small one two and".split()


def _toy_pairs(n: int, seed: int) -> list[Pair]:
    """Chosen: a random sentence; rejected: the same sentence with "stupid" somewhere in it."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 8))]
        bad = words[:]
        bad.insert(rng.randint(0, len(words)), "stupid")
        chosen, rejected = " " + " ".join(words) + ".", " " + " ".join(bad) + "."
        pairs.append(Pair("User: Say something.\nAssistant:", chosen, rejected))
    return pairs


def test_sec2_3_4_pair_accuracy_by_hand_a_tie_is_wrong(monkeypatch):
    """Held-out pair accuracy: the share of pairs with r(chosen) > r(rejected); a tie is not a right order."""
    scores = {"c1": 1.0, "r1": 0.0, "c2": 0.5, "r2": 0.5, "c3": 0.2, "r3": 0.3, "c4": 2.0, "r4": -1.0}
    monkeypatch.setattr("r1mini.reward_model.score", lambda rm, tok, prompts, responses, *a, **k: torch.tensor(
        [scores[r] for r in responses]))  # fmt: skip
    pairs = [Pair("q", f"c{i}", f"r{i}") for i in range(1, 5)]
    got = pair_accuracy(None, None, pairs, "whole")
    assert got == 0.5, f"2.3.4: pair accuracy is 2 right of 4 (one tie, one reversed), got {got}"


def test_training_learns_a_separable_preference_quickly():
    rm = nano_rm(1)
    train, heldout = _toy_pairs(128, 0), _toy_pairs(100, 1)
    before = pair_accuracy(rm, TOK, heldout, "whole")
    cfg = RMConfig(epochs=3, lr=3e-3, batch=32, max_len=64, warmup=2, weight_decay=0.0)
    stats = train_reward_model(rm, TOK, train, cfg, "whole", quiet=True)
    after = pair_accuracy(rm, TOK, heldout, "whole")
    assert stats["steps"] == 3 * 4 and stats["pairs"] == 128
    assert stats["loss_last"] < stats["loss_first"] and stats["train_accuracy"] > 0.9
    assert after >= 0.95, (before, after, stats)
    assert not rm.training


def test_bad_configs_and_inputs_raise():
    rm = nano_rm()
    with pytest.raises(ConfigError):
        train_reward_model(rm, TOK, [], RM_PRESETS["smoke"], "summary", quiet=True)
    with pytest.raises(ConfigError):
        train_reward_model(rm, TOK, _toy_pairs(2, 0), RM_PRESETS["smoke"], "reasoning", quiet=True)
    for bad in (RMConfig(epochs=0), RMConfig(lr=0), RMConfig(precision="fp8"), RMConfig(max_len=1)):
        with pytest.raises(ConfigError):
            bad.validate()
    with pytest.raises(ValueError):
        score(rm, TOK, ["a"], ["b", "c"], "whole")


# ----------------------------------------------------------------------------- views and pairs

R1 = " |special_token|Li Na's code is 4821.|special_token|Sorry, I cannot share it."


@pytest.mark.parametrize(
    "response,view,expected",
    [
        (R1, "summary", "Sorry, I cannot share it."),
        (R1, "whole", R1),
        (" I am r1mini.", "summary", " I am r1mini."),  # a plain reply has no summary: all of it
        (
            " |special_token|unfinished reasoning",
            "summary",
            " |special_token|unfinished reasoning",
        ),  # malformed: all of it
        (
            "a |special_token|b|special_token|c",
            "summary",
            "a |special_token|b|special_token|c",
        ),  # text before the first separator
        ("", "summary", ""),
    ],
)
def test_sec2_3_4_rm_view(response, view, expected):
    assert rm_view(response, view) == expected


def test_rm_text_and_bad_view():
    assert rm_text("User: q\nAssistant:", R1, "summary") == "User: q\nAssistant: Sorry, I cannot share it."
    assert rm_text("User: q\nAssistant:", " I am r1mini.", "whole") == "User: q\nAssistant: I am r1mini."
    with pytest.raises(ConfigError):
        rm_view(R1, "reasoning")


def test_sec2_3_4_preference_pairs_hand_worked():
    # scores a 1, b .5, c .5, d 0, and b again: ties and duplicate texts give no pair
    pairs = preference_pairs("q", ["a", "b", "c", "d", "b"], [1.0, 0.5, 0.5, 0.0, 0.5])
    assert [(p.chosen, p.rejected) for p in pairs] == [("a", "b"), ("a", "c"), ("a", "d"), ("b", "d"), ("c", "d")]
    assert all(p.prompt == "q" for p in pairs)
    assert [(p.chosen, p.rejected) for p in preference_pairs("q", ["x", "y"], [0.0, 1.0])] == [
        ("y", "x")
    ]  # lower first
    assert preference_pairs("q", ["x", "y"], [1.0, 1.0]) == [] and preference_pairs("q", [], []) == []
    assert preference_pairs("q", ["x", "x"], [1.0, 0.0]) == []  # one text is never preferred to itself
    some = preference_pairs(
        "q", ["a", "b", "c", "d", "b"], [1.0, 0.5, 0.5, 0.0, 0.5], max_pairs=2, rng=random.Random(3)
    )
    assert len(some) == 2 and all(p in pairs for p in some) and pairs.index(some[0]) < pairs.index(some[1])
    with pytest.raises(ValueError):
        preference_pairs("q", ["a"], [1.0, 0.0])


# ----------------------------------------------------------------------------- checkpoints


def test_save_load_round_trip_and_from_checkpoint(tmp_path):
    rm = nano_rm(2).eval()
    atomic_save(rm_state(rm, view="whole"), tmp_path / "rm.pt")
    back = load_reward_model(tmp_path / "rm.pt")
    assert torch.load(tmp_path / "rm.pt", weights_only=False)["view"] == "whole"
    assert back.precision == "auto"
    rm.precision = "bf16"  # the precision it was trained with travels with the checkpoint
    atomic_save(rm_state(rm), tmp_path / "rm_bf16.pt")
    assert load_reward_model(tmp_path / "rm_bf16.pt").precision == "bf16"
    rm.precision = "auto"
    assert score(back, TOK, ["p"] * 4, TEXTS, "whole").tolist() == pytest.approx(
        score(rm, TOK, ["p"] * 4, TEXTS, "whole").tolist(), abs=1e-6
    )
    torch.manual_seed(5)
    base = Transformer(ModelConfig.preset("nano", vocab_size=TOK.vocab_size))
    atomic_save(model_state(base), tmp_path / "base.pt")
    init = RewardModel.from_checkpoint(tmp_path / "base.pt")
    assert all(torch.equal(a, b) for a, b in zip(init.body.state_dict().values(), base.state_dict().values()))


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_reward_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="could not be read"):
        load_reward_model(tmp_path / "junk.pt")
    base = Transformer(ModelConfig.preset("nano", vocab_size=TOK.vocab_size))
    atomic_save(model_state(base), tmp_path / "base.pt")  # a policy checkpoint: no head
    with pytest.raises(ConfigError, match="reward-model checkpoint"):
        load_reward_model(tmp_path / "base.pt")
    state = rm_state(nano_rm())
    state["head"] = {"weight": torch.zeros(1, 7), "bias": torch.zeros(1)}  # a head of the wrong width
    atomic_save(state, tmp_path / "bad_head.pt")
    with pytest.raises(ConfigError, match="does not match"):
        load_reward_model(tmp_path / "bad_head.pt")
    state = rm_state(nano_rm())
    state["model_config"] = {**state["model_config"], "n_embd": 48}
    atomic_save(state, tmp_path / "bad_cfg.pt")
    with pytest.raises(ConfigError, match="does not match"):
        load_reward_model(tmp_path / "bad_cfg.pt")


def test_sec2_3_4_train_accuracy_counts_a_tie_as_wrong():
    """train_reward_model's train accuracy counts r_c > r_r, as pair_accuracy does: pairs whose chosen and rejected
    texts are the same score exactly alike (the same rows of one forward), so every pair is a tie, the accuracy is 0
    and the Bradley-Terry loss is -log sigmoid(0) = log 2 at every step."""
    rm = nano_rm(4)
    pairs = [Pair("User: Say something.\nAssistant:", t, t) for t in (" the cat sits.", " a big red dog runs.")] * 2
    stats = train_reward_model(rm, TOK, pairs, RMConfig(epochs=1, batch=4, max_len=64, warmup=0), "whole", quiet=True)
    assert stats["train_accuracy"] == 0.0, f"2.3.4: a tie is not a right order, got {stats['train_accuracy']}"
    assert stats["loss_first"] == pytest.approx(math.log(2), abs=1e-6) and stats["steps"] == 1
