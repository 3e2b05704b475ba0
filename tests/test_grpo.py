"""GRPO's equations (1)-(3) against float64 loops written out by hand, and the update's gradient
against a hand-derived case."""

import copy
import itertools
import math

import pytest
import torch
from eq_reference import check_eq1_weights, check_eq3, eq1_aggregate, eq1_token, eq2_k3, eq3_advantages

from r1mini.engine.common import ConfigError
from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.sampler import left_pad
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.evaluate import zero_prompt
from r1mini.grpo import (
    GRPOConfig,
    GRPOTrainer,
    completion_logprobs,
    group_advantages,
    grpo_loss,
    kl_k3,
    sample_rollout,
    token_weights,
)
from r1mini.toy.tasks import generate


def test_eq3_advantages_against_statistics_module():
    g = torch.Generator().manual_seed(0)
    r = torch.randint(0, 3, (20, 6), generator=g).float() / 2  # many ties, some zero-spread groups
    A = group_advantages(r)
    check_eq3(A, r.tolist())
    for b in range(20):
        if len(set(r[b].tolist())) == 1:
            assert A[b].tolist() == [0.0] * 6, "eq. (3): a group of equal rewards gets exactly 0, not noise / tiny std"
    centred = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), scale_std=False)
    check_eq3(centred, [[1.0, 0.0, 0.0, 0.0]], scale_std=False)  # without the std: just centred
    assert centred.tolist() == [[0.75, -0.25, -0.25, -0.25]], "eq. (3) without the std is r - mean(r)"


def test_eq3_equal_rewards_that_do_not_average_exactly():
    r = torch.full((1, 7), 0.1)  # mean(0.1 x 7) is not exactly 0.1 in float: still exactly 0
    assert torch.equal(group_advantages(r), torch.zeros(1, 7)), "eq. (3): equal rewards must give exactly 0"


def test_eq2_kl_against_float64_and_finite():
    for lp, lr in [(-1.0, -2.0), (-3.0, -0.5), (-0.2, -0.2), (-5.0, -7.5)]:
        got = kl_k3(torch.tensor(lp), torch.tensor(lr)).item()
        assert got == pytest.approx(eq2_k3(lp, lr), rel=1e-6), f"k3 at ({lp}, {lr}) differs from eq. (2)'s write-out"
        ratio = math.exp(lr - lp)  # pi_ref / pi_theta: the formula itself, once more by hand
        assert got == pytest.approx(ratio - math.log(ratio) - 1, rel=1e-6), "k3 is not eq. (2)"
    assert kl_k3(torch.tensor(-1.0), torch.tensor(-1.0)).item() == 0.0, "eq. (2) is 0 where pi_ref = pi_theta"
    huge = kl_k3(torch.tensor(-200.0), torch.tensor(0.0))  # log ratio 200: clamped, finite
    assert math.isfinite(huge.item()), "eq. (2) must stay finite: log(pi_ref / pi_theta) is clamped"
    assert huge.item() == pytest.approx(math.exp(20) - 21, rel=1e-5), "eq. (2) with the log ratio clamped at 20"


