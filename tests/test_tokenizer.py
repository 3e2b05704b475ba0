"""Tests for r1mini/engine/tokenizer.py, each against an independent computation: hand-worked merges, a
from-scratch BPE trainer (recounts every pair each step, no word dedup), a naive BPE encoder."""

import collections
import random
import re
import subprocess
import sys

import pytest
import regex  # tiktoken's dependency; the reference pre-tokenizer below

from r1mini.engine.common import ConfigError
from r1mini.engine.tokenizer import (
    PAT_STR,
    RANKS_PATH,
    SPECIAL_TOKENS,
    VOCAB_MAX,
    VOCAB_MIN,
    Tokenizer,
    get_tokenizer,
    load_ranks,
)
from r1mini.toy.bpe import _fallback_text, save_ranks, train_bpe

DIGITS = set(b"0123456789")
DIGIT_TOKENS = [bytes([d]) for d in DIGITS] + [b" " + bytes([d]) for d in DIGITS]  # the only tokens with a digit


def mergeable(a: bytes, b: bytes) -> bool:
    """The digit rule, on bytes: a digit joins one space before it and nothing else."""
    return (not DIGITS & set(a + b)) or (a == b" " and len(b) == 1 and b[0] in DIGITS)


def random_text(rng: random.Random, n: int) -> str:
    """Valid Unicode (no lone surrogates) from many scripts, plus the special-token strings."""
    pools = [
        "abcxyz ABC 0123456789 +-*/=().,?!'\"\t\n\r  ",
        "".join(map(chr, range(0, 32))) + "\x7f\x85\xa0",  # control characters, odd whitespace
        "个位十位进位所以等于加减乘等等，让我再检查一下。",
        "éüßñøΩπ∑½²３٣🙂🚀👍🏽\u200d\ufeff",
    ]
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.05:
            out.append(rng.choice(SPECIAL_TOKENS))
        elif r < 0.1:  # random bytes, made valid
            out.append(bytes(rng.randrange(256) for _ in range(4)).decode("utf-8", errors="replace"))
        elif r < 0.15:  # any code point but the surrogates
            out.append(chr(rng.choice([rng.randrange(0xD800), rng.randrange(0xE000, 0x110000)])))
        else:
            out.append(rng.choice(rng.choice(pools)))
    return "".join(out)


def _merge(word, pair, new_id):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def naive_train(pieces: list[str], n_ranks: int) -> list[bytes]:
    """Token bytes in rank order: every step recounts every pair of every piece occurrence."""
    words = [list(p.encode()) for p in pieces]
    vocab = [bytes([b]) for b in range(256)]
    while len(vocab) < n_ranks:
        counts = collections.Counter()
        for w in words:
            for a, b in zip(w, w[1:]):
                if mergeable(vocab[a], vocab[b]):
                    counts[a, b] += 1
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then the smallest pair
        new = vocab[pair[0]] + vocab[pair[1]]
        if new not in vocab:
            vocab.append(new)
        words = [_merge(w, pair, vocab.index(new)) for w in words]
    return vocab


def naive_encode(ranks: dict[bytes, int], text: str) -> list[int]:
    """tiktoken's definition: per regex piece, merge the adjacent pair whose bytes have the lowest rank."""
    ids = []
    for piece in regex.findall(PAT_STR, text):
        parts = [bytes([b]) for b in piece.encode()]
        while True:
            cands = [(ranks[a + b], i) for i, (a, b) in enumerate(zip(parts, parts[1:])) if a + b in ranks]
            if not cands:
                break
            _, i = min(cands)
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        ids += [ranks[p] for p in parts]
    return ids


def in_rank_order(ranks: dict[bytes, int]) -> list[bytes]:
    return [t for t, _ in sorted(ranks.items(), key=lambda kv: kv[1])]


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return get_tokenizer()


# ----------------------------------------------------------------------------- trainer


