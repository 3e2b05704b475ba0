"""Section 4.2's tree search (r1mini/mcts.py): PUCT selection and backup on a hand-computed tree, expansion's merged
children and priors, the search on a deterministic stand-in policy (it finds the known answer within its budget and
spends exactly the tokens the stand-in generated), step boundaries as the step splitter draws them, the first-step
check against a brute force, and the smoke run end to end. `pytest -k mcts`."""

import dataclasses
import itertools
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import torch

from r1mini.engine.model import ModelConfig
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.mcts import (
    Node,
    Proposal,
    auc,
    SearchConfig,
    StepPolicy,
    backup,
    countdown_step_ok,
    expand,
    first_step_ok,
    first_steps,
    next_step,
    outcome_labels,
    puct,
    search,
    select,
    tree_figures,
    value_fn,
)
from r1mini.prm import ProcessRewardModel, encode_steps
from r1mini.steps import split_steps
from r1mini.toy.corpus import worked_solution
from r1mini.toy.tasks import Problem, apply_op, generate

ROOT = Path(__file__).resolve().parents[1]
TOK = get_tokenizer()
P85 = Problem("add", "What is 47 + 38?", "85", 2)
CD = Problem("countdown", "Using the numbers 3, 5, 7, make 26.", "26", 1, (3, 5, 7), 26)


def test_mcts_puct_scores_and_selection_on_a_hand_computed_tree():
    root = Node("", N=10)
    a = Node(" a.", prior=0.6, N=6, W=3.0)  # Q = 0.5
    b = Node(" b.", prior=0.3, N=3, W=2.4)  # Q = 0.8
    c = Node(" c.", prior=0.1)  # unvisited: Q = 0
    root.children = [a, b, c]
    # by hand, c_puct = 1: Q + P * sqrt(10) / (1 + N)
    hand = {a: 0.5 + 0.6 * 3.16227766 / 7, b: 0.8 + 0.3 * 3.16227766 / 4, c: 0.0 + 0.1 * 3.16227766 / 1}
    for child, want in hand.items():
        assert puct(child, root.N, 1.0) == pytest.approx(want, abs=1e-6), "PUCT: Q + c_puct P sqrt(N(s)) / (1 + N)"
    assert select(root, 1.0) == [root, b], "PUCT selection: b (1.037) over a (0.771) and c (0.316)"
    # c_puct = 10: a 0.5 + 2.711 = 3.211, b 0.8 + 2.372 = 3.172, c 3.162: exploration weighs the prior more
    assert select(root, 10.0) == [root, a], "PUCT selection with a larger c_puct: the prior's term decides"
    b1, b2 = Node(" b. d.", prior=0.5, N=1, W=0.0), Node(" b. e.", prior=0.5, N=1, W=1.0)
    b.children = [b1, b2]
    assert select(root, 1.0) == [root, b, b2], "selection descends to a leaf: b, then b2 (Q 1 over 0)"
    b2.terminal = True
    b2.children = [Node("never")]
    assert select(root, 1.0)[-1] is b2, "selection stops at a terminal node"
    backup([root, b, b2], 1.0)
    assert (root.N, b.N, b2.N) == (11, 4, 2), "backup: N += 1 on every node of the path"
    assert (root.W, b.W, b2.W) == (1.0, pytest.approx(3.4), 2.0), "backup: W += value on every node of the path"
    assert a.N == 6 and a.W == 3.0 and b1.N == 1, "backup leaves the nodes off the path alone"


