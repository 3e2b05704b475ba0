"""PPO with a critic (r1mini/ppo.py; DeepSeekMath 4.1, the baseline section 2.2.1 of R1 forgoes), `pytest -k ppo`.

Each of PPO's equations (P1)-(P4) of r1mini/ppo.py's docstring is written out here once, as plain float64 loops over
one output's tokens with Python's own min and max (autograd on 0-dim float64 tensors where a gradient is checked),
and the code is compared with it: GAE (P3) with a masked tail, the per-token rewards (P2), the clipped surrogate (P1)
and the clipped value loss (P4) with their gradients, and which state the critic reads for each token.
"""

import json
import math
import random
from pathlib import Path

import torch

from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.sampler import left_pad
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.engine.update import UpdateLog, UpdatePlan
from r1mini.grpo import GRPOConfig, GRPOTrainer, Rollout, token_weights
from r1mini.ppo import PPOConfig, PPOTrainer, ValueModel, explained_variance, gae, policy_loss, token_rewards
from r1mini.ppo import value_loss, whiten
from r1mini.zero import footprint
from tests.test_train_zero import metrics, run_zero

# ----------------------------------------------------------------------------- the write-outs


def p3_gae_row(r: list[float], v: list[float], gamma: float, lam: float) -> tuple[list[float], list[float]]:
    """(P3) for one output of |o| = len(r) tokens, as the sum it is (no recursion): A_t = sum_l (gamma lam)^l delta_t+l,
    delta_t = r_t + gamma V_t+1 - V_t with V_|o| = 0 (the state after the last token is terminal); R_t = A_t + V_t."""
    n = len(r)
    delta = [r[t] + gamma * (v[t + 1] if t + 1 < n else 0.0) - v[t] for t in range(n)]
    A = [sum((gamma * lam) ** l * delta[t + l] for l in range(n - t)) for t in range(n)]
    return A, [a + b for a, b in zip(A, v)]


def p1_token(logp, old_logp, A, eps: float):
    """(P1)'s term for one token: min(rho A, clip(rho, 1 - eps, 1 + eps) A), rho = pi_theta / pi_old."""
    rho = torch.exp(logp - old_logp) if isinstance(logp, torch.Tensor) else math.exp(logp - old_logp)
    return min(rho * A, min(max(rho, 1 - eps), 1 + eps) * A)


def p4_token(v, v_old: float, R: float, clip: float):
    """(P4)'s term for one token: 1/2 max((V - R)^2, (clip(V, V_old - clip, V_old + clip) - R)^2)."""
    v_clipped = min(max(v, v_old - clip), v_old + clip)
    return 0.5 * max((v - R) ** 2, (v_clipped - R) ** 2)


def grad_of(leaf) -> float:
    """A write-out leaf's gradient: 0 where the clipped (constant) branch won and autograd left none."""
    return 0.0 if leaf.grad is None else leaf.grad.item()


def random_batch(seed: int, lengths: list[int], T: int):
    g = torch.Generator().manual_seed(seed)
    mask = torch.tensor([[t < n for t in range(T)] for n in lengths])
    return mask, torch.randn(len(lengths), T, generator=g, dtype=torch.float64)


# ----------------------------------------------------------------------------- (P3), (P2)


def test_ppo_p3_gae_hand_worked_gamma_1_lambda_1_is_the_outcome_minus_the_value():
    """(P3) with gamma = lambda = 1 and the reward at the last token: A_t = r - V(s_t), R_t = r (Monte Carlo)."""
    rt = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.2, 0.5, 0.9, 7.0]])  # the 7.0 is past the end: it must not count
    mask = torch.tensor([[True, True, True, False]])
    A, R = gae(rt, values, mask, 1.0, 1.0)
    assert torch.allclose(A, torch.tensor([[0.8, 0.5, 0.1, 0.0]])), f"(P3) GAE, gamma = lambda = 1: {A}"
    assert torch.allclose(R, torch.tensor([[1.0, 1.0, 1.0, 0.0]])), f"(P3) returns R_t = A_t + V_t: {R}"


