"""Table 1 verbatim, the prompt substitution, and round trips of the completion formats (r1mini/template.py)."""

import random

import pytest

from r1mini.evaluate import zero_prompt
from r1mini.template import (
    R1_ZERO_TEMPLATE,
    SEP,
    chain_of_thought,
    chat_prompt,
    parse_r1_completion,
    parse_zero_completion,
    r1_completion,
    r1_zero_prompt,
    zero_completion,
)
from r1mini.toy.tasks import generate

# Table 1 of the paper, typed in again (markdown bold removed), "prompt" -> "{prompt}".
TABLE_1 = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant "
    "first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning "
    "process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> "
    "reasoning process here </think> <answer> answer here </answer>. User: {prompt}. Assistant:"
)


def test_sec2_2_3_template_is_table_1_verbatim():
    assert R1_ZERO_TEMPLATE == TABLE_1
    assert R1_ZERO_TEMPLATE.count("{prompt}") == 1


def test_sec2_2_3_zero_completion_is_the_shape_table_1_shows():
    assert zero_completion("reasoning process here", "answer here").strip() in TABLE_1


@pytest.mark.parametrize(
    "question, tail",
    [
        ("What is 47 + 38?", "User: What is 47 + 38? Assistant:"),
        ("  What is 47 + 38?  ", "User: What is 47 + 38? Assistant:"),
        ("Compute 6 * 7.", "User: Compute 6 * 7. Assistant:"),
        ("Solve 3x + 2 = 11", "User: Solve 3x + 2 = 11. Assistant:"),
        ("47 加 38 等于多少？", "User: 47 加 38 等于多少？ Assistant:"),
    ],
)
def test_sec2_2_3_prompt_substitution(question, tail):
    prompt = r1_zero_prompt(question)
    head = TABLE_1.split("User: {prompt}")[0]
    assert prompt == head + tail


def test_sec2_2_3_r1_zero_trains_and_evaluates_under_table_1():
    """evaluate.zero_prompt is the prompt train_zero.py hands GRPOTrainer and the evaluation samples under."""
    for problem in generate("add", 2, n=3, seed=0) + generate("linear", 1, n=2, seed=0):
        q = problem.question.strip()
        q += "" if q[-1] in "?.？。" else "."  # Table 1's "{prompt}." without a second stop (as in the cases above)
        assert zero_prompt(problem) == TABLE_1.replace("{prompt}.", q), (
            f"2.2.3: R1-Zero's prompt must be Table 1's template with the question in it, got {zero_prompt(problem)!r}"
        )


def test_chat_prompt():
    assert chat_prompt("Who are you?") == "User: Who are you?\nAssistant:"


def _random_text(rng: random.Random) -> str:
    alphabet = "0123456789 +-*/=()abcxyz.,\n\t加减乘等于个位十位进位所以"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def test_sec2_2_3_zero_round_trip():
    rng = random.Random(0)
    for _ in range(500):
        think, answer = _random_text(rng).strip(), _random_text(rng).strip()
        text = zero_completion(think, answer)
        assert text == f" <think> {think} </think> <answer> {answer} </answer>"
        assert parse_zero_completion(text) == (think, answer)
        assert parse_zero_completion(text + "\n\n") == (think, answer)


def test_sec2_3_1_r1_round_trip():
    rng = random.Random(1)
    for _ in range(500):
        reasoning, summary = _random_text(rng).strip(), _random_text(rng).strip()
        text = r1_completion(reasoning, summary)
        assert text == "|special_token|" + reasoning + "|special_token|" + summary
        assert parse_r1_completion(text) == (reasoning, summary)
    assert parse_r1_completion("x" + r1_completion("a", "b")) is None
    assert parse_r1_completion(r1_completion("a", "b") + SEP) is None
    assert parse_r1_completion("a b") is None


@pytest.mark.parametrize(
    "text, ok",
    [
        ("<think>a</think><answer>1</answer>", True),
        ("\n <think> a </think>\n\n<answer> 1 </answer> \n", True),
        ("<think></think><answer></answer>", True),  # structure only; an empty answer fails accuracy
        ("<think>a</think>", False),
        ("<answer>1</answer>", False),
        ("hi <think>a</think><answer>1</answer>", False),
        ("<think>a</think> so <answer>1</answer>", False),
        ("<think>a</think><answer>1</answer>.", False),
        ("<answer>1</answer><think>a</think>", False),
        ("<think>a</think></answer>1<answer>", False),
        ("<think>a<think>b</think><answer>1</answer>", False),
        ("<think>a</think><answer>1</answer><answer>2</answer>", False),
        ("<think>a<answer>1</think></answer>", False),
    ],
)
def test_sec2_2_2_parse_zero_completion_strictness(text, ok):
    assert (parse_zero_completion(text) is not None) == ok


@pytest.mark.parametrize(
    "text, cot",
    [
        (" <think> 3 加 4 </think> <answer> 7 </answer>", "3 加 4"),
        (" <think> 3 + 4 = 7, and then", "3 + 4 = 7, and then"),  # truncated response
        (" <think> 3 + 4 <answer> 7 </answer>", "3 + 4"),  # </think> forgotten
        ("|special_token| 3 + 4 = 7 |special_token| The answer is 7.", "3 + 4 = 7"),
        ("3 + 4 = 7 <answer> 7 </answer>", "3 + 4 = 7"),
        ("just text", "just text"),
    ],
)
def test_chain_of_thought(text, cot):
    assert chain_of_thought(text) == cot
