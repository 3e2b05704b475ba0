"""Section 2.2.3 (Table 1): the DeepSeek-R1-Zero template; section 2.3.1: R1's readable output format.

Every text format of the project lives here, and only here: the R1-Zero prompt, the
`<think> ... </think> <answer> ... </answer>` completion it asks for, R1's
`|special_token|<reasoning_process>|special_token|<summary>` output, and a plain chat format for SFT.
The rewards (r1mini/rewards.py) and metrics (r1mini/metrics.py) parse completions with the functions below.

A library module (no CLI); its checks: `python -m pytest tests/test_template.py`.

    >>> r1_zero_prompt("What is 47 + 38?")[-33:]
    'User: What is 47 + 38? Assistant:'
    >>> o = zero_completion("7 + 8 = 15, carry 1. 4 + 3 + 1 = 8.", "85")
    >>> o
    ' <think> 7 + 8 = 15, carry 1. 4 + 3 + 1 = 8. </think> <answer> 85 </answer>'
    >>> parse_zero_completion(o)
    ('7 + 8 = 15, carry 1. 4 + 3 + 1 = 8.', '85')
    >>> r1_completion("47 + 38 = 85.", "The answer is <answer> 85 </answer>.")
    '|special_token|47 + 38 = 85.|special_token|The answer is <answer> 85 </answer>.'

Substituting the question. Table 1 reads "User: prompt. Assistant:". A question that already ends in
sentence punctuation ("What is 47 + 38?") would give "...38?. Assistant:", which no web text (and so
no pretraining text) looks like; r1_zero_prompt drops the template's "." after ".", "?", "!" (and the
Chinese "。？！"), and keeps it otherwise ("Solve 3x + 2 = 11" -> "User: Solve 3x + 2 = 11. Assistant:").
The template string itself is Table 1 verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass

THINK, THINK_END, ANSWER, ANSWER_END = "<think>", "</think>", "<answer>", "</answer>"
SEP = "|special_token|"  # section 2.3.1: |special_token|<reasoning_process>|special_token|<summary>
TAGS = (THINK, THINK_END, ANSWER, ANSWER_END, SEP)

# Table 1, verbatim; "{prompt}" is replaced with the specific reasoning question.
R1_ZERO_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
    "User: {prompt}. Assistant:"
)
_END_PUNCT = ".?!。？！"


def r1_zero_prompt(question: str) -> str:
    """Table 1 with the question in place of "prompt" (no doubled punctuation, see the module docstring)."""
    q = question.strip()
    if q and q[-1] in _END_PUNCT:
        return R1_ZERO_TEMPLATE.replace("{prompt}.", q)
    return R1_ZERO_TEMPLATE.replace("{prompt}", q)


def zero_completion(think: str, answer: str) -> str:
    """The response Table 1 asks for; it follows "Assistant:", hence the leading space."""
    return f" {THINK} {think} {THINK_END} {ANSWER} {answer} {ANSWER_END}"


def parse_zero_completion(text: str) -> tuple[str, str] | None:
    """(think, answer), stripped, if `text` is exactly `<think> ... </think> <answer> ... </answer>`
    (each tag once, in this order, only whitespace outside and between the two blocks), else None.

    >>> parse_zero_completion("<think>2+2=4</think>\\n<answer>4</answer>\\n")
    ('2+2=4', '4')
    >>> parse_zero_completion("<think>a</think> so <answer>4</answer>") is None    # text between blocks
    True
    """
    if any(text.count(tag) != 1 for tag in (THINK, THINK_END, ANSWER, ANSWER_END)):
        return None
    i, j, k, m = (text.index(tag) for tag in (THINK, THINK_END, ANSWER, ANSWER_END))
    if not i < j < k < m:
        return None
    outside = text[:i] + text[j + len(THINK_END) : k] + text[m + len(ANSWER_END) :]
    if outside.strip():
        return None
    return text[i + len(THINK) : j].strip(), text[k + len(ANSWER) : m].strip()


def r1_completion(reasoning: str, summary: str) -> str:
    """Section 2.3.1: R1's readable output, |special_token|<reasoning_process>|special_token|<summary>."""
    return f"{SEP}{reasoning}{SEP}{summary}"


def parse_r1_completion(text: str) -> tuple[str, str] | None:
    """(reasoning, summary), stripped, if `text` is exactly the R1 format (two separators, nothing but
    whitespace before the first), else None.

    >>> parse_r1_completion(r1_completion("3 * 4 = 12", "12"))
    ('3 * 4 = 12', '12')
    """
    if text.count(SEP) != 2 or text.split(SEP, 1)[0].strip():
        return None
    _, reasoning, summary = text.split(SEP)
    return reasoning.strip(), summary.strip()


def chat_prompt(question: str) -> str:
    """Plain chat format for SFT (sections 2.3.1, 2.3.3) and for non-reasoning data."""
    return f"User: {question}\nAssistant:"


def r1_prompt(question: str) -> str:
    """The prompt of every DeepSeek-R1 stage (2.3.1-2.3.4, and the distilled students): the plain chat format.
    The response that follows is `r1_completion(...)` with one leading space, or a plain reply for simple
    non-reasoning requests (2.3.3: "we do not provide a CoT in response" to simple queries)."""
    return chat_prompt(question)


def chain_of_thought(text: str) -> str:
    """The reasoning part of a response, for the language-consistency reward (2.3.2) and the metrics:
    the text after <think> up to </think> (or <answer>, or the end when truncated); else, in R1's format,
    the text between the first two separators; else the text before <answer> (or all of it).

    >>> chain_of_thought(" <think> 3 加 4 等于 7 </think> <answer> 7 </answer>")
    '3 加 4 等于 7'
    >>> chain_of_thought("so 3 + 4 = 7 <answer> 7 </answer>")
    'so 3 + 4 = 7'
    """
    if THINK in text:
        cot = text.split(THINK, 1)[1].split(THINK_END, 1)[0].split(ANSWER, 1)[0]
    elif SEP in text:
        cot = text.split(SEP, 2)[1]
    else:
        cot = text.split(ANSWER, 1)[0]
    return cot.strip()


# ----------------------------------------------------------------------------- a prompt and its response


@dataclass(frozen=True)
class Example:
    """A prompt and the response to learn after it, in one of the formats above: one SFT example (r1mini/sft.py), as
    written to JSONL: {"prompt", "response", "source", "language"}."""

    prompt: str  # the full prompt text, e.g. template.r1_prompt(question) = "User: ...\\nAssistant:"
    response: str  # what the model must learn to write after the prompt (loss on these tokens + <|endoftext|>)
    source: str = ""  # where it came from: "generator", "r1_zero", "rejection", "general/<kind>", ...
    language: str = "en"  # "en" or "zh": the language of the question (and of the chain of thought)