def test_hand_worked_merges():
    # pieces "aaab", " aaab", " ab". Pairs: aa 2+2=4, ab 3, " a" 2        -> merge aa
    # [aa a b] [_ aa a b] [_ a b]: ab 3, (aa,a) 2, (_,aa) 1, (_,a) 1      -> merge ab
    # [aa ab] [_ aa ab] [_ ab]: (aa,ab) 2, (_,aa) 1, (_,ab) 1             -> merge aaab
    # [aaab] [_ aaab] [_ ab]: (_,ab) 1 and (_,aaab) 1 tie; ab=257 < aaab=258 -> " ab", then " aaab"; no pairs left
    ranks = train_bpe("aaab aaab ab", vocab_size=VOCAB_MIN)
    assert in_rank_order(ranks)[256:] == [b"aa", b"ab", b"aaab", b" ab", b" aaab"]
    assert in_rank_order(ranks)[:256] == [bytes([b]) for b in range(256)]


@pytest.mark.parametrize("seed", range(4))
def test_trainer_matches_from_scratch_trainer(seed):
    rng = random.Random(seed)
    tiny = "".join(rng.choice("aab c 12\n个位") for _ in range(400))  # many ties and repeats
    real = _fallback_text(6000, seed)
    for text, pat, split in [(tiny, r"\S+|\s+", re.findall), (real, PAT_STR, regex.findall)]:
        ranks = train_bpe(text, vocab_size=400, pat_str=pat)
        assert in_rank_order(ranks) == naive_train(split(pat, text), 400 - len(SPECIAL_TOKENS))


def test_no_merge_holds_two_digits_even_if_the_regex_allows():
    text = "1212 1212 1212 a1a1 x9x9  7  7 " * 20 + "ab ab"
    ranks = train_bpe(text, vocab_size=VOCAB_MIN, pat_str=r".+")  # this pattern keeps everything in one word
    merged = in_rank_order(ranks)[256:]
    assert b" ab" in merged and b" 1" in merged  # " 1": the space may join the one digit after it
    assert all(t in DIGIT_TOKENS for t in merged if DIGITS & set(t)), [t for t in merged if DIGITS & set(t)]


def test_vocab_size_is_validated():
    for bad in (VOCAB_MIN - 1, VOCAB_MAX + 1):
        with pytest.raises(ConfigError, match="out of range"):
            train_bpe("abc", vocab_size=bad)


# ----------------------------------------------------------------------------- the shipped tokenizer


def test_shipped_vocab(tok):
    assert VOCAB_MIN <= tok.vocab_size <= VOCAB_MAX
    n = tok.vocab_size - len(SPECIAL_TOKENS)
    assert list(tok.special_ids.values()) == list(range(n, tok.vocab_size))
    named = [tok.eot_id, tok.pad_id, tok.think_id, tok.think_end_id, tok.answer_id, tok.answer_end_id, tok.sep_id]
    assert named == list(range(n, n + 7)) and [tok.decode([i]) for i in named] == list(SPECIAL_TOKENS)
    assert get_tokenizer() is tok  # cached
    ranks = load_ranks(RANKS_PATH)
    assert len(ranks) == n and all(t in DIGIT_TOKENS for t in in_rank_order(ranks)[256:] if DIGITS & set(t))


def test_round_trip_random_unicode(tok):
    rng = random.Random(0)
    texts = [random_text(rng, rng.randint(0, 200)) for _ in range(300)] + ["", " ", "\n\n", "🙂" * 9]
    for t in texts:
        assert tok.decode(tok.encode(t)) == t
        assert tok.decode(tok.encode(t, allow_special=True)) == t
    assert tok.encode_batch(texts[:20]) == [tok.encode(t) for t in texts[:20]]
    assert tok.encode_batch(texts[:20], allow_special=True) == [tok.encode(t, allow_special=True) for t in texts[:20]]