def test_mcts_expand_merges_equal_steps_and_normalises_priors():
    node = Node(" x.", tokens=5)
    props = [
        Proposal(" x. ones: 7 + 8 = 15, write 5 carry 1.", math.log(0.2), False, 12),
        Proposal(" x. ones: 7 + 8 = 16, write 6 carry 1.", math.log(0.1), False, 12),
        Proposal(" x. ones: 7 + 8 = 15, write 5 carry 1.", math.log(0.2), False, 12),  # the same step again
        Proposal(" x. </think> <answer> 85 </answer>", math.log(0.05), True, 7),
    ]
    kids = expand(node, props, P85)
    assert [k.text for k in kids] == [props[0].text, props[1].text, props[3].text], "equal steps merge, order kept"
    # priors: 0.2, 0.1, 0.05 normalised over the distinct steps: / 0.35
    assert [k.prior for k in kids] == pytest.approx([0.2 / 0.35, 0.1 / 0.35, 0.05 / 0.35]), "P = softmax(log-probs)"
    assert [k.terminal for k in kids] == [False, False, True]
    assert kids[2].reward == 1.0 and kids[0].reward == 0.0, "a terminal child gets the rule accuracy reward"
    assert [k.tokens for k in kids] == [17, 17, 12], "a child's path length: the parent's plus its step's tokens"
    assert expand(Node(""), [Proposal(" </think> <answer> 84 </answer>", 0.0, True, 7)], P85)[0].reward == 0.0


# ----------------------------------------------------------------------------- the search on a stand-in

RIGHT_STEPS = [" <think> 47 + 38: ones: 7 + 8 = 15, write 5 carry 1.", " tens: 4 + 3 + 1 = 8, write 8.",
               " So 47 + 38 = 85.", " </think> <answer> 85 </answer>"]  # fmt: skip (the corpus's worked solution)
WRONG_STEP = " <think> 47 + 38: ones: 7 + 8 = 14, write 4 carry 1."


class StandIn:
    """A deterministic policy: at a prefix of the right response it offers the right next step and a wrong one
    (a wrong first step at the root, a wrong answer later); after a wrong step, only wrong answers. Each step costs
    as many tokens as it has words; it tallies every token it generates."""

    def __init__(self, right_first: bool = False):
        self.generated, self.calls, self.right_first = 0, [], right_first

    def options(self, text: str) -> list[tuple[str, float, bool]]:
        done = 0
        while done < len(RIGHT_STEPS) and text.startswith("".join(RIGHT_STEPS[: done + 1])):
            done += 1
        if "".join(RIGHT_STEPS[:done]) != text:  # off the right path: a wrong answer
            return [(text + " </think> <answer> 84 </answer>", math.log(0.9), True)]
        right = text + RIGHT_STEPS[done]
        wrong = text + (WRONG_STEP if done == 0 else " </think> <answer> 84 </answer>")
        ends = done == len(RIGHT_STEPS) - 1
        pw, pr = (0.3, 0.7) if self.right_first else (0.7, 0.3)  # the policy prefers the wrong step
        return [(wrong, math.log(pw), done > 0), (right, math.log(pr), ends)]

    def steps(self, problems, nodes, k, seed):
        out, spent = [], []
        for node in nodes:
            opts = (self.options(node.text) * k)[:k]
            props = [Proposal(t, lp, term, len(t[len(node.text):].split())) for t, lp, term in opts]
            out.append(props)
            spent.append(sum(p.tokens for p in props))
            self.generated += spent[-1]
            self.calls.append(("steps", node.text, k))
        return out, spent

    def rollouts(self, problems, nodes, seed):
        texts, lengths = [], []
        for node in nodes:  # the favourite step each time, to the end
            end, terminal = node.text, False
            while not terminal:
                end, _, terminal = max(self.options(end), key=lambda o: o[1])
            texts.append(end)
            lengths.append(len(end[len(node.text):].split()))
            self.generated += lengths[-1]
            self.calls.append(("rollout", node.text, 1))
        return texts, lengths


def _values(problems, texts):
    """A value model that knows the right path: 0.9 on it, 0.1 off it."""
    return [0.9 if "".join(RIGHT_STEPS).startswith(t) else 0.1 for t in texts]