def test_eq2_k3_in_the_loss_has_the_gradient_of_kl_ref_theta_by_enumeration():
    """What eq. (2) does as a loss term: with the tokens drawn from pi_theta and held fixed, the expected gradient
    of k3 is the gradient of D_KL(pi_ref || pi_theta), whose gradient in the logits is pi_theta - pi_ref (by hand),
    not that of D_KL(pi_theta || pi_ref), the divergence k3 estimates. k1 = log(pi_theta / pi_ref) would give 0."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    ref_logp = torch.log_softmax(torch.randn(6, generator=g, dtype=torch.float64), 0)
    logp = torch.log_softmax(logits, 0)
    p = logp.exp().detach()  # every token x, weighted by how often pi_theta samples it: the exact expectation
    (grad,) = torch.autograd.grad((p * kl_k3(logp, ref_logp)).sum(), logits)
    want = p - ref_logp.exp()  # d/dlogits of sum_x pi_ref(x) (log pi_ref(x) - log pi_theta(x))
    assert torch.allclose(grad, want, atol=1e-12), f"eq. (2): E[grad k3] is not grad KL(pi_ref||pi_theta): {grad}"
    forward_kl = p * (logp.detach() - ref_logp - (p * (logp.detach() - ref_logp)).sum())  # grad KL(pi_theta||pi_ref)
    assert not torch.allclose(grad, forward_kl, atol=1e-3), "the two KL gradients should differ on this case"
    value = (p * kl_k3(logp.detach(), ref_logp)).sum()
    assert value.item() == pytest.approx((p * (logp.detach() - ref_logp)).sum().item(), rel=1e-10), (
        "eq. (2): the expected k3 is D_KL(pi_theta || pi_ref)"
    )


@pytest.mark.parametrize("agg", ["seq_mean", "token_mean", "constant"])
@pytest.mark.parametrize("eps_hi", [0.0, 0.28])
def test_eq1_eq2_loss_against_float64_loop(agg, eps_hi):
    g = torch.Generator().manual_seed(1)
    N, T = 6, 5
    logp = -torch.rand(N, T, generator=g, dtype=torch.float64) * 2
    old = logp + (torch.rand(N, T, generator=g, dtype=torch.float64) - 0.5)  # ratios on both sides of the clip
    ref = logp + (torch.rand(N, T, generator=g, dtype=torch.float64) - 0.5) * 3
    A = torch.tensor([1.5, -1.0, 0.5, -0.5, 0.0, 2.0], dtype=torch.float64)
    mask = torch.ones(N, T, dtype=torch.bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    cfg = GRPOConfig(epsilon=0.2, epsilon_high=eps_hi, beta=0.04, loss_agg=agg, max_new_tokens=T)
    weights = token_weights(mask, agg, T, torch.float64)
    check_eq1_weights(weights, mask.sum(1).tolist(), agg, T)
    kl = kl_k3(logp, ref)  # the KL term inside eq. (1) first, so that an edit of eq. (2) fails as eq. (2)
    for i, t in itertools.product(range(N), range(T)):
        assert kl[i, t].item() == pytest.approx(eq2_k3(logp[i, t].item(), ref[i, t].item()), rel=1e-9), (
            f"k3 at token {(i, t)} differs from eq. (2)'s write-out"
        )
    loss, stats = grpo_loss(logp, old, ref, A, weights, cfg)
    terms = [[eq1_token(logp[i, t].item(), old[i, t].item(), ref[i, t].item(), A[i].item(), 0.2, eps_hi or 0.2, 0.04)
              for t in range(T) if mask[i, t]] for i in range(N)]  # fmt: skip
    assert loss.item() == pytest.approx(-eq1_aggregate(terms, agg, T), rel=1e-9), (
        f"the {agg} loss differs from eq. (1)'s write-out"
    )
    ratio = torch.exp(logp - old)
    assert (ratio[mask] < 0.8).any() and (ratio[mask] > 1.2).any()  # both clip sides were exercised
    assert 0 < stats["clip_frac"] < 1


def test_eq1_gradient_hand_derived():
    """One token, ratio inside / outside the clip range.

    d loss / d logp = -A * rho when the unclipped term is the min, 0 when the clipped one is
    (and with beta: + beta * d KL / d logp = beta * (1 - exp(ref - logp)))."""
    cfg = GRPOConfig(epsilon=0.2, beta=0.0, loss_agg="seq_mean", max_new_tokens=1)
    w = torch.ones(1, 1, dtype=torch.float64)
    for logp0, old0, A, want in [
        (0.0, 0.0, 2.0, -2.0),  # rho = 1: -A
        (0.1, 0.0, 1.0, -math.exp(0.1)),  # rho = 1.105 < 1.2, A > 0: unclipped
        (0.5, 0.0, 1.0, 0.0),  # rho = 1.65 > 1.2, A > 0: clipped, no gradient
        (0.5, 0.0, -1.0, math.exp(0.5)),  # rho > 1.2 but A < 0: min picks the unclipped term
        (-0.5, 0.0, -1.0, 0.0),  # rho = 0.61 < 0.8, A < 0: clipped
    ]:
        logp = torch.tensor([[logp0]], dtype=torch.float64, requires_grad=True)
        loss, _ = grpo_loss(
            logp, torch.tensor([[old0]], dtype=torch.float64), None, torch.tensor([A], dtype=torch.float64), w, cfg
        )
        loss.backward()
        assert logp.grad.item() == pytest.approx(want, rel=1e-9, abs=1e-12), (
            f"eq. (1)'s gradient at rho = exp({logp0}), A = {A} differs from the hand-derived {want}"
        )
    cfg_kl = GRPOConfig(epsilon=0.2, beta=0.5, max_new_tokens=1)
    logp = torch.tensor([[-1.0]], dtype=torch.float64, requires_grad=True)
    loss, _ = grpo_loss(
        logp,
        logp.detach(),
        torch.tensor([[-2.0]], dtype=torch.float64),
        torch.tensor([0.0], dtype=torch.float64),
        w,
        cfg_kl,
    )
    loss.backward()
    assert logp.grad.item() == pytest.approx(0.5 * (1 - math.exp(-1.0)), rel=1e-9), (
        "the gradient of eq. (1)'s beta * eq. (2) term differs from beta (1 - pi_ref / pi_theta)"
    )


def test_eq1_first_update_loss_is_zero_but_gradient_is_not():
    """mu = 1, pi_old = pi_theta, pi_ref = pi_theta: rho = 1, KL = 0, and advantages of each group sum
    to 0, so the seq_mean loss is ~0 by construction. Its gradient is sum A_i grad log pi(o_i) / |o_i| != 0."""
    torch.manual_seed(0)
    W = torch.randn(4, 3, requires_grad=True)
    x = torch.randn(8, 5, 3)
    o = torch.randint(0, 4, (8, 5))
    logp = torch.log_softmax(x @ W.T, -1).gather(-1, o[..., None])[..., 0]
    A = group_advantages(torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 0]])).view(-1)
    mask = torch.ones(8, 5, dtype=torch.bool)
    cfg = GRPOConfig(beta=0.04, max_new_tokens=5)
    loss, _ = grpo_loss(logp, logp.detach(), logp.detach(), A, token_weights(mask, "seq_mean", 5), cfg)
    loss.backward()
    assert abs(loss.item()) < 1e-6, "eq. (1) at rho = 1, pi_ref = pi_theta: the A_i of a group sum to 0"
    assert W.grad.abs().sum() > 1e-3, "eq. (1)'s gradient at rho = 1 is sum A_i grad log pi(o_i) / |o_i|, not 0"


def test_eq1_token_weights_and_eq3_group_size():
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    for agg in ("seq_mean", "token_mean", "constant"):
        check_eq1_weights(token_weights(mask, agg, 3), [2, 1], agg, 3)
    assert token_weights(mask, "seq_mean", 3).tolist() == [[0.25, 0.25, 0], [0.5, 0, 0]], "eq. (1): 1/G 1/|o_i|"
    with pytest.raises(ConfigError, match="loss_agg"):
        GRPOConfig(loss_agg="mean").validate()
    try:
        GRPOConfig(G=1).validate()
    except ConfigError as e:
        assert "G must be" in str(e), e
    else:
        pytest.fail("eq. (3): a group of G = 1 has no baseline (its A is always 0); GRPOConfig must refuse G < 2")


# ----------------------------------------------------------------------------- the trainer's pieces


def test_completion_logprobs_match_each_sequence_run_alone_in_float64():
    """The trainer's log pi(o_t | q, o_<t) (prompt run once and shared by its G outputs, fused lm_head kernel,
    left padding) against each unpadded prompt + output run alone through the model, log_softmax in float64."""
    torch.manual_seed(0)
    model = Transformer(ModelConfig.preset("nano", vocab_size=64)).double()
    prompts, G, T, temp = [[5, 6, 7, 8, 9], [10, 11]], 2, 5, 0.7
    ids, pmask = left_pad(prompts, pad_id=0)
    tokens = torch.randint(1, 64, (len(prompts) * G, T))
    mask = torch.ones_like(tokens, dtype=torch.bool)
    mask[1, 3:] = False
    mask[3, 1:] = False
    logp, _ = completion_logprobs(model, ids, pmask, tokens, mask, G, temp)
    for i in range(len(prompts) * G):
        q, o = prompts[i // G], tokens[i][mask[i]].tolist()
        with torch.no_grad():
            z = model(torch.tensor([q + o]))[0].double() / temp  # [P + |o|, V]
        want = torch.log_softmax(z, -1)
        for t, tok in enumerate(o):  # the state after q + o_<t predicts o_t
            assert logp[i, t].item() == pytest.approx(want[len(q) - 1 + t, tok].item(), rel=1e-9, abs=1e-9)


def _trainer(cfg):
    torch.manual_seed(0)
    tok = get_tokenizer()
    model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))

    def reward(o, p):  # any reward with spread: the parity of the output's length
        return float(len(o) % 2), {"parity": float(len(o) % 2)}

    return GRPOTrainer(model, tok, zero_prompt, reward, cfg)


def test_trainer_switches_beta0_mu2_and_reference_resets():
    problems = generate("add", 2, n=2, seed=0)
    tr = _trainer(GRPOConfig(beta=0.0, G=4, max_new_tokens=8, mu=2))
    assert tr.ref is None  # beta = 0: no reference model at all
    stats = tr.step(problems)
    assert all(math.isfinite(stats[k]) for k in ("reward", "grad_norm", "entropy", "logp_gap"))
    assert stats["kl"] == 0.0 and stats["reward_parity"] == stats["reward"]

    tr = _trainer(GRPOConfig(beta=0.1, G=4, max_new_tokens=8, lr=1e-2, ref_reset_every=2))
    base = {k: v.clone() for k, v in tr.policy.state_dict().items()}
    tr.step(problems)
    tr.step(problems)
    assert all(torch.equal(v, base[k]) for k, v in tr.ref.state_dict().items())  # pi_ref is still the base
    before_third = {k: v.clone() for k, v in tr.policy.state_dict().items()}
    assert any(not torch.equal(v, base[k]) for k, v in before_third.items())  # the policy moved
    tr.step(problems)  # Algorithm 1's outer iteration: pi_ref <- pi_theta before this step
    assert all(torch.equal(v, before_third[k]) for k, v in tr.ref.state_dict().items())


def test_eq1_eq3_beta0_update_skips_equal_reward_groups_and_matches_the_full_gradient():
    """beta = 0, mu = 1: the trainer runs only the groups with reward spread (and only up to their longest
    output). Its gradient must equal the full eq. (1) gradient over every row, computed here row by row in
    float64: at rho = 1 it is -sum_i A_i / (N |o_i|) sum_t grad log pi(o_it | q, o_i<t)."""
    torch.manual_seed(0)
    tok = get_tokenizer()
    model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size)).double()
    problems = generate("add", 2, n=2, seed=0)

    def reward(o, p):  # question 0: every output gets 1 (no spread); question 1: parity of the length
        r = 1.0 if p is problems[0] else float(len(o) % 2)
        return r, {"r": r}

    cfg = GRPOConfig(beta=0.0, G=4, max_new_tokens=10, grad_clip=1e9)
    ref_model = copy.deepcopy(model)
    ro = sample_rollout(
        ref_model, tok, problems, zero_prompt, reward, cfg, seed=cfg.seed * 1_000_003
    )  # the trainer's first draw
    tr = GRPOTrainer(model, tok, zero_prompt, reward, cfg)
    stats = tr.step(problems)
    assert stats["trained_rows"] == 0.5 and stats["zero_spread"] == 0.5
    check_eq3(group_advantages(ro.rewards), ro.rewards.tolist())  # what the trainer's A are made of

    prompts = [tok.encode(zero_prompt(p), allow_special=True) for p in problems]
    loss, N = 0.0, 2 * cfg.G
    A_all = eq3_advantages(ro.rewards.tolist())
    for b in range(2):
        for g in range(cfg.G):
            i, A = b * cfg.G + g, A_all[b][g]  # eq. (3)
            o = ro.tokens[i][ro.mask[i]].tolist()
            logits = ref_model(torch.tensor([prompts[b] + o]))[0]
            logp = torch.log_softmax(logits, -1)[len(prompts[b]) - 1 : -1].gather(-1, torch.tensor(o)[:, None]).sum()
            loss = loss - A * logp / (N * len(o))
    loss.backward()
    for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):  # RMSNorm runs in float32 in both
        assert (p.grad - q.grad).abs().max() <= 1e-6 * q.grad.abs().max(), f"eq. (1)'s gradient, {name}"


def test_beta0_step_where_every_group_has_equal_rewards_changes_nothing():
    """beta = 0 and no group with reward spread: every A is 0 and there is no KL term, so the gradient is exactly 0;
    the step must still run (no rows to train: trained_rows 0) and leave pi_theta where it was."""
    tr = _trainer(GRPOConfig(beta=0.0, G=4, max_new_tokens=8, micro_batch=1))
    tr.reward_fn = lambda o, p: (1.0, {"one": 1.0})
    before = {k: v.clone() for k, v in tr.policy.state_dict().items()}
    stats = tr.step(generate("add", 2, n=2, seed=0))
    assert stats["trained_rows"] == 0 and stats["zero_spread"] == 1.0 and stats["grad_norm"] == 0.0
    assert all(torch.equal(v, before[k]) for k, v in tr.policy.state_dict().items())