def test_every_digit_is_its_own_token(tok):
    rng = random.Random(1)
    texts = ["12345", "x=-907", "abc123def", "3.14159e10", "1,000,000", "个位7加8等于15", "\n42\n"]
    texts += ["9 * 6 = 54", "  7"]
    texts += [random_text(rng, 80) for _ in range(100)]
    for t in texts:
        pieces = [tok.enc.decode_single_token_bytes(i) for i in tok.encode(t)]
        assert all(p in DIGIT_TOKENS for p in pieces if DIGITS & set(p)), (t, pieces)
        assert sum(p in DIGIT_TOKENS for p in pieces) == sum(c in "0123456789" for c in t)
    # the space before a number goes with its first digit: "9 * 6 = 54" is 6 tokens, not 9
    assert [tok.decode([i]) for i in tok.encode("9 * 6 = 54")] == ["9", " *", " 6", " =", " 5", "4"]


def test_specials_only_when_asked(tok):
    specials = set(tok.special_ids.values())
    for s, i in tok.special_ids.items():
        plain = tok.encode(f"a{s}b")
        assert not specials & set(plain) and tok.decode(plain) == f"a{s}b"
        assert tok.encode(f"a{s}b", allow_special=True) == tok.encode("a") + [i] + tok.encode("b")
        assert tok.decode([i]) == s
    rng = random.Random(2)
    for _ in range(50):
        assert not specials & set(tok.encode(random_text(rng, 100)))


def test_matches_naive_encoder(tok):
    ranks = load_ranks(RANKS_PATH)
    rng = random.Random(3)
    texts = [random_text(rng, 120) for _ in range(100)] + [_fallback_text(3000, 7)]
    for t in texts:
        assert tok.encode(t) == naive_encode(ranks, t)


def test_decode_rejects_unknown_ids(tok):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([1, tok.vocab_size])


# ----------------------------------------------------------------------------- files and CLI


def test_save_load_and_bad_files(tmp_path):
    ranks = train_bpe("aaab aaab ab", vocab_size=VOCAB_MIN)
    save_ranks(ranks, tmp_path / "r.tiktoken")
    assert load_ranks(tmp_path / "r.tiktoken") == ranks
    assert Tokenizer(ranks).encode("aaab ab") == [258, 259]  # 'aaab', ' ab' (see test_hand_worked_merges)
    with pytest.raises(ConfigError, match="missing"):
        get_tokenizer(tmp_path / "nope.tiktoken")
    lines = (tmp_path / "r.tiktoken").read_text().splitlines()
    for name, bad in [
        ("garbage", "not a ranks file\n"),
        ("badb64", "@@@@ 0\n"),
        ("gap", "\n".join(lines[:-2] + lines[-1:]) + "\n"),  # rank 259 missing
        ("bytes", "\n".join(lines[1:]) + "\n"),  # byte 0 missing
    ]:
        (tmp_path / name).write_text(bad)
        with pytest.raises(ConfigError, match="corrupt"):
            load_ranks(tmp_path / name)


def _cli(*args, module="r1mini.engine.tokenizer"):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=60)


def test_cli(tmp_path):
    r = _cli("--help", module="r1mini.toy.bpe")
    assert r.returncode == 0 and "--train" in r.stdout and "--vocab-size" in r.stdout
    r = _cli("--allow-special", "<think>4</think>")
    assert r.returncode == 0 and "'<think>' | '4' | '</think>'" in r.stdout
    out = tmp_path / "t.tiktoken"
    r = _cli(
        "--train",
        "--fallback-text",
        "--chars",
        "20000",
        "--vocab-size",
        "400",
        "--out",
        str(out),
        module="r1mini.toy.bpe",
    )
    assert r.returncode == 0, r.stderr
    assert len(load_ranks(out)) == 400 - len(SPECIAL_TOKENS)
    r = _cli("--train", "--vocab-size", "100", module="r1mini.toy.bpe")
    assert r.returncode == 2 and "out of range" in r.stderr