def test_ppo_p3_gae_against_a_float64_write_out_with_a_masked_tail():
    """(P3) on outputs of different lengths (one empty) for several (gamma, lambda): the code's backward recursion
    against the sum of (P3) written out per output; columns past an output's end are 0 whatever they held."""
    lengths, T = [6, 3, 1, 0, 5], 6
    mask, rt = random_batch(0, lengths, T)
    _, values = random_batch(1, lengths, T)
    for gamma, lam in ((1.0, 0.95), (0.9, 0.8), (1.0, 0.0), (0.5, 1.0)):
        A, R = gae(rt, values, mask, gamma, lam)
        for i, n in enumerate(lengths):
            ref_A, ref_R = p3_gae_row(rt[i, :n].tolist(), values[i, :n].tolist(), gamma, lam)
            got_A, got_R = A[i].tolist(), R[i].tolist()
            assert all(abs(a - b) < 1e-12 for a, b in zip(got_A, ref_A + [0.0] * (T - n))), (
                f"(P3) GAE advantages differ from the write-out: gamma={gamma} lambda={lam} row {i} (|o|={n})"
            )
            assert all(abs(a - b) < 1e-12 for a, b in zip(got_R, ref_R + [0.0] * (T - n))), (
                f"(P3) returns R_t = A_t + V_t differ from the write-out: gamma={gamma} lambda={lam} row {i}"
            )


def test_ppo_p2_kl_penalty_on_every_real_token_and_the_outcome_on_the_last():
    """(P2) by hand: r_t = -beta (log pi_old - log pi_ref) on each real token, plus r(q, o) on the last one only."""
    mask = torch.tensor([[True, True, True, False], [True, True, False, False], [False] * 4])
    old = torch.tensor([[-1.0, -2.0, -0.5, -9.0], [-0.1, -0.2, -9.0, -9.0], [-9.0] * 4])
    ref = torch.tensor([[-1.5, -1.0, -0.5, 0.0], [-0.3, -0.1, 0.0, 0.0], [0.0] * 4])
    r = torch.tensor([1.0, 0.5, 1.0])
    got = token_rewards(r, old, ref, mask, beta=0.1)
    want = torch.tensor(
        [
            [-0.1 * 0.5, -0.1 * -1.0, -0.1 * 0.0 + 1.0, 0.0],
            [-0.1 * 0.2, -0.1 * -0.1 + 0.5, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],  # an empty output gets nothing
        ]
    )
    assert torch.allclose(got, want), f"(P2) per-token rewards: got\n{got}\nwant\n{want}"
    no_kl = token_rewards(r, None, None, mask, beta=0.0)
    assert no_kl.tolist() == [[0, 0, 1, 0], [0, 0.5, 0, 0], [0, 0, 0, 0]], f"(P2) with beta = 0: {no_kl}"


# ----------------------------------------------------------------------------- (P1), (P4)