def test_mcts_search_finds_the_known_answer_and_spends_the_tokens_it_reports():
    policy = StandIn()
    r = search([P85], policy, SearchConfig(k=2, leaf="value", budget=200, max_sims=20), _values)[0]
    assert r.solved and r.solution == "".join(RIGHT_STEPS), "the search reaches the known right response"
    assert r.tokens == policy.generated, "the search reports exactly the tokens the policy generated"
    assert r.tokens >= 200 or r.simulations == 20, "it runs to its budget (or its simulations)"
    first = max(r.root.children, key=lambda c: c.N)
    assert first.text == RIGHT_STEPS[0], "the value model steers the visits to the right first step"
    assert not first_steps(P85, r)["committed_wrong"], "the committed first step is the right one"
    assert r.root.N == sum(c.N for c in r.root.children) + 0, "every value backed up through the root is a child's"

    small = StandIn()
    r = search([P85], small, SearchConfig(k=2, leaf="value", budget=10, max_sims=50), _values)[0]
    assert r.tokens == small.generated >= 10, "the last expansion may pass the budget; its tokens all count"
    assert r.simulations == len(small.calls) == 1, "it stops once the budget is spent"


def test_mcts_rollout_leaves_count_their_tokens_and_can_solve():
    policy = StandIn(right_first=True)
    r = search([P85], policy, SearchConfig(k=2, leaf="rollout", budget=60, max_sims=20))[0]
    assert r.tokens == policy.generated, "rollout tokens count in the budget"
    assert any(kind == "rollout" for kind, _, _ in policy.calls)
    assert r.rollouts and all(rew in (0.0, 1.0) for _, rew in r.rollouts), "each rollout is scored by the rule"
    assert r.solved, "a rollout from the right first step reaches the answer"
    with pytest.raises(Exception, match="value model"):
        search([P85], policy, SearchConfig(leaf="value"), None)


def test_mcts_a_misleading_value_model_commits_to_the_wrong_first_step():
    """The local optimum of 4.2 on a hand-made case: k = 1 offers only the policy's favourite (wrong) first step."""
    liar = lambda problems, texts: [0.1 if "".join(RIGHT_STEPS).startswith(t) else 0.9 for t in texts]  # noqa: E731
    r = search([P85], StandIn(), SearchConfig(k=1, leaf="value", budget=100, max_sims=10), liar)[0]
    assert not r.solved and first_steps(P85, r)["committed_wrong"], "k = 1 commits to the wrong first step"
    assert tree_figures([r])["children"] == 1.0


# ----------------------------------------------------------------------------- steps as the splitter draws them


def test_mcts_next_step_splits_where_split_steps_does():
    rng = random.Random(0)
    for family, level in (("add", 3), ("mul", 2), ("linear", 2), ("countdown", 1), ("expr", 2)):
        for p in generate(family, level, n=3, seed=1):
            steps_text, answer = worked_solution(p, rng.choice(("en", "zh")), rng)
            response = f" <think> {steps_text} </think> <answer> {answer} </answer>"
            ends = [s.end for s in split_steps(response)]
            text, got = "", []
            while True:  # feed the rest of the response as the sampled piece each time
                text, terminal = next_step(text, response[len(text):], 100)
                got.append(len(text))
                if terminal:
                    break
            assert got == ends, f"next_step cuts {family} where split_steps does"
    assert next_step(" a.", " ones: 6 * 4 = 24, write 4 carry", 100) == (" a. ones: 6 * 4 = 24, write 4 carry", True), (
        "a step cut by the token limit is a dead end: terminal, the whole piece kept"
    )
    assert next_step(" a.", " b. c.", 0) == (" a. b.", True), "the response's token limit ends the path"
    assert next_step(" a.", " b. c.", 5) == (" a. b.", False)


def test_mcts_every_sentence_end_token_stops_a_step():
    policy = StepPolicy(model=None, tok=TOK)
    ends = {i for i in range(TOK.vocab_size) if "." in TOK.decode([i]) or "。" in TOK.decode([i])}
    assert ends <= set(policy.step_stop) and {TOK.eot_id, TOK.answer_end_id} <= set(policy.step_stop)
    assert TOK.encode(" 26.")[-1] in policy.step_stop


