"""GRPOTrainer.step's wiring (r1mini/grpo.py; section 2.2.1, eq. (1)-(3), Algorithm 1) against an independent
float64 write-out, done row by row outside the trainer.

tests/test_grpo.py checks each equation alone (grpo_loss, kl_k3, group_advantages). This file checks what feeds
them. For a FIXED rollout (prompts q, outputs o_i shorter than max_new_tokens, rewards r_i and the sampler's
log pi_old, all chosen here and handed to the trainer in place of `sample_rollout`), the gradient that
`GRPOTrainer.step` gives the optimizer, and the KL / clip fraction / entropy it logs, must equal eq. (1)-(3)
written out by hand: each q + o_i run ALONE through a float64 copy of the model (no padding, no shared prefix,
no fused kernel), log_softmax(logits / temperature), rho against pi_old, the clip, the k3 KL against a reference
model whose weights differ from the policy's, aggregated per loss_agg, then autograd on that scalar.

Each case sets one switch away from its default and also asserts that the write-out with the switch at its
default gives a clearly different gradient: a trainer that ignores the switch fails the case. Then: mu = 2 (the
AdamW step written out by hand; pi_old = the sampler's log-probs at BOTH inner updates), the warmup schedule and
the lr actually set in the optimizer, pi_ref resets, and the seeds that make a resumed run replay exactly.
docs/testing.md lists one-line bugs and the test here that catches each.

    python -m pytest tests/test_grpo_trainer.py -q      # ~10 s on a 2-core CPU
"""

import copy
import io

import pytest
import torch
from eq_reference import check_eq1_weights, check_eq3, eq1_aggregate, eq1_token, eq2_k3, eq3_advantages

import r1mini.grpo as grpo
from r1mini.engine.common import rng_state, set_rng_state
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.sampler import Samples, left_pad
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.grpo import GRPOConfig, GRPOTrainer, Rollout

TOK = get_tokenizer()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny float64 tensors: one thread is 10x faster than two when the cores are shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# the fixed rollout: B = 3 questions, G = 3 outputs each, every output shorter than max_new_tokens = 8
PROMPTS = [[101, 57, 302, 44, 9], [640, 12, 77], [5, 880, 31, 250]]  # q, of different lengths (left padding)
LENGTHS = [[6, 2, 4], [1, 5, 3], [3, 6, 2]]  # |o_i|
REWARDS = [[1.0, 0.0, 0.5], [0.2, 0.2, 0.2], [0.0, 1.0, 1.0]]  # question 1: equal rewards, A = 0 (eq. 3)
MAX_NEW = 8
G = 3


def sharp_model(seed: int) -> Transformer:
    """A float64 nano model with weights 12x the init, so that pi(. | q) is far from uniform (logits of order
    1): temperature, the KL term and the clip then change the gradient by much more than rounding."""
    torch.manual_seed(seed)
    model = Transformer(ModelConfig.preset("nano", vocab_size=TOK.vocab_size)).double()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(12)
    return model


