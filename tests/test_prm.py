"""Section 4.2's process reward model (r1mini/prm.py) and its steps (r1mini/steps.py): the step splitter and both
labellers on hand-worked texts (right steps, a wrong carry, a step copied from another problem, a chain with no
steps), the PRM's scores read at the step boundaries against a last-token read of each truncated text, best-of-N
and majority vote on hand-made candidates, and the smoke run end to end. `pytest -k sec4_2`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from r1mini import steps as steps_mod
from r1mini.engine.model import ModelConfig
from r1mini.engine.sampler import Samples
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.prm import ProcessRewardModel, encode_steps, prm_prompt, rerank_figures
from r1mini.steps import rollout_labels, rule_labels, split_steps
from r1mini.toy.tasks import Problem

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # the smoke models are tiny: one thread is as fast, and robust to a busy CPU
TOK = get_tokenizer()
P46 = Problem("mul", "What is 46 * 4?", "184", 2)
RIGHT = (
    " <think> 46 * 4: ones: 6 * 4 = 24, write 4 carry 2. tens: 4 * 4 = 16, 16 + 2 = 18, write 8 carry 1."
    " hundreds: write 1. So 46 * 4 = 184. </think> <answer> 184 </answer>"
)


def test_sec4_2_split_steps_hand_worked():
    steps = split_steps(RIGHT)
    assert [s.text for s in steps] == [
        " <think> 46 * 4: ones: 6 * 4 = 24, write 4 carry 2.",
        " tens: 4 * 4 = 16, 16 + 2 = 18, write 8 carry 1.",
        " hundreds: write 1.",
        " So 46 * 4 = 184.",
        " </think> <answer> 184 </answer>",
    ], "one step per sentence of the chain of thought, then the answer step"
    assert [s.answer for s in steps] == [False] * 4 + [True], "only the last step is the answer step"
    assert "".join(s.text for s in steps) == RIGHT, "the steps tile the response"
    assert all(RIGHT[s.start : s.end] == s.text for s in steps), "start/end index the response"
    zh1 = " <think> 46 * 4：个位：6 * 4 = 24，写 4 进 2。"
    zh2 = "十位：4 * 4 = 16，16 + 2 = 18，写 8 进 1。"
    zh = zh1 + zh2 + " </think>"
    assert [s.text for s in split_steps(zh)] == [
        zh1,
        zh2,
    ], "a Chinese full stop ends a step; no answer block, no answer step"
    direct = split_steps(" <think> 46 * 4 = 164 </think> <answer> 164 </answer>")
    assert [s.text for s in direct] == [" <think> 46 * 4 = 164 ", "</think> <answer> 164 </answer>"], (
        "an unended sentence is a step"
    )
    assert [s.answer for s in split_steps(" <think> </think> <answer> 5 </answer>")] == [True], (
        "a chain with no steps: the answer step alone"
    )
    assert split_steps("") == [] and split_steps(" <think>   </think>") == [], "nothing to split: no step"
    assert len(split_steps("<think> x = 1.5 now. </think>")) == 1, "a decimal point does not end a step"


def test_sec4_2_rule_labels_hand_worked():
    assert rule_labels(RIGHT, P46) == [1, 1, 1, 1, 1], "every step right"
    zh = (
        " <think> 46 * 4：个位：6 * 4 = 24，写 4 进 2。十位：4 * 4 = 16，16 + 2 = 18，"
        "写 8 进 1。百位：写 1。所以 46 * 4 = 184。 </think> <answer> 184 </answer>"
    )
    assert rule_labels(zh, P46) == [1, 1, 1, 1, 1], "the same steps in Chinese are right"
    wrong_carry = RIGHT.replace("write 4 carry 2. tens: 4 * 4 = 16, 16 + 2 = 18, write 8", "write 4 carry 3. "
                                "tens: 4 * 4 = 16, 16 + 3 = 19, write 9").replace("184", "194")  # fmt: skip
    assert rule_labels(wrong_carry, P46) == [0, 0, 0, 0, 0], "a wrong carry (24 -> carry 3): bad from there on"
    late_carry = RIGHT.replace("16 + 2 = 18, write 8", "16 + 3 = 19, write 9").replace("184", "194")
    assert rule_labels(late_carry, P46) == [1, 0, 0, 0, 0], "true arithmetic (16 + 3 = 19) on a carry never made"
    copied = RIGHT.replace("tens: 4 * 4 = 16, 16 + 2 = 18, write 8 carry 1.", "tens: 7 * 3 = 21, write 1 carry 2.")
    assert rule_labels(copied, P46) == [1, 0, 0, 0, 0], "a true step of another problem (7 * 3) is not this one's"
    false_sum = RIGHT.replace("16 + 2 = 18", "16 + 2 = 17")
    assert rule_labels(false_sum, P46) == [1, 0, 0, 0, 0], "false arithmetic (16 + 2 = 17) is bad"
    assert rule_labels(" <think> </think> <answer> 184 </answer>", P46) == [1], "no steps: the answer alone, right"
    assert rule_labels(" <think> </think> <answer> 183 </answer>", P46) == [0], "no steps: the answer alone, wrong"
    assert rule_labels(" <think> 46 * 4 = 184 </think> <answer> 184 </answer>", P46) == [1, 1], (
        "a right direct answer: the conclusion the column algorithm states"
    )
    assert rule_labels(RIGHT.replace("<answer> 184", "<answer> 185"), P46) == [1, 1, 1, 1, 0], (
        "right steps, wrong answer block: only the answer step is bad"
    )
    lin = Problem("linear", "Solve for x: 3x - 5 = -26.", "-7", 3)
    text = " <think> 3x - 5 = -26. Add 5: 3x = -26 + 5 = -21. Divide by 3: x = -21 / 3 = -7. So x = -7. </think>"
    assert rule_labels(text + " <answer> -7 </answer>", lin) == [1, 1, 1, 1, 1], "negative numbers are exact"
    cd = Problem("countdown", "Using the numbers 2, 7, 8, make 30.", "30", 1, (2, 7, 8), 30)
    tries = " <think> Try 7 * 2 = 14, 14 * 8 = 112. 112 is not 30. Try 8 + 7 = 15, 15 * 2 = 31. </think>"
    assert rule_labels(tries + " <answer> (8 + 7) * 2 </answer>", cd) == [1, 1, 0, 0], (
        "countdown: a try's arithmetic is checked (15 * 2 = 31 is false); the answer by the countdown reward"
    )


def fake_generate(table):
    """A stand-in for engine.sampler.generate: each prompt (decoded) ends with a prefix of `table`, whose k
    continuations it returns as tokens."""

    def generate(model, prompts, cfg, n_samples=1, seed=None, pad_id=0, **kw):
        rows = []
        for ids in prompts:
            text = TOK.decode(ids)
            key = max((k for k in table if text.endswith(k)), key=len)
            conts = table[key]
            assert len(conts) == n_samples, "k continuations per prefix"
            rows += [TOK.encode(c, allow_special=True) for c in conts]
        T = max(len(r) for r in rows)
        tokens = torch.full((len(rows), T), pad_id)
        mask = torch.zeros(len(rows), T, dtype=torch.bool)
        for i, r in enumerate(rows):
            tokens[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = True
        return Samples(tokens, torch.zeros(len(rows), T), mask, torch.zeros(len(rows)), torch.zeros(len(rows)))

    return generate


def test_sec4_2_rollout_labels_hand_worked(monkeypatch):
    """Math-Shepherd's hard estimate: a step is good when one of k completions from its prefix ends right."""
    response = RIGHT.replace("16 + 2 = 18, write 8", "16 + 3 = 19, write 9").replace("184", "194")
    steps = split_steps(response)
    ends = [response[: s.end] for s in steps]
    table = {
        ends[0]: [" tens: garbage </think> <answer> 7 </answer>", " ... </think> <answer> 184 </answer>"],
        ends[1]: [" So 46 * 4 = 194. </think> <answer> 194 </answer>", " </think> <answer> 195 </answer>"],
        # the policy ignores the wrong step and still answers right: rollouts call it good, the rule bad
        ends[2]: [" So 46 * 4 = 184. </think> <answer> 184 </answer>", " </think> <answer> 1 </answer>"],
        ends[3]: [" </think> <answer> 194 </answer>", " </think> <answer> 194 </answer>"],
    }
    wrong = [" </think> <answer> 183 </answer>", " </think> <answer> 185 </answer>"]
    for s in split_steps(RIGHT)[1:4]:  # a weak completer: right prefixes, wrong completions
        table[RIGHT[: s.end]] = wrong
    monkeypatch.setattr(steps_mod, "generate", fake_generate(table))
    policy = torch.nn.Linear(1, 1)
    policy.cfg = ModelConfig.preset("nano", vocab_size=TOK.vocab_size)
    labels = rollout_labels(policy, TOK, [(P46, response), (P46, RIGHT)], k=2, max_new_tokens=8, batch=3)
    assert labels[0] == [1, 0, 1, 0, 0], "one right completion of two makes a step good; the answer step is its own"
    assert rule_labels(response, P46) == [1, 0, 0, 0, 0], "the rule labels of the same steps differ at step 3"
    assert labels[1] == [1, 0, 0, 0, 1], "right steps whose completions all end wrong are labelled bad"
    no_steps = " <think> </think> <answer> 184 </answer>"
    assert rollout_labels(policy, TOK, [(P46, no_steps)], k=2, max_new_tokens=8) == [[1]], (
        "a chain with no steps needs no rollout: its answer step is its own accuracy"
    )