# ----------------------------------------------------------------------------- the first step


def _brute_reachable(pool: list[int], target: int) -> bool:
    """Every order of combining two numbers of the pool with + - * / (positive whole results), independently of
    tasks.solve_countdown."""
    if target in pool and len(pool) == 1:
        return True
    for i, j in itertools.permutations(range(len(pool)), 2):
        x, y = pool[i], pool[j]
        rest = [v for n, v in enumerate(pool) if n not in (i, j)]
        for op in "+-*/":
            try:
                v = apply_op(op, x, y)
            except ValueError:
                continue
            if v > 0 and _brute_reachable(rest + [v], target):
                return True
    return False


def test_mcts_countdown_first_step_against_brute_force():
    assert countdown_step_ok(CD, " <think> Try 7 * 3 = 21, 21 + 5 = 26."), "the tags are not part of a move"
    assert countdown_step_ok(CD, " Try 7 * 3 = 21, 21 + 5 = 26."), "a try that makes the target"
    assert countdown_step_ok(CD, " Try 7 * 3 = 21."), "a partial try from which 26 is still reachable (21 + 5)"
    assert not countdown_step_ok(CD, " Try 3 + 5 = 8, 8 * 7 = 56."), "a try that misses"
    assert not countdown_step_ok(CD, " Try 7 * 3 = 22."), "false arithmetic"
    assert not countdown_step_ok(CD, " Try 7 + 3 = 21."), "false arithmetic, though 21 + 5 would make the target"
    assert not countdown_step_ok(CD, " Try 7 * 7 = 49."), "a number used twice"
    assert not countdown_step_ok(CD, " It works: 7 * 3 + 5 = 26."), "a piece that is not a move"
    rng = random.Random(3)
    for p in generate("countdown", 2, n=8, seed=5):
        for _ in range(6):
            x, y = rng.sample(list(p.numbers), 2)
            x, y = max(x, y), min(x, y)
            op = rng.choice("+-*")
            v = apply_op(op, x, y)
            rest = list(p.numbers)
            rest.remove(x)
            rest.remove(y)
            want = v > 0 and _brute_reachable(rest + [v], p.target)
            assert countdown_step_ok(p, f" Try {x} {op} {y} = {v}.") == want, f"{p.numbers} -> {p.target}: {x}{op}{y}"
    whole = " Try 7 * 3 = 21, 21 + 5 = 26. It works: 7 * 3 + 5 = 26. </think> <answer> 7 * 3 + 5 </answer>"
    assert first_step_ok(CD, whole), "a response's first step is judged alone"
    assert first_step_ok(P85, RIGHT_STEPS[0] + RIGHT_STEPS[1]) and not first_step_ok(P85, WRONG_STEP)
    assert not first_step_ok(P85, ""), "no step: not right"


def test_mcts_value_is_read_at_the_prefix_last_step():
    torch.manual_seed(0)
    vm = ProcessRewardModel(ModelConfig.preset("nano", vocab_size=TOK.vocab_size)).eval()
    texts = [RIGHT_STEPS[0], "".join(RIGHT_STEPS[:2]), WRONG_STEP]
    got = value_fn(vm, TOK)([P85] * 3, texts)
    for text, v in zip(texts, got):
        ids, pos = encode_steps(TOK, P85, text, 256)
        with torch.no_grad():  # the reward model's own last-token read of the tokens up to the prefix's last step
            want = torch.sigmoid(vm(torch.tensor([ids[: pos[-1] + 1]]))).item()
        assert v == pytest.approx(want, abs=1e-5), "V(prefix): the value head at the last token of its last step"