def test_ppo_p1_policy_loss_and_gradient_against_a_float64_write_out():
    """(P1) per token with per-sequence weights 1/(N |o_i|): the loss and d loss / d log pi_theta against the
    write-out, with ratios on both sides of the clip and advantages of both signs (so that the clip acts)."""
    lengths, T, eps = [4, 2, 3], 4, 0.2
    mask, A = random_batch(2, lengths, T)
    _, shift = random_batch(3, lengths, T)
    old = -torch.rand(3, T, generator=torch.Generator().manual_seed(4), dtype=torch.float64) - 0.1
    logp = (old + 0.4 * shift).requires_grad_()  # rho from about e^-1 to e^1
    weights = token_weights(mask, "seq_mean", T, dtype=torch.float64)
    loss, clip_frac = policy_loss(logp, old, A, weights, eps)
    loss.backward()
    leaves = [[torch.tensor(logp[i, t].item(), dtype=torch.float64, requires_grad=True) for t in range(n)]
              for i, n in enumerate(lengths)]  # fmt: skip
    terms = [sum(p1_token(leaves[i][t], old[i, t].item(), A[i, t].item(), eps) for t in range(n)) / n
             for i, n in enumerate(lengths)]  # fmt: skip
    ref = -sum(terms) / len(lengths)
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-12, f"(P1) policy loss {loss.item()} != write-out {ref.item()}"
    for i, n in enumerate(lengths):
        for t in range(T):
            want = grad_of(leaves[i][t]) if t < n else 0.0
            assert abs(logp.grad[i, t].item() - want) < 1e-12, f"(P1) gradient at output {i} token {t}"
    binds = []  # a token's clip binds when the clipped term is the smaller one: its gradient is then 0
    for i, n in enumerate(lengths):
        for t in range(n):
            rho, a = math.exp(logp[i, t].item() - old[i, t].item()), A[i, t].item()
            binds.append(min(max(rho, 1 - eps), 1 + eps) * a < rho * a)
    want_frac = sum(binds) / len(binds)
    assert 0 < want_frac < 1 and abs(clip_frac - want_frac) < 1e-6, f"(P1) clip fraction {clip_frac} != {want_frac}"


def test_ppo_p4_value_loss_and_gradient_against_a_float64_write_out():
    """(P4): the clipped value loss and d loss / d V against the write-out; values on both sides of V_old +- clip,
    and returns on both sides of the values, so that both branches of the max win somewhere; clip = 0 is plain MSE."""
    lengths, T = [4, 3], 4
    mask, v_old = random_batch(5, lengths, T)
    _, R = random_batch(6, lengths, T)
    _, move = random_batch(7, lengths, T)
    for clip in (0.2, 0.0):
        V = (v_old + 0.5 * move).requires_grad_()
        weights = token_weights(mask, "seq_mean", T, dtype=torch.float64)
        loss = value_loss(V, v_old, R, weights, clip)
        loss.backward()
        leaves = [[torch.tensor(V[i, t].item(), dtype=torch.float64, requires_grad=True) for t in range(n)]
                  for i, n in enumerate(lengths)]  # fmt: skip
        big = 1e9  # clip = 0: no clip at all
        terms = [sum(p4_token(leaves[i][t], v_old[i, t].item(), R[i, t].item(), clip or big) for t in range(n)) / n
                 for i, n in enumerate(lengths)]  # fmt: skip
        ref = sum(terms) / len(lengths)
        ref.backward()
        assert abs(loss.item() - ref.item()) < 1e-12, f"(P4) value loss, clip {clip}: {loss.item()} != {ref.item()}"
        for i, n in enumerate(lengths):
            for t in range(n):
                assert abs(V.grad[i, t].item() - grad_of(leaves[i][t])) < 1e-12, f"(P4) gradient, clip {clip}"


def test_ppo_whiten_and_explained_variance_by_hand():
    """Whitening: mean 0 and population std 1 over the real tokens, 0 on padding. Explained variance: 1 for a
    critic that predicts the returns, 0 for one that predicts their mean, 1 - 1/4 for half-way errors."""
    mask = torch.tensor([[True, True, False], [True, True, True]])
    A = torch.tensor([[1.0, 3.0, 100.0], [5.0, 7.0, 9.0]])
    w = whiten(A, mask)
    real = torch.tensor([1.0, 3.0, 5.0, 7.0, 9.0])
    want = (real - 5.0) / math.sqrt(8.0)  # mean 5, population variance 8
    assert torch.allclose(w[mask], want, atol=1e-6) and w[0, 2] == 0, f"whitened advantages: {w}"
    R = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]])
    assert explained_variance(R, R, mask) == 1.0
    assert abs(explained_variance(torch.full_like(R, 3.0), R, mask)) < 1e-6
    half = torch.where(mask, (R + 3.0) / 2, 0.0)  # errors (R - 3) / 2: a quarter of the variance left
    assert abs(explained_variance(half, R, mask) - 0.75) < 1e-6


