"""Training the tokenizer's BPE ranks on the toy corpus (r1mini/engine/tokenizer.py loads them).

DeepSeek-R1 reuses DeepSeek-V3's 128K byte-level BPE vocabulary; we cannot download it, and a toy model wants a
toy vocabulary anyway, so this trains our own ranks on our own synthetic text. Byte-level BPE, as in GPT-2/GPT-4:
1. pre-tokenize with a regex (GPT-4's pattern, except that every digit is a piece of its own, with the one space
   before it if there is one: " 47" -> " 4", "7");
2. count the pieces ("words"); merges never cross piece boundaries, so each distinct word is processed once,
   weighted by its count;
3. repeatedly merge the most frequent adjacent pair (ties: the smallest pair of ids) into a new token, updating
   only the pair counts of the words that held it.
Ranks: the 256 single bytes first (rank = byte value, so any Unicode string round-trips), then the merges in
order, then the special tokens. No token ever holds two digits, and the space goes with the digit because numbers
are written with a space before them ("9 * 6 = 54"): a bare " " token before every number would be a fifth of all
tokens.

    python -m r1mini.toy.bpe --train        # retrain on r1mini.toy.corpus, rewrite r1mini/engine/tokenizer.tiktoken
"""

from __future__ import annotations

import argparse
import base64
import collections
import heapq
import random
import sys
import time
from pathlib import Path
from typing import Iterable

from tqdm import tqdm

from r1mini.engine.common import ConfigError, atomic_write_bytes, cli_main
from r1mini.engine.tokenizer import (
    DEFAULT_VOCAB_SIZE,
    DIGIT_BYTES,
    PAT_STR,
    RANKS_PATH,
    SPACE,
    SPECIAL_TOKENS,
    Tokenizer,
    check_vocab_size,
    get_tokenizer,
)
from r1mini.template import r1_zero_prompt


def _pairs(word: list[int], digit_ids: set[int]) -> Iterable[tuple[int, int]]:
    """Adjacent pairs of a word that may be merged: a token that holds a digit (digit_ids) is only ever
    made from one space and one digit byte, and never merged again."""
    for a, b in zip(word, word[1:]):
        if (a not in digit_ids and b not in digit_ids) or (a == SPACE and b in DIGIT_BYTES):
            yield a, b