def test_sec4_2_prm_scores_are_read_at_the_last_token_of_each_step():
    torch.manual_seed(0)
    prm = ProcessRewardModel(ModelConfig.preset("nano", vocab_size=TOK.vocab_size)).eval()
    torch.nn.init.normal_(prm.head.weight, std=1.0)
    ids, pos = encode_steps(TOK, P46, RIGHT, max_len=256)
    steps = split_steps(RIGHT)
    assert len(pos) == len(steps), "one boundary per step"
    for s, p in zip(steps, pos):
        assert TOK.decode(ids[: p + 1]) == prm_prompt(P46) + RIGHT[: s.end], (
            "the tokens up to the boundary are the prompt and the response up to the end of the step, no more"
        )
    with torch.no_grad():
        x = torch.tensor([ids])
        got = prm.step_scores(x, torch.ones_like(x, dtype=torch.bool), torch.tensor([pos]))[0]
        for j, p in enumerate(pos):  # an independent read: the reward model's last-token score of the cut text
            want = prm(torch.tensor([ids[: p + 1]]))[0]
            assert torch.allclose(got[j], want, atol=1e-5), f"step {j}: score at the boundary = last-token score"
    cut = encode_steps(TOK, P46, RIGHT, max_len=pos[2] + 1)
    assert cut[1] == pos[:3], "max_len drops the steps that do not fit whole"