# ----------------------------------------------------------------------------- the critic


def tiny_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=40, n_layer=2, n_head=2, n_kv_head=2, n_embd=16, intermediate_size=32, max_seq_len=64)
    return Transformer(cfg).eval()


def test_ppo_critic_reads_the_state_before_each_token():
    """V(s_t) for token o_t is the head on the body's last hidden state of (q, o_<t): checked against the body run
    on each prefix alone, unpadded, without a cache (prompts of different lengths, so left padding matters)."""
    critic = ValueModel.like(tiny_model())
    torch.nn.init.normal_(critic.head.weight)  # a head that reads every dimension
    rng = random.Random(0)
    prompts = [[rng.randrange(3, 40) for _ in range(n)] for n in (5, 2)]
    G, T = 2, 4
    lengths = [4, 2, 3, 1]
    tokens = torch.tensor([[rng.randrange(3, 40) for _ in range(T)] for _ in lengths])
    mask = torch.tensor([[t < n for t in range(T)] for n in lengths])
    ids, pmask = left_pad(prompts, 0, "cpu")
    with torch.no_grad():
        V = critic.token_values(ids, pmask, tokens, mask, G)
        for row, n in enumerate(lengths):
            for t in range(n):
                seq = torch.tensor([prompts[row // G] + tokens[row, :t].tolist()])
                h = critic.body(seq, return_hidden=True)[0, -1]
                want = critic.head(h).item()
                assert abs(V[row, t].item() - want) < 1e-5, (
                    f"the critic's V(s_t) for output {row} token {t} is not read at the state before the token"
                )


def test_ppo_critic_starts_from_the_policys_weights_with_a_fresh_head():
    """DeepSeekMath's value model is the policy's size and starts from a trained model: here the same base as the
    policy. Its body's hidden states equal the policy's; its head is new (weights of std 0.02, bias 0)."""
    policy = tiny_model(3)
    critic = ValueModel.like(policy)
    ids = torch.tensor([[5, 9, 30, 2, 17]])
    with torch.no_grad():
        same = torch.equal(critic.body(ids, return_hidden=True), policy(ids, return_hidden=True))
    assert same, "the critic's body is not the policy's (it must start from the same base)"
    assert critic.head.bias.item() == 0 and 0.005 < critic.head.weight.std().item() < 0.05, "a fresh scalar head"


def test_ppo_footprint_counts_the_critic_and_adamw_state_by_hand():
    """A PPO trainer holds two models of the policy's size (the critic adds a head: n_embd + 1) and AdamW keeps two
    float32 moments per parameter and a step count per tensor: 2 x 4 bytes x params + 4 bytes x tensors."""
    policy = tiny_model()
    P = sum(p.numel() for p in {id(p): p for p in policy.parameters()}.values())
    n_tensors = len(list(policy.parameters()))
    grpo = GRPOTrainer(policy, None, str, None, GRPOConfig(beta=0.0))  # no sampling here: no tokenizer, no reward
    ppo = PPOTrainer(policy, None, str, None, GRPOConfig(beta=0.0), PPOConfig())
    for tr in (grpo, ppo):  # one AdamW step with a gradient everywhere, so that the state exists
        opts = [tr.opt] + ([tr.critic_opt] if tr is ppo else [])
        for opt in opts:
            for group in opt.param_groups:
                for p in group["params"]:
                    p.grad = torch.ones_like(p)
            opt.step()
    f_grpo, f_ppo = footprint(grpo), footprint(ppo)
    assert f_grpo["trainable_params"] == P and f_ppo["trainable_params"] == 2 * P + 16 + 1, (f_grpo, f_ppo, P)
    assert f_grpo["optimizer_state_bytes"] == 8 * P + 4 * n_tensors, f_grpo
    assert f_ppo["optimizer_state_bytes"] == 8 * (2 * P + 17) + 4 * (2 * n_tensors + 2), f_ppo


# ----------------------------------------------------------------------------- the step's wiring


def test_ppo_step_hands_p1_and_p4_the_advantages_and_returns_of_p2_p3_for_a_fixed_rollout(monkeypatch):
    """PPOTrainer.step on a FIXED rollout (handed to it in place of sampling): the advantages it gives (P1) and the
    returns and old values it gives (P4) against a write-out done token by token outside the trainer: log pi_old and
    log pi_ref of each token with q + o run alone, (P2)'s rewards, the critic's V(s_t) read on each prefix alone,
    (P3) as a sum, then whitening over the step's tokens (returns from the advantages BEFORE whitening)."""
    import r1mini.ppo as ppo_mod

    tok = get_tokenizer()
    torch.manual_seed(0)
    policy = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))
    cfg = GRPOConfig(questions=2, G=2, beta=0.5, max_new_tokens=6, precision="fp32", temperature=0.8)
    trainer = PPOTrainer(policy, tok, str, None, cfg, PPOConfig(gamma=0.9, lam=0.8))
    torch.nn.init.normal_(trainer.critic.head.weight)
    with torch.no_grad():  # pi_ref != pi_theta, so that (P2)'s KL penalty is not 0
        for p in trainer.ref.parameters():
            p.mul_(1 + 0.3 * torch.randn_like(p))
    prompts, lengths, rewards = [[101, 57, 302], [640, 12, 77, 5, 31]], [4, 1, 3, 6], [[1.0, 0.0], [0.5, 0.5]]
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(3, tok.vocab_size, (4, 6), generator=g)
    mask = torch.tensor([[t < n for t in range(6)] for n in lengths])
    ids, pmask = left_pad(prompts, tok.pad_id, "cpu")
    r = torch.tensor(rewards)
    ro = Rollout(ids, pmask, tokens, mask, torch.zeros(4, 6), r, {"accuracy": r}, [""] * 4, torch.zeros(4, dtype=bool))
    monkeypatch.setattr(ppo_mod, "sample_rollout", lambda *a, **k: ro)
    seen = {}
    real_policy_loss, real_value_loss = ppo_mod.policy_loss, ppo_mod.value_loss
    # the write-out, before the step changes the weights
    A_raw, R, V = [], [], []
    with torch.no_grad():
        for i, n in enumerate(lengths):
            q, o = prompts[i // 2], tokens[i, :n].tolist()
            lp = [torch.log_softmax(m(torch.tensor([q + o]))[0] / 0.8, -1) for m in (policy, trainer.ref)]
            old, ref = ([x[len(q) - 1 + t, o[t]].item() for t in range(n)] for x in lp)
            rt = [-0.5 * (old[t] - ref[t]) + (r.view(-1)[i].item() if t == n - 1 else 0.0) for t in range(n)]  # (P2)
            v = [trainer.critic.head(trainer.critic.body(torch.tensor([q + o[:t]]), return_hidden=True)[0, -1]).item()
                 for t in range(n)]  # fmt: skip
            a, ret = p3_gae_row(rt, v, 0.9, 0.8)
            A_raw.append(a), R.append(ret), V.append(v)
    flat = [x for row in A_raw for x in row]
    mean, std = sum(flat) / len(flat), (sum((x - sum(flat) / len(flat)) ** 2 for x in flat) / len(flat)) ** 0.5

    def record_value_loss(values, old_values, returns, weights, clip):
        seen["R"], seen["V_old"] = returns.detach(), old_values.detach()
        return real_value_loss(values, old_values, returns, weights, clip)

    monkeypatch.setattr(ppo_mod, "value_loss", record_value_loss)
    monkeypatch.setattr(ppo_mod, "policy_loss", lambda logp, old, A, w, eps: (seen.__setitem__("A", A.detach()),
                        real_policy_loss(logp, old, A, w, eps))[1])  # fmt: skip
    trainer.step(["q1", "q2"])
    for i, n in enumerate(lengths):
        for t in range(n):
            assert abs(seen["V_old"][i, t].item() - V[i][t]) < 1e-4, f"(P4) V_old(s_t) of output {i} token {t}"
            assert abs(seen["R"][i, t].item() - R[i][t]) < 1e-4, f"(P4) return R_t of output {i} token {t} ((P2)-(P3))"
            want = (A_raw[i][t] - mean) / std
            assert abs(seen["A"][i, t].item() - want) < 1e-4, f"(P1) whitened advantage of output {i} token {t}"


def test_ppo_and_grpo_log_the_variance_of_the_advantages_over_the_output_tokens_by_hand():
    """adv_var (engine/update.py, logged by both trainers): the variance over the step's output tokens of the advantage
    each token is trained with. GRPO's A = +-a per output over outputs of 2 and 1 tokens: tokens a, a, -a, mean a / 3,
    variance a^2 - a^2 / 9; PPO's per-token A as given."""
    mask = torch.tensor([[True, True], [True, False]])
    r = torch.tensor([[1.0, 0.0]])
    ro = Rollout(torch.ones(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=bool), torch.ones(2, 2, dtype=torch.long),
                 mask, torch.zeros(2, 2), r, {"accuracy": r}, ["", ""], torch.zeros(2, dtype=bool))  # fmt: skip
    plan = UpdatePlan.of(r, mask, 0, run_all=True)
    a = 0.5**0.5
    grpo_fig = UpdateLog(1, 3).figures(ro, plan, 2, 1, 0.1, 1.0, 1.0, torch.tensor([a, -a]))
    assert abs(grpo_fig["adv_var"] - (0.5 - 0.5 / 9)) < 1e-6, f"GRPO's logged advantage variance {grpo_fig['adv_var']}"
    ppo_fig = UpdateLog(1, 3).figures(ro, plan, 2, 1, 0.1, 1.0, 1.0, torch.tensor([[1.0, 2.0], [3.0, 99.0]]))
    assert abs(ppo_fig["adv_var"] - 2 / 3) < 1e-6, f"PPO's logged advantage variance {ppo_fig['adv_var']} (1, 2, 3)"


def fake_run(folder, p1: list[float], params: int, opt_bytes: int, rss: float, split: tuple, curve_p1: float):
    """A finished train_zero run folder with hand-chosen figures: 2 RL steps of (sampling, critic, policy) seconds
    `split` each, a curve point at step 2, per-question pass rates p1 on the held-out questions a and b."""
    folder.mkdir(parents=True)
    held = {"all": {"pass@1": sum(p1) / 2, "length": 30.0}, "per_question": p1, "questions": ["a", "b"]}
    (folder / "eval_after.json").write_text(json.dumps({"heldout": held}))
    secs = {"base": 0.0, "eval_before": 1.0, "rl": 2 * sum(split), "eval_after": 1.0}
    summary = {"before": {"heldout": {"pass@1": 0.1}}, "after": {"heldout": {"pass@1": sum(p1) / 2}}, "seconds": secs,
               "trainable_params": params, "optimizer_state_bytes": opt_bytes, "peak_rss_mb": rss}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    steps = [{"step": s, "reward": 0.5, "sample_s": split[0], "critic_s": split[1], "train_s": split[2],
              "adv_var": 0.5 * s, "explained_var": 0.1 * s, **({"adv_var_raw": 0.01} if split[1] else {})}
             for s in (1, 2)]  # fmt: skip
    (folder / "metrics.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    (folder / "curves.csv").write_text(f"step,pass@1\n2,{curve_p1}\n")


def test_ppo_vs_grpo_report_from_hand_made_runs(tmp_path, smoke_base_root):
    """The comparison's arithmetic on finished runs with hand-chosen figures (nothing is trained): the means over
    seeds, the PPO / GRPO ratios, training seconds summed per step up to a curve point (evaluations left out),
    samples seen = step x B x G, and PPO's paired difference to GRPO over the same questions: d = [-0.5, 0, -0.5, 0]
    has mean -0.25 and s.e. sd(d) / sqrt(4) = 0.2887 / 2."""
    from r1mini.tools.ppo_vs_grpo import VersusConfig, versus

    cfg = VersusConfig(zero_preset="smoke", seeds=2, base_root=str(smoke_base_root), runs_root=str(tmp_path / "runs"))
    for seed in (0, 1):
        fake_run(tmp_path / f"runs/smoke/default/seed{seed}", [1.0, 0.5], 100, 800, 50.0, (1.0, 0.0, 2.0), 0.5)
        ppo_run = tmp_path / f"runs/smoke/algo=ppo/seed{seed}"
        fake_run(ppo_run, [0.5, 0.5], 201, 1608, 60.0 + seed, (1.0, 1.0, 3.0), 0.25)
    out = versus(cfg, tmp_path / "out", quiet=True)
    g, p = out["runs"]["grpo"], out["runs"]["ppo"]
    assert (g["trainable_params"], p["trainable_params"], p["optimizer_state_bytes"]) == (100, 201, 1608)
    assert p["peak_rss_mb"] == 60.5 and p["step_s"] == {"sampling": 1.0, "critic": 1.0, "policy": 3.0}
    assert g["curves"][0] == [{"step": 2, "samples": 2 * 8 * 8, "seconds": 6.0, "pass@1": 0.5}], g["curves"]
    assert p["curves"][1][0]["seconds"] == 10.0 and p["explained_var_last"] == 0.2 and p["adv_var"] == 0.75
    assert p["adv_var_raw"] == 0.01 and g["adv_var_raw"] is None
    assert abs(out["ppo_minus_grpo"]["pass@1"] + 0.25) < 1e-12
    assert abs(out["ppo_minus_grpo"]["se"] - (1 / 12) ** 0.5 / 2) < 1e-12  # sd with n - 1: sqrt(0.25 / 3)
    report = (tmp_path / "out/report.md").read_text()
    assert "| trainable parameters | 100 | 201 | 2.01x |" in report and "| 2 | 128 | 0.500 | 6 | 0.250 | 10 |" in report


# ----------------------------------------------------------------------------- end to end


def test_ppo_bad_algo_and_cost_model_give_one_line():
    """An unknown --algo, and the cost model asked about PPO (it prices GRPO's phases only): one line, exit 2."""
    import subprocess
    import sys

    script = str(Path(__file__).resolve().parents[1] / "train_zero.py")
    for flags, want in ((["--algo", "nope"], "algo must be grpo or ppo"), (["--algo", "ppo", "--estimate"], "GRPO's")):
        r = subprocess.run([sys.executable, script, "--preset", "smoke", *flags], capture_output=True, text=True,
                           timeout=120)  # fmt: skip
        assert r.returncode == 2 and want in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_ppo_smoke_run_reward_rises(tmp_path, smoke_base_root):
    """`python train_zero.py --preset smoke --algo ppo`: the reward rises, and the summary holds the footprint."""
    run = tmp_path / "run"
    r = run_zero(run, smoke_base_root, "--algo", "ppo", "--json", str(tmp_path / "summary.json"))
    assert r.returncode == 0, r.stderr[-3000:]
    rewards = [x["reward"] for x in metrics(run)]
    n = len(rewards) // 4
    first, last = sum(rewards[:n]) / n, sum(rewards[-n:]) / n
    assert last > first + 0.1, f"PPO's reward did not rise: first quarter {first:.3f}, last {last:.3f}"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["algo"] == "ppo" and summary["trainable_params"] > 0 and summary["optimizer_state_bytes"] > 0
    assert all("explained_var" in x and "critic_s" in x for x in metrics(run))