def perturbed(model: Transformer, seed: int, scale: float = 0.3) -> Transformer:
    """A copy of model with every weight multiplied by (1 + scale * noise): pi_ref != pi_theta."""
    g = torch.Generator().manual_seed(seed)
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(1 + scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return other


def row_logp(model, q: list[int], o: list[int], temperature: float):
    """log pi(o_t | q, o_<t) [|o|] and the entropy of pi(. | q, o_<t) [|o|], q + o run alone, float64."""
    logits = model(torch.tensor([q + o]))[0].double()  # [|q| + |o|, V]
    logp_all = torch.log_softmax(logits / temperature, dim=-1)[len(q) - 1 : len(q) - 1 + len(o)]  # [|o|, V]
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp_all.gather(-1, torch.tensor(o)[:, None])[:, 0], entropy.detach()


# log pi_old - log pi_theta per token (cycled): rho = exp(-x) lands below 1 - epsilon, inside the clip range,
# between 1 + epsilon and 1 + epsilon_high (clip-higher's band), and above both
PI_OLD_OFFSETS = [-0.22, 0.3, -0.35, 0.1, -0.05, 0.25, -0.22, 0.15, -0.12]


def fixed_rollout(policy, temperature: float, noise: float = 1.0, seed: int = 0) -> Rollout:
    """The rollout handed to the trainer. The sampler's log-probs (log pi_old) are the policy's own at this
    temperature plus noise * PI_OLD_OFFSETS, so that the ratio rho = pi_theta / pi_old is far from 1."""
    g = torch.Generator().manual_seed(seed)
    N, T = len(PROMPTS) * G, max(map(max, LENGTHS))  # T: sample_rollout drops columns past the longest output
    tokens = torch.full((N, T), TOK.pad_id, dtype=torch.long)
    mask = torch.zeros(N, T, dtype=torch.bool)
    sampler_logp = torch.zeros(N, T)
    for i in range(N):
        L = LENGTHS[i // G][i % G]
        o = torch.randint(10, 1000, (L,), generator=g)
        tokens[i, :L], mask[i, :L] = o, True
        with torch.no_grad():
            lp, _ = row_logp(policy, PROMPTS[i // G], o.tolist(), temperature)
        offsets = torch.tensor([PI_OLD_OFFSETS[(i + t) % len(PI_OLD_OFFSETS)] for t in range(L)], dtype=torch.float64)
        sampler_logp[i, :L] = (lp + noise * offsets).float()
    ids, pmask = left_pad(PROMPTS, TOK.pad_id)
    rewards = torch.tensor(REWARDS)
    return Rollout(
        ids, pmask, tokens, mask, sampler_logp, rewards, {"r": rewards}, ["?"] * N, torch.zeros(N, dtype=torch.bool)
    )


def writeout(policy, ref, ro: Rollout, cfg: GRPOConfig, old_from_sampler: bool | None = None):
    """Eq. (1)-(3) row by row and token by token in float64 (tests/eq_reference.py). Returns (-J, logged figures).
    pi_old: the sampler's stored log-probs when mu > 1, else pi_theta itself (detached), as the trainer documents;
    old_from_sampler overrides that."""
    old_from_sampler = cfg.mu > 1 if old_from_sampler is None else old_from_sampler
    eps_lo, eps_hi = cfg.epsilon, cfg.epsilon_high or cfg.epsilon
    A = [a for group in eq3_advantages(ro.rewards.tolist(), cfg.scale_std) for a in group]  # eq. (3)
    spread = [max(row) > min(row) for row in ro.rewards.tolist()]
    terms, kl, clipped, ent, gap = [], [], [], [], []
    for i in range(len(A)):
        q = PROMPTS[i // G]
        L = int(ro.mask[i].sum())
        o = ro.tokens[i, :L].tolist()
        logp, entropy = row_logp(policy, q, o, cfg.temperature)  # [L], with grad
        sampler = ro.sampler_logp[i, :L].double()
        old = sampler if old_from_sampler else logp.detach()
        with torch.no_grad():
            ref_logp, _ = row_logp(ref, q, o, cfg.temperature)
        args = (eps_lo, eps_hi, cfg.beta, cfg.kl_clamp)
        terms.append([eq1_token(logp[t], old[t], ref_logp[t], A[i], *args) for t in range(L)])  # eq. (1), (2)
        if cfg.beta > 0 or spread[i // G]:  # the rows the update runs (beta = 0: groups with spread only)
            kl += [
                float(eq2_k3(logp[t].item(), ref_logp[t].item(), cfg.kl_clamp)) if cfg.beta else 0.0 for t in range(L)
            ]
            rho = torch.exp(logp.detach() - old)
            clipped += (((rho < 1 - eps_lo) & (A[i] < 0)) | ((rho > 1 + eps_hi) & (A[i] > 0))).tolist()
            ent += entropy.tolist()
            gap += (logp.detach() - sampler).abs().tolist()
    J = eq1_aggregate(terms, cfg.loss_agg, cfg.max_new_tokens)  # eq. (1)'s sums
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return -J, {"kl": mean(kl), "clip_frac": mean(clipped), "entropy": mean(ent), "logp_gap": mean(gap)}


def record_equations(monkeypatch) -> dict:
    """Keep what the trainer's equation functions (grpo.group_advantages, token_weights, grpo_loss) computed."""
    rec = {"A": [], "weights": [], "loss": []}
    real_A, real_w, real_loss = grpo.group_advantages, grpo.token_weights, grpo.grpo_loss

    def advantages(r, *args, **kw):
        rec["A"].append(real_A(r, *args, **kw))
        return rec["A"][-1]

    def weights(mask, *args, **kw):
        rec["weights"].append(real_w(mask, *args, **kw))
        return rec["weights"][-1]

    def loss(logp, old_logp, ref_logp, A, w, cfg):
        out = real_loss(logp, old_logp, ref_logp, A, w, cfg)
        ref = None if ref_logp is None else ref_logp.detach().clone()
        rec["loss"].append((logp.detach().clone(), old_logp.detach().clone(), ref, A.clone(), w.clone(), *out))
        return out

    for name, fn in (("group_advantages", advantages), ("token_weights", weights), ("grpo_loss", loss)):
        monkeypatch.setattr(grpo, name, fn)
    return rec


def check_equations(rec: dict, ro: Rollout, cfg: GRPOConfig) -> None:
    """What the step computed, equation by equation, against tests/eq_reference.py, before any gradient is
    compared: an edited equation fails here with a message that names it."""
    (A,) = rec["A"]
    check_eq3(A, ro.rewards.tolist(), cfg.scale_std)
    check_eq1_weights(rec["weights"][0], ro.mask.sum(1).tolist(), cfg.loss_agg, cfg.max_new_tokens)
    eps_lo, eps_hi = cfg.epsilon, cfg.epsilon_high or cfg.epsilon
    for logp, old, ref, A_rows, weights, loss, stats in rec["loss"]:  # each micro-batch of each inner update
        toks = [(i, t) for i in range(len(logp)) for t in range(len(logp[i])) if weights[i, t] > 0]
        args = (eps_lo, eps_hi, cfg.beta, cfg.kl_clamp)
        if cfg.beta > 0:
            kl = sum(eq2_k3(float(logp[i, t]), float(ref[i, t]), cfg.kl_clamp) for i, t in toks) / len(toks)
            assert stats["kl"] == pytest.approx(kl, rel=1e-5), "mean KL differs from eq. (2)'s write-out"
        ref_of = (lambda i, t: 0.0) if ref is None else (lambda i, t: float(ref[i, t]))  # noqa: E731
        terms = [float(weights[i, t]) * eq1_token(float(logp[i, t]), float(old[i, t]), ref_of(i, t), float(A_rows[i]),
                 *args) for i, t in toks]  # fmt: skip
        assert loss.item() == pytest.approx(-sum(terms), rel=1e-5, abs=1e-9), (
            "loss differs from eq. (1)'s write-out on the inputs grpo_loss was given"
        )


def hand_grads(policy, ref, ro, cfg, params=None, **kw):
    """The gradient of -J (the write-out) w.r.t. every parameter, at `params` (default: policy's own)."""
    model = copy.deepcopy(policy)
    if params is not None:
        with torch.no_grad():
            for p, v in zip(model.parameters(), params):
                p.copy_(v)
    model.zero_grad(set_to_none=True)
    loss, logged = writeout(model, ref, ro, cfg, **kw)
    loss.backward()
    return [p.grad.detach().clone() for p in model.parameters()], logged


def spy_optimizer(trainer) -> list[dict]:
    """Record, at each optimizer step, the parameters before it, their gradients and the lr in use."""
    calls, real_step = [], trainer.opt.step

    def step(*args, **kwargs):
        ps = list(trainer.policy.parameters())
        calls.append({"params": [p.detach().clone() for p in ps], "grads": [p.grad.detach().clone() for p in ps],
                      "lr": [g["lr"] for g in trainer.opt.param_groups]})  # fmt: skip
        return real_step(*args, **kwargs)

    trainer.opt.step = step
    return calls


def clip_by_global_norm(grads: list, max_norm: float):
    """(grads scaled to global L2 norm <= max_norm, the norm before): torch's clip_grad_norm_ written out."""
    norm = sum((g**2).sum() for g in grads).sqrt().item()
    return [g * min(1.0, max_norm / (norm + 1e-6)) for g in grads], norm


def close(got: list, want: list, rel: float = 1e-5) -> bool:
    """Every tensor of got within rel * (largest entry of want) of want (RMSNorm rounds through float32)."""
    scale = max(w.abs().max().item() for w in want)
    return all((g - w).abs().max().item() <= rel * scale for g, w in zip(got, want))


def make_trainer(monkeypatch, cfg: GRPOConfig, ref_scale: float = 0.3):
    """A trainer over a float64 sharp policy whose pi_ref differs from it, fed the fixed rollout."""
    policy = sharp_model(0)
    trainer = GRPOTrainer(policy, TOK, lambda p: p, lambda o, p: (0.0, {}), cfg)
    if trainer.ref is not None and ref_scale:
        trainer.ref.load_state_dict(perturbed(policy, seed=1, scale=ref_scale).state_dict())
    ro = fixed_rollout(policy, cfg.temperature)
    monkeypatch.setattr(grpo, "sample_rollout", lambda *args, **kwargs: ro)
    return trainer, ro


BASE = dict(G=G, max_new_tokens=MAX_NEW, beta=0.1, lr=1e-3, warmup=1, grad_clip=1e9)

# (case id, GRPOConfig changes, the switch flipped back to its default: the write-out must then differ)
CASES = [
    ("beta_ref_differs", {}, {"beta": 0.0}),
    ("temperature", {"temperature": 0.7}, {"temperature": 1.0}),
    ("scale_std_off", {"scale_std": False}, {"scale_std": True}),
    ("seq_mean", {"loss_agg": "seq_mean"}, {"loss_agg": "token_mean"}),
    ("token_mean", {"loss_agg": "token_mean"}, {"loss_agg": "seq_mean"}),
    ("constant", {"loss_agg": "constant"}, {"loss_agg": "token_mean"}),
    ("micro_batch", {"micro_batch": 1, "loss_agg": "seq_mean"}, None),  # must not change anything
    ("micro_batch_token_mean", {"micro_batch": 2, "loss_agg": "token_mean"}, None),
    ("clip_higher", {"mu": 2, "epsilon_high": 0.28}, {"epsilon_high": 0.0}),
    ("mu2", {"mu": 2}, {"mu": 1}),  # flipped: pi_old = pi_theta instead of the sampler's log-probs
    ("beta0_skips_equal_groups", {"beta": 0.0, "micro_batch": 1}, {"beta": 0.1}),
    ("grad_clip", {"grad_clip": 0.05}, {"grad_clip": 1e9}),
    ("kl_clamp", {"kl_clamp": 0.5}, {"kl_clamp": 20.0}),  # |log pi_ref - log pi_theta| reaches ~3 here
]


@pytest.mark.parametrize("changes, flip", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_eq1_eq2_eq3_step_gradient_and_logged_figures_match_float64_writeout(monkeypatch, changes, flip):
    """The step's advantages (eq. 3), token weights and loss (eq. 1) and KL (eq. 2) against the write-outs first; then
    the gradient each inner update gives the optimizer and the figures it logs."""
    cfg = GRPOConfig(**{**BASE, **changes})
    trainer, ro = make_trainer(monkeypatch, cfg)
    rec = record_equations(monkeypatch)
    policy0, ref = (
        copy.deepcopy(trainer.policy),
        trainer.ref if trainer.ref is not None else perturbed(trainer.policy, 1),
    )
    calls = spy_optimizer(trainer)
    stats = trainer.step(["q0", "q1", "q2"])
    check_equations(rec, ro, cfg)
    assert len(calls) == cfg.mu
    norms, kl_clip = [], []
    for inner, call in enumerate(calls):  # each inner update, at the parameters it started from
        want, logged = hand_grads(policy0, ref, ro, cfg, params=call["params"])
        want, norm = clip_by_global_norm(want, cfg.grad_clip)
        norms.append(norm)
        kl_clip.append((logged["kl"], logged["clip_frac"]))
        assert close(call["grads"], want), f"gradient of inner update {inner} differs from eq. (1)'s write-out"
        if inner == 0:
            for k in ("entropy", "logp_gap"):  # token means over the rows the update ran, at the first inner update
                assert stats[k] == pytest.approx(logged[k], rel=1e-5, abs=1e-9), k
            if flip is not None:  # the case is sensitive to its switch
                other = GRPOConfig(**{**BASE, **changes, **flip})
                flipped, _ = hand_grads(
                    policy0, ref, ro, other, params=call["params"], old_from_sampler=cfg.mu > 1 and "mu" not in flip
                )
                flipped, _ = clip_by_global_norm(flipped, other.grad_clip)
                assert not close(call["grads"], flipped, rel=1e-3), f"flipping {flip} does not change the gradient"
    assert stats["grad_norm"] == pytest.approx(sum(norms) / cfg.mu, rel=1e-5)  # before the clip, mean over mu
    for k, want in zip(("kl", "clip_frac"), zip(*kl_clip)):  # token means over the rows the update ran, mean over mu
        eq = {"kl": "eq. (2)'s KL", "clip_frac": "eq. (1)'s clip"}[k]
        assert stats[k] == pytest.approx(sum(want) / cfg.mu, rel=1e-5, abs=1e-9), f"logged {k} differs from {eq}"
    if cfg.beta > 0:
        assert stats["kl"] > 1e-3  # pi_ref differs from pi_theta, so the KL term acts
    if cfg.mu > 1:
        assert stats["clip_frac"] > 0  # rho is measured against the noisy sampler log-probs: clipping acts


def test_micro_batches_take_the_questions_longest_output_first(monkeypatch):
    """micro_batch 2 over the fixed rollout: the questions' longest outputs are 6, 5, 6 tokens (LENGTHS), so the
    update runs [q0, q2] padded to 6 columns, then [q1] padded to 5; in their given order it would pad [q0, q1] and
    [q2] to 6 each. The gradient is the float64 write-out's all the same (the parametrized test's micro_batch cases)."""
    seen, real = [], grpo.completion_logprobs

    def recording(model, prompt_ids, prompt_mask, tokens, mask, G_, temperature):
        if torch.is_grad_enabled():  # the update's forward, not pi_ref's
            seen.append((tokens.clone(), tokens.shape[1]))
        return real(model, prompt_ids, prompt_mask, tokens, mask, G_, temperature)

    monkeypatch.setattr(grpo, "completion_logprobs", recording)
    cfg = GRPOConfig(**{**BASE, "micro_batch": 2})
    trainer, ro = make_trainer(monkeypatch, cfg)
    trainer.step(["q0", "q1", "q2"])

    def questions(tokens):  # which rollout rows these are (every row's tokens differ), as question indices
        rows = [
            next(i for i in range(len(ro.tokens)) if torch.equal(ro.tokens[i, : tokens.shape[1]], t)) for t in tokens
        ]
        return sorted({r // G for r in rows}), len(rows)

    assert [(questions(t), T) for t, T in seen] == [(([0, 2], 2 * G), 6), (([1], G), 5)]


def test_eq1_eq2_eq3_mu2_second_update_against_the_sampler_pi_old_after_a_hand_adamw_step(monkeypatch):
    """mu = 2: inner update 1 starts from theta_1 = AdamW(theta_0, g_0), written out here; its rho is
    pi_theta_1 / pi_old with pi_old = the sampler's stored log-probs, NOT pi_theta_1 re-taken."""
    cfg = GRPOConfig(**{**BASE, "mu": 2, "lr": 3e-3, "weight_decay": 0.1, "warmup": 4})
    trainer, ro = make_trainer(monkeypatch, cfg)
    rec = record_equations(monkeypatch)
    policy0, ref = copy.deepcopy(trainer.policy), trainer.ref
    calls = spy_optimizer(trainer)
    stats = trainer.step(["q0", "q1", "q2"])
    check_equations(rec, ro, cfg)
    lr = cfg.lr / 4  # warmup: step 0 of 4
    assert calls[0]["lr"] == calls[1]["lr"] == [lr]
    # theta_1 by AdamW's first step (betas 0.9, 0.99, eps 1e-8): m_hat = g, sqrt(v_hat) = |g|
    for p0, g0, p1 in zip(calls[0]["params"], calls[0]["grads"], calls[1]["params"]):
        want = p0 * (1 - lr * cfg.weight_decay) - lr * g0 / (g0.abs() + 1e-8)
        assert torch.allclose(p1, want, rtol=0, atol=1e-12)
    g1, _ = hand_grads(policy0, ref, ro, cfg, params=calls[1]["params"])  # pi_old = the sampler's
    assert close(calls[1]["grads"], g1)
    retaken, _ = hand_grads(policy0, ref, ro, cfg, params=calls[1]["params"], old_from_sampler=False)
    assert not close(calls[1]["grads"], retaken, rel=1e-3)  # pi_old re-taken at theta_1 would differ
    # at theta_0 the ratio rho = pi_theta / pi_old is far from 1 on both sides, and the clip acts
    rho = torch.exp(fixed_rollout(policy0, 1.0, noise=0.0).sampler_logp - ro.sampler_logp)[ro.mask]
    assert (rho > 1.2).any() and (rho < 0.8).any() and stats["clip_frac"] > 0.05


def test_the_default_config_is_the_papers_grpo():
    """grpo.py's contract: the switches default to the paper's shape of eq. (1)-(3): a token mean per output then a
    mean over outputs, advantages divided by the group std, a symmetric clip, a KL term; and mu = 1 (one update
    per batch, pi_old = pi_theta). Dr. GRPO and DAPO are flags of a run (--scale-std false, --loss-agg
    token_mean, --epsilon-high 0.28), not new defaults: the tests above set each switch explicitly."""
    cfg = GRPOConfig()
    assert (cfg.loss_agg, cfg.scale_std, cfg.epsilon_high or cfg.epsilon, cfg.mu) == ("seq_mean", True, cfg.epsilon, 1)
    assert cfg.beta > 0


# ----------------------------------------------------------------------------- schedule, pi_ref resets, seeds


def test_warmup_lr_at_and_the_lr_set_in_the_optimizer(monkeypatch):
    """Linear warmup over `warmup` steps: step s (0-based) uses lr * min(1, (s + 1) / warmup), at every inner update."""
    cfg = GRPOConfig(**{**BASE, "lr": 1e-3, "warmup": 4, "mu": 2, "beta": 0.0})
    trainer, _ = make_trainer(monkeypatch, cfg)
    want = [0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3]
    assert [trainer.lr_at(s) for s in range(6)] == pytest.approx(want, rel=1e-12)
    calls = spy_optimizer(trainer)
    logged = [trainer.step(["q0", "q1", "q2"])["lr"] for _ in range(6)]
    assert logged == pytest.approx(want, rel=1e-12)
    assert [c["lr"][0] for c in calls] == pytest.approx([w for w in want for _ in range(cfg.mu)], rel=1e-12)
    for warmup in (0, 1):
        trainer.cfg.warmup = warmup
        assert trainer.lr_at(0) == cfg.lr  # no warmup: the full lr from the first step


def test_ref_resets_every_3_steps_before_the_step(monkeypatch):
    """Algorithm 1's outer loop: pi_ref <- pi_theta before steps 3, 6, ...; the KL logged at those steps is 0
    (pi_ref = pi_theta = pi_old, mu = 1) and > 0 at the others."""
    cfg = GRPOConfig(**{**BASE, "ref_reset_every": 3, "lr": 1e-2})
    trainer, _ = make_trainer(monkeypatch, cfg, ref_scale=0.0)
    base = copy.deepcopy(trainer.policy.state_dict())
    before, refs, kls = [], [], []
    for _ in range(7):
        before.append(copy.deepcopy(trainer.policy.state_dict()))
        kls.append(trainer.step(["q0", "q1", "q2"])["kl"])
        refs.append(copy.deepcopy(trainer.ref.state_dict()))
    same = lambda a, b: all(torch.equal(a[k], b[k]) for k in a)  # noqa: E731
    want = [base, base, base, before[3], before[3], before[3], before[6]]
    for s in range(7):
        assert same(refs[s], want[s]), f"pi_ref during step {s}"
    assert not same(before[3], base) and not same(before[6], before[3])  # the policy moved in between
    assert [kl < 1e-12 for kl in kls] == [True, False, False, True, False, False, True], (
        f"eq. (2)'s KL must be 0 at the steps pi_ref was reset and > 0 between them (k3 is never negative): {kls}"
    )


def test_rollout_seed_is_a_function_of_seed_and_step_only(monkeypatch):
    """The sampler's seed: distinct for every (cfg.seed, step_idx) on a grid, and the same for the same pair."""
    seeds = {}

    class Stop(Exception):
        pass

    def record(*args, seed=None, **kwargs):
        seeds.setdefault(key, set()).add(seed)
        raise Stop

    monkeypatch.setattr(grpo, "sample_rollout", record)
    trainer = GRPOTrainer(
        Transformer(ModelConfig.preset("nano", vocab_size=TOK.vocab_size)), TOK, str, None, GRPOConfig(G=2, beta=0.0)
    )
    for key in [(s, k) for s in range(4) for k in range(4)] * 2:
        trainer.cfg.seed, trainer.step_idx = key
        torch.manual_seed(len(seeds))  # the global RNG must not matter
        with pytest.raises(Stop):
            trainer.step(["q"])
    assert all(len(v) == 1 and None not in v for v in seeds.values())
    assert len({v.pop() for v in seeds.values()}) == 16


def _real_trainer(seed: int, cfg: GRPOConfig):
    torch.manual_seed(seed)
    model = Transformer(ModelConfig.preset("nano", vocab_size=TOK.vocab_size))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(12)

    def reward(o, p):  # any reward with spread: the output's length mod 5
        return len(o) % 5 / 4, {"len5": len(o) % 5 / 4}

    return GRPOTrainer(model, TOK, lambda p: p, reward, cfg)


def _replayable(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in ("tokens_per_s", "sample_s", "train_s")}


def test_resumed_run_replays_step_3_exactly():
    """Run 2 steps, save the trainer's state_dict and common.rng_state, run step 3. A fresh trainer (other
    initial weights, other global RNG) loaded from the save runs the same step 3: same rollout, same figures,
    same parameters, pi_ref and optimizer state after it. Real sampling: nothing is patched."""
    cfg = GRPOConfig(G=3, max_new_tokens=8, beta=0.05, mu=2, lr=1e-2, warmup=3, temperature=0.9, seed=7)
    problems = ["What is 2 + 3?", "What is 7 - 4?"]
    a = _real_trainer(0, cfg)
    a.step(problems)
    a.step(problems)
    buf = io.BytesIO()
    torch.save({"trainer": a.state_dict(), "rng": rng_state()}, buf)
    stats_a = a.step(problems)

    b = _real_trainer(1, copy.deepcopy(cfg))
    torch.manual_seed(12345)
    buf.seek(0)
    saved = torch.load(buf, weights_only=False)
    b.load_state_dict(saved["trainer"])
    set_rng_state(saved["rng"])
    stats_b = b.step(problems)
    assert _replayable(stats_a) == _replayable(stats_b)
    assert stats_a["kl"] > 0 and stats_a["step"] == 3
    for x, y in [(a.policy, b.policy), (a.ref, b.ref)]:
        assert all(torch.equal(p, q) for p, q in zip(x.state_dict().values(), y.state_dict().values()))
    sa, sb = a.opt.state_dict()["state"], b.opt.state_dict()["state"]
    assert all(torch.equal(sa[k][n], sb[k][n]) for k in sa for n in ("exp_avg", "exp_avg_sq", "step"))


def test_sample_rollout_asks_the_sampler_for_the_right_things_and_files_its_answer(monkeypatch):
    """sample_rollout around a scripted sampler: what it asks for (the prompts, G per question, the trainer's
    temperature and max_new_tokens, the full distribution: no top-k / top-p, stops at end-of-text and </answer>,
    the seed, the pad id), and what it does with the answer: each text is the output decoded without the
    end-of-text token, and reward[b, g] = reward_fn(text of row b * G + g, problem b)."""
    eot, end, pad = TOK.eot_id, TOK.answer_end_id, TOK.pad_id
    outputs = [[300, 301, eot], [302, end], [303, 304, 305, 306, 307], [308, eot], [309], [310, 311, end]]
    asked = {}

    def scripted(model, prompts, scfg, n_samples=1, seed=None, pad_id=0, **kw):
        asked.update(prompts=prompts, cfg=scfg, G=n_samples, seed=seed, pad_id=pad_id)
        N, T = len(outputs), scfg.max_new_tokens
        tokens, mask = torch.full((N, T), pad_id), torch.zeros(N, T, dtype=torch.bool)
        for i, o in enumerate(outputs):
            tokens[i, : len(o)], mask[i, : len(o)] = torch.tensor(o), True
        truncated = torch.tensor([len(o) == T and o[-1] not in (eot, end) for o in outputs])
        return Samples(tokens, -torch.rand(N, T), mask, torch.arange(2).repeat_interleave(3), truncated)

    monkeypatch.setattr(grpo, "generate", scripted)
    problems = ["What is 2 + 3?", "Use 4, 5 to make 9."]
    prompt_fn = lambda p: f"User: {p} Assistant: <think>"  # noqa: E731  (a special token: allow_special)

    def reward(o, p):
        r = len(o) / 100 + problems.index(p)
        return r, {"len": len(o) / 100}

    cfg = GRPOConfig(G=3, max_new_tokens=5, temperature=0.7)
    ro = grpo.sample_rollout(sharp_model(0), TOK, problems, prompt_fn, reward, cfg, seed=11)
    scfg = asked["cfg"]
    assert asked["prompts"] == [TOK.encode(prompt_fn(p), allow_special=True) for p in problems]
    assert (asked["G"], asked["seed"], asked["pad_id"]) == (3, 11, pad)
    assert (scfg.temperature, scfg.max_new_tokens, scfg.top_k, scfg.top_p) == (0.7, 5, 0, 1.0)
    assert set(scfg.stop_ids) == {eot, end}
    for i, o in enumerate(outputs):
        text = TOK.decode([t for t in o if t != eot])
        assert ro.texts[i] == text and ro.mask[i].sum() == len(o)
        assert ro.rewards[i // 3, i % 3].item() == pytest.approx(len(text) / 100 + i // 3)
        assert ro.parts["len"][i // 3, i % 3].item() == pytest.approx(len(text) / 100)
    assert "</answer>" in ro.texts[1] and ro.truncated.tolist() == [False, False, True, False, False, False]
    ids, pmask = left_pad(asked["prompts"], pad)
    assert torch.equal(ro.prompt_ids, ids) and torch.equal(ro.prompt_mask, pmask)


def test_sampler_logprobs_are_pi_old_at_the_trainer_temperature():
    """Real sampling at temperature 0.7: the log-probs the sampler stores (log pi_old, used when mu > 1) equal
    log_softmax(logits / 0.7) of q + o run alone in float64; so with mu = 1 the trainer's ratio starts at 1."""
    policy = sharp_model(0)
    problems = ["What is 2 + 3?", "Use 4, 5 to make 9."]
    cfg = GRPOConfig(G=3, max_new_tokens=8, temperature=0.7)
    ro = grpo.sample_rollout(policy, TOK, problems, lambda p: p, lambda o, p: (0.0, {"zero": 0.0}), cfg, seed=3)
    for i in range(6):
        L = int(ro.mask[i].sum())
        q, o = TOK.encode(problems[i // 3], allow_special=True), ro.tokens[i, :L].tolist()
        assert ro.texts[i] == TOK.decode([t for t in o if t != TOK.eot_id])
        with torch.no_grad():
            want, _ = row_logp(policy, q, o, cfg.temperature)
            at_1, _ = row_logp(policy, q, o, 1.0)
        assert torch.allclose(ro.sampler_logp[i, :L].double(), want, atol=1e-5)
        assert (want - at_1).abs().max() > 1e-2  # the premise: temperature 0.7 and 1 differ here