def test_sec4_2_best_of_n_and_majority_vote_hand_made():
    p = Problem("add", "What is 2 + 3?", "5", 1)
    ans = lambda a: f" <think> 2 + 3 = {a} </think> <answer> {a} </answer>"
    texts = [[ans(6), ans(5), ans(6), ans(7)]]  # right: only the second
    scores = {"prm": [[0.9, 0.8, 0.1, 0.2]], "orm": [[0.1, 0.7, 0.2, 0.3]]}
    fig = rerank_figures([p], texts, scores, [2, 4])
    # N = 2: groups (6, 5) and (6, 7). prm picks 6 then 7: 0/2; orm picks 5 then 7: 1/2; majority: 6 (first seen,
    # a tie), 6: 0/2; oracle 1/2; pass@1 (1/2 + 0) / 2
    assert fig[2] == {"pass@1": 0.25, "majority": 0.0, "prm": 0.0, "orm": 0.5, "oracle": 0.5}, "N = 2 by hand"
    # N = 4: one group; majority 6 (two votes): wrong; prm picks 6: wrong; orm picks 5: right
    assert fig[4] == {"pass@1": 0.25, "majority": 0.0, "prm": 0.0, "orm": 1.0, "oracle": 1.0}, "N = 4 by hand"
    texts = [[ans(5), ans(6), ans(7), "no answer"]]
    fig = rerank_figures([p], texts, {"prm": [[0.5, 0.5, 0.1, 0.9]]}, [4])
    assert fig[4]["majority"] == 1.0 and fig[4]["prm"] == 0.0, "a 1-1-1 tie goes to the first seen; none abstains"
    assert rerank_figures([p], [[ans(6), ans(5)]], {"prm": [[0.5, 0.5]]}, [2])[2]["prm"] == 0.0, (
        "equal scores: the first candidate"
    )


def test_sec4_2_smoke_run_writes_the_report_and_the_json(tmp_path, smoke_base_root):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "r1mini.prm", "--preset", "smoke", "--base-root", str(smoke_base_root),
           "--out", str(out), "--json", str(tmp_path / "s.json")]  # fmt: skip
    r = subprocess.run(
        cmd,
        check=False,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **ONE_THREAD),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / "s.json").read_text())
    assert set(s["rl"]) == {"outcome", "prm", "prm_retrain", "gold_steps"}, "every RL variant ran"
    assert s["rl"]["prm_retrain"]["retrain"]["responses"] > 0, "the PRM was retrained mid-run on new samples"
    assert set(s["rerank"]["heldout"]["by_N"]) == {"2", "4"}, "every N reranked"
    assert {"prm_rule", "prm_rollouts", "orm"} <= set(s["prm"]), "both PRMs and the ORM measured held out"
    assert s["labels"]["responses"] == 6 * 2 * 2, "label_questions x label_k x two policies labelled"
    for name in ("report.md", "summary.json", "curves.csv", "prm_rule.pt"):
        assert (out / name).is_file(), f"the run folder holds {name}"