def _merge(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """`word` with every occurrence of `pair` (left to right) replaced by `new_id`."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_bpe(
    text: str, vocab_size: int = DEFAULT_VOCAB_SIZE, pat_str: str = PAT_STR, progress: bool = False
) -> dict[bytes, int]:
    """The BPE ranks (token bytes -> rank) for a vocabulary of `vocab_size` ids, special tokens included.

    Stops early (a smaller vocabulary) if the text runs out of pairs to merge.

    >>> ranks = train_bpe("aaab aaab ab", vocab_size=300)     # 'aa' (4 times) first, then 'ab' (3 times), ...
    >>> [t for t, r in sorted(ranks.items(), key=lambda kv: kv[1])][256:]
    [b'aa', b'ab', b'aaab', b' ab', b' aaab']
    """
    check_vocab_size(vocab_size)
    import regex  # tiktoken's own dependency; only the trainer needs it (`re` lacks \p{L})

    counts = collections.Counter(regex.findall(pat_str, text))
    words = [list(w.encode("utf-8")) for w in counts]
    freqs = list(counts.values())

    vocab = [bytes([b]) for b in range(256)]  # id -> token bytes
    ranks = {t: i for i, t in enumerate(vocab)}  # token bytes -> id
    digit_ids = set(DIGIT_BYTES)  # ids of the tokens that hold a digit
    pair_counts: dict[tuple[int, int], int] = collections.defaultdict(int)
    where: dict[tuple[int, int], set[int]] = collections.defaultdict(set)  # pair -> words holding it
    for i, w in enumerate(words):
        for p in _pairs(w, digit_ids):
            pair_counts[p] += freqs[i]
            where[p].add(i)
    heap = [(-c, p) for p, c in pair_counts.items()]  # max count first, then the smallest pair
    heapq.heapify(heap)

    n_ranks = vocab_size - len(SPECIAL_TOKENS)
    bar = tqdm(total=n_ranks - 256, desc="bpe merges", disable=not progress)
    while len(vocab) < n_ranks and heap:
        neg_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg_count:
            continue  # stale heap entry: this pair's count changed since it was pushed
        new_bytes = vocab[pair[0]] + vocab[pair[1]]
        new_id = ranks.get(new_bytes)  # tiktoken needs unique bytes: should another split make them again, reuse
        if new_id is None:
            new_id = len(vocab)
            vocab.append(new_bytes)
            ranks[new_bytes] = new_id
            bar.update()
        if DIGIT_BYTES & set(new_bytes):
            digit_ids.add(new_id)
        changed = set()
        for i in where.pop(pair):
            old, f = words[i], freqs[i]
            words[i] = _merge(old, pair, new_id)
            if len(words[i]) == len(old):
                continue  # `where` is never pruned: this word lost the pair to an earlier merge
            for p in _pairs(old, digit_ids):
                pair_counts[p] -= f
                changed.add(p)
            for p in _pairs(words[i], digit_ids):
                pair_counts[p] += f
                where[p].add(i)
                changed.add(p)
        for p in changed:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
    bar.close()
    return ranks


def save_ranks(ranks: dict[bytes, int], path: str | Path) -> None:
    """tiktoken's format: one `base64(token) rank` line per token, in rank order."""
    lines = [f"{base64.b64encode(t).decode()} {r}\n" for t, r in sorted(ranks.items(), key=lambda kv: kv[1])]
    atomic_write_bytes(path, "".join(lines).encode())


def _fallback_text(n_chars: int, seed: int = 0) -> str:
    """A small built-in training text (--fallback-text; the tests train on it): no corpus needed.

    A rough mix of what the real corpus holds: arithmetic, equations and countdown worked in English
    and Chinese, the R1-Zero template, think/answer tags, reflection phrases and some chat.
    """
    rng = random.Random(seed)
    names = ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry"]
    names += ["小明", "小红", "老师", "妈妈"]
    things = [("apples", "苹果"), ("books", "书"), ("coins", "硬币"), ("pencils", "铅笔"), ("eggs", "鸡蛋")]
    chat = [
        "User: Hello! Who are you?\nAssistant: I am a small assistant that is good at arithmetic.",
        "User: 你好，你是谁？\nAssistant: 我是一个会做算术的小助手。",
        "User: How do you say seven in Chinese?\nAssistant: Seven is 七, the number 7.",
        "User: Thank you for your help!\nAssistant: You are welcome. Have a nice day!",
        "User: 谢谢你的帮助！\nAssistant: 不客气，祝你今天愉快！",
        "User: What is the capital of France?\nAssistant: The capital of France is Paris.",
        "User: Can you tell me a short story?\nAssistant: Once upon a time, a little robot learned to count.",
        "The weather is nice today, and the students are practicing their sums in the classroom.",
        "我们今天学习两位数的加法和减法，请认真检查每一步，不要着急。",
        "Mathematics is the language of patterns; practice makes every step easier to remember.",
        "一年有十二个月，一个星期有七天，一天有二十四个小时。",
        "Please write your final answer clearly, and check your work before you submit it.",
    ]

    def addition(a: int, b: int, zh: bool) -> str:
        steps, carry = [], 0
        for k, (x, y) in enumerate(zip(str(a).zfill(3)[::-1], str(b).zfill(3)[::-1])):
            s = int(x) + int(y) + carry
            if zh:
                place = "个十百"[k]
                steps.append(f"{place}位 {x} 加 {y} 加 {carry} 等于 {s}，写 {s % 10} 进位 {s // 10}。")
            else:
                place = ["ones", "tens", "hundreds"][k]
                steps.append(f"{place}: {x} + {y} + {carry} = {s}, write {s % 10} carry {s // 10}.")
            carry = s // 10
        if zh:
            check = f"等等，让我再检查一下：{a} 加 {b} 等于 {a + b}。"
        else:
            check = f" Wait, let me recheck: {a} + {b} = {a + b}."
        return ("" if zh else " ").join(steps) + (check if rng.random() < 0.2 else "")

    def problem() -> tuple[str, str, str]:
        """(question, worked steps, answer) in English or Chinese."""
        zh, kind = rng.random() < 0.4, rng.randrange(4)
        a, b, x = rng.randint(2, 999), rng.randint(2, 999), rng.randint(-20, 20)
        if kind == 0:
            q = f"{a} 加 {b} 等于多少？" if zh else f"What is {a} + {b}?"
            return q, addition(a, b, zh), str(a + b)
        if kind == 1:
            (en, cn), who = rng.choice(things), rng.choice(names)
            a, b = a % 50 + 2, b % 9 + 2
            q = (f"{who}有 {a} 盒{cn}，每盒 {b} 个，一共有多少个？" if zh
                 else f"{who} has {a} boxes of {en} with {b} {en} in each box. How many {en} are there?")  # fmt: skip
            return q, (f"{a} 乘 {b} 等于 {a * b}。" if zh else f"{a} * {b} = {a * b}."), str(a * b)
        if kind == 2:
            k, c = a % 9 + 2, b % 40
            q = f"解方程 {k}x + {c} = {k * x + c}。" if zh else f"Solve {k}x + {c} = {k * x + c}."
            t = (f"两边减 {c}：{k}x = {k * x}。两边除以 {k}：x = {x}。" if zh
                 else f"Subtract {c} from both sides: {k}x = {k * x}. Divide both sides by {k}: x = {x}.")  # fmt: skip
            return q, t, str(x)
        n = [rng.randint(1, 25) for _ in range(3)]
        m, t = n[0] * n[1], n[0] * n[1] - n[2]
        q = (
            f"用数字 {n[0]}、{n[1]}、{n[2]} 各一次，算出 {t}。"
            if zh
            else f"Using {n[0]}, {n[1]}, {n[2]} once each, make {t}."
        )
        return q, f"{n[0]} * {n[1]} = {m}, {m} - {n[2]} = {t}.", str(t)

    def document() -> str:
        if rng.random() < 0.15:
            return rng.choice(chat)
        q, think, ans = problem()
        r = rng.random()
        if r < 0.25:
            return f"{r1_zero_prompt(q)} <think> {think} </think> <answer> {ans} </answer>"
        if r < 0.4:
            return f"User: {q}\nAssistant: |special_token|{think}|special_token|The answer is {ans}."
        if r < 0.8:
            return f"{q} {think} So the answer is {ans}."
        return f"{q} {ans}"

    parts, n = [], 0
    while n < n_chars:
        parts.append(document() + "\n")
        n += len(parts[-1])
    return "".join(parts)[:n_chars]


def _train(args: argparse.Namespace) -> None:
    check_vocab_size(args.vocab_size)
    if args.fallback_text:
        text = _fallback_text(args.chars, args.seed)
    else:
        try:
            from r1mini.toy.corpus import sample_text

            text = sample_text(args.chars, seed=args.seed)
        except Exception as e:
            raise ConfigError(
                f"could not get training text from r1mini.toy.corpus.sample_text ({type(e).__name__}: {e}); "
                "fix r1mini/toy/corpus.py, or pass --fallback-text to train on the built-in fallback text"
            ) from None
    t0 = time.time()
    ranks = train_bpe(text, args.vocab_size, progress=True)
    save_ranks(ranks, args.out)
    get_tokenizer.cache_clear()
    tok = Tokenizer(ranks)
    n_tokens = len(tok.encode(text))
    print(f"trained on {len(text):,} chars in {time.time() - t0:.1f}s: vocab {tok.vocab_size} "
          f"({len(ranks) - 256} merges + 256 bytes + {len(SPECIAL_TOKENS)} specials), "
          f"{len(text) / n_tokens:.2f} chars/token; wrote {args.out}")  # fmt: skip
    if tok.vocab_size < args.vocab_size:
        print(f"note: the text ran out of pairs to merge before reaching vocab {args.vocab_size}", file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m r1mini.toy.bpe", description="Retrain the BPE ranks shipped with r1mini."
    )
    p.add_argument("--train", action="store_true", help="train new ranks on r1mini.toy.corpus.sample_text")
    p.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE, help="total ids: ranks + special tokens")
    p.add_argument("--chars", type=int, default=2_000_000, help="characters of training text")
    p.add_argument("--seed", type=int, default=0, help="seed of the training text")
    p.add_argument("--out", type=Path, default=RANKS_PATH, help="where to write the ranks")
    p.add_argument("--fallback-text", action="store_true", help="train on a built-in fallback text")
    args = p.parse_args()
    if not args.train:
        p.error("nothing to do: pass --train")
    _train(args)


if __name__ == "__main__":
    cli_main(main)
