"""The byte-level BPE tokenizer: our stand-in for DeepSeek-V3's 128K vocabulary.

A `tiktoken.Encoding` built from BPE ranks shipped beside this file (`tokenizer.tiktoken`, a few kB), trained
on the toy corpus by r1mini/toy/bpe.py (nothing is ever downloaded). Every digit is a token of its own, with the
one space before it if there is one (" 47" -> " 4", "7"): column arithmetic needs to see each digit. Special
tokens (think/answer tags, `|special_token|`) are parsed only when asked (`allow_special=True`), so model output
can never smuggle one in as text.

    python -m r1mini.engine.tokenizer "What is 47 + 38?"     # show the tokens
    python -m r1mini.toy.bpe --train                         # retrain the ranks on the toy corpus

    >>> tok = get_tokenizer()
    >>> [tok.decode([i]) for i in tok.encode("x = 907")][-3:]
    [' 9', '0', '7']
    >>> ids = tok.encode("<think> 2+2 </think>", allow_special=True)
    >>> ids[0] == tok.think_id, ids[-1] == tok.think_end_id, tok.decode(ids)
    (True, True, '<think> 2+2 </think>')
    >>> tok.think_id in tok.encode("<think>")                # plain text never makes a special token
    False
"""

from __future__ import annotations

import argparse
import base64
import functools
from pathlib import Path

import tiktoken

from r1mini.engine.common import ConfigError, cli_main

SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>", "<think>", "</think>", "<answer>", "</answer>", "|special_token|")
# GPT-4's (cl100k) split pattern with `\p{N}{1,3}` replaced by ` ?\p{N}`: every digit is a piece alone,
# with the space before it if there is one.
PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
)
DIGIT_BYTES = frozenset(b"0123456789")
SPACE = ord(" ")
DEFAULT_VOCAB_SIZE = 1024  # ranks + special tokens
VOCAB_MIN, VOCAB_MAX = 300, 8192
RANKS_PATH = Path(__file__).with_name("tokenizer.tiktoken")


def check_vocab_size(vocab_size: int) -> None:
    if not VOCAB_MIN <= vocab_size <= VOCAB_MAX:
        raise ConfigError(
            f"vocab size {vocab_size} is out of range: choose {VOCAB_MIN}..{VOCAB_MAX} (default {DEFAULT_VOCAB_SIZE})"
        )


# ----------------------------------------------------------------------------- the ranks file


def load_ranks(path: str | Path) -> dict[bytes, int]:
    """Read and check a ranks file: ranks 0..n-1, each token once, the 256 single bytes first."""
    path, retrain = Path(path), "python -m r1mini.toy.bpe --train"
    if not path.is_file():
        raise ConfigError(f"tokenizer ranks file {str(path)!r} is missing; create it with `{retrain}`")
    ranks: dict[bytes, int] = {}
    try:
        for line in path.read_text().splitlines():
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
    except ValueError as e:  # wrong field count, bad base64, rank not an int, not UTF-8
        raise ConfigError(f"tokenizer ranks file {str(path)!r} is corrupt ({e}); retrain with `{retrain}`") from None
    if sorted(ranks.values()) != list(range(len(ranks))) or any(ranks.get(bytes([b])) != b for b in range(256)):
        raise ConfigError(f"tokenizer ranks file {str(path)!r} is corrupt: ranks must be 0..n-1 with byte b at rank b")
    return ranks


# ----------------------------------------------------------------------------- the tokenizer


class Tokenizer:
    """A tiktoken Encoding of our ranks + SPECIAL_TOKENS (ids right after the ranks, in that order)."""

    def __init__(self, ranks: dict[bytes, int]):
        n = len(ranks)
        self.special_ids = {s: n + i for i, s in enumerate(SPECIAL_TOKENS)}
        self.enc = tiktoken.Encoding(
            name="r1mini", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens=self.special_ids
        )
        (self.eot_id, self.pad_id, self.think_id, self.think_end_id,
         self.answer_id, self.answer_end_id, self.sep_id) = self.special_ids.values()  # fmt: skip

    @property
    def vocab_size(self) -> int:
        return self.enc.n_vocab

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """Token ids of `text`. Special-token strings are plain text unless `allow_special`."""
        if allow_special:
            return self.enc.encode(text, allowed_special="all")
        return self.enc.encode_ordinary(text)

    def encode_batch(self, texts: list[str], allow_special: bool = False) -> list[list[int]]:
        """`encode` for many texts at once (tiktoken spreads them over threads)."""
        if allow_special:
            return self.enc.encode_batch(texts, allowed_special="all")
        return self.enc.encode_ordinary_batch(texts)

    def decode(self, ids) -> str:
        """Text of a list (or 1-D tensor) of ids; bytes that are not valid UTF-8 become U+FFFD."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        try:
            return self.enc.decode(ids)
        except (KeyError, OverflowError):
            bad = [i for i in ids if not 0 <= i < self.vocab_size]
            raise ValueError(f"token ids {bad[:5]} are outside the vocabulary 0..{self.vocab_size - 1}") from None

    def pieces(self, ids: list[int]) -> list[str]:
        """Each id's own text (a byte-fragment of a character shows as U+FFFD)."""
        return [self.decode([i]) for i in ids]


@functools.lru_cache(maxsize=None)
def get_tokenizer(path: str | Path = RANKS_PATH) -> Tokenizer:
    """The shipped tokenizer (loaded once)."""
    return Tokenizer(load_ranks(path))


# ----------------------------------------------------------------------------- CLI


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m r1mini.engine.tokenizer", description="Show the tokens of a text.")
    p.add_argument("text", help="text to tokenize and show")
    p.add_argument("--allow-special", action="store_true", help="parse special-token strings in TEXT into their ids")
    args = p.parse_args()
    tok = get_tokenizer()
    ids = tok.encode(args.text, allow_special=args.allow_special)
    print(f"{len(ids)} tokens (vocab {tok.vocab_size})")
    print("ids:   ", ids)
    print("pieces:", " | ".join(repr(s) for s in tok.pieces(ids)))


if __name__ == "__main__":
    cli_main(main)