def test_mcts_value_auc_against_counting_every_pair():
    rng = random.Random(0)
    for _ in range(20):
        n = rng.randint(2, 30)
        scores = [rng.choice((0.1, 0.2, 0.5, 0.7, rng.random())) for _ in range(n)]  # ties on purpose
        labels = [rng.randint(0, 1) for _ in range(n)]
        pos = [s for s, y in zip(scores, labels) if y]
        neg = [s for s, y in zip(scores, labels) if not y]
        if not pos or not neg:
            assert math.isnan(auc(scores, labels)), "no pair to compare: nan"
            continue
        want = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
        assert auc(scores, labels) == pytest.approx(want), "AUC: the share of (right, wrong) pairs ranked right"
    assert auc([0.9, 0.1], [1, 0]) == 1.0 and auc([0.1, 0.9], [1, 0]) == 0.0 and auc([0.3, 0.3], [1, 0]) == 0.5


def test_mcts_outcome_labels_every_step_with_the_answer():
    right, wrong = "".join(RIGHT_STEPS), WRONG_STEP + " </think> <answer> 84 </answer>"
    assert outcome_labels([(P85, right), (P85, wrong)]) == [(P85, right, [1, 1, 1, 1]), (P85, wrong, [0, 0])]


def test_mcts_grpo_arm_runs_to_each_of_the_loops_token_marks(monkeypatch):
    """The rival at the same compute: GRPO steps until its generated tokens pass each mark, read once per mark."""
    from r1mini import mcts
    from r1mini.mcts import MCTSConfig, grpo_arm
    from r1mini.toy.tasks import TaskMix

    class Trainer:  # each step: 2 questions x 2 outputs of 5 tokens = 20 tokens
        def __init__(self, *args):
            pass

        def step(self, qs):
            return {"response_len": 5.0}

    monkeypatch.setattr(mcts, "load_model", lambda path, device: (None, None))
    monkeypatch.setattr(mcts, "GRPOTrainer", Trainer)
    monkeypatch.setattr(mcts, "curve_point", lambda policy, vm, tok, q, cfg, tokens, seconds: {"tokens": tokens})
    cfg = MCTSConfig(grpo=dataclasses.replace(MCTSConfig().grpo, questions=2, G=2))
    curve = grpo_arm("base", TOK, TaskMix.parse("add:2:1"), [], [100, 250], cfg, "cpu", True)["curve"]
    assert [p["tokens"] for p in curve] == [0, 100, 260], "GRPO runs until its tokens reach each mark (20 a step)"
    assert [p.get("steps") for p in curve] == [None, 5, 13]


@pytest.mark.parametrize("flags", [["--ks", "2,x"], ["--leaves", "value,guess"], ["--Ns", "4,99"], ["--sets", "easy"]])
def test_mcts_a_bad_config_is_one_line(flags):
    p = subprocess.run([sys.executable, "-m", "r1mini.mcts", "--preset", "smoke", *flags], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_mcts_smoke_run_writes_the_report_and_the_json(tmp_path, smoke_base_root):
    out = tmp_path / "report.md"
    cmd = [sys.executable, "-m", "r1mini.mcts", "--preset", "smoke", "--base-root", str(smoke_base_root),
           "--out", str(out), "--json", str(tmp_path / "mcts.json")]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1"}  # the smoke models are tiny: one thread is as fast
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads((tmp_path / "mcts.json").read_text())
    assert set(res["sets"]) == {"hard", "countdown"}
    for s in res["sets"].values():
        assert s["budget"] >= 1 and set(s["search"]) == {"value k=2", "rollout k=2"}
        for r in s["search"].values():
            assert 0 <= r["solved"] <= 1 and r["tokens"] <= s["budget"] + 2 * 24, "a search stays within its budget"
    m, g = res["loop"]["mcts"]["curve"], res["loop"]["grpo"]["curve"]
    assert len(m) == len(g) == 2 and g[1]["tokens"] >= m[1]["tokens"], "GRPO runs to the loop's tokens"
    assert "## The loop" in out.read_text()
