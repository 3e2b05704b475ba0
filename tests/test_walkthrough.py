"""r1mini/tools/walkthrough.py (docs/walkthrough.md): one GRPO step on a seeded nano model, every figure it reports
checked against an independent float64 computation: A with the statistics module, rho with math.exp, the k3
KL term, the clip, the loss and d loss / d log pi_theta by hand loops, and the log-probs of pi_old and pi_ref
by a plain float64 forward of the whole prompt + output (no prefix cache, no fused kernel)."""

import copy
import dataclasses
import math

import pytest
import torch
from eq_reference import check_eq1_weights, check_eq3, eq1_token, eq2_k3

from r1mini.engine.model import ModelConfig, Transformer
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.template import r1_zero_prompt
from r1mini.tools.walkthrough import WALK_CFG, walkthrough

CFG = dataclasses.replace(WALK_CFG, max_new_tokens=24, lr=1e-2)  # short outputs; a big step so that the clip acts


def toy_reward(text, problem):
    """The untrained model is never right: a reward with spread (the length mod 3) so that A != 0."""
    r = float(len(text) % 3)
    return r, {"accuracy": 0.0, "format": r}


@pytest.fixture(scope="module")
def worked():
    tok = get_tokenizer()
    torch.manual_seed(0)
    model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))
    with torch.no_grad():  # nudge it to end outputs early (logit ~4 for </answer>), so that the |o_i| differ
        h = model(torch.tensor([tok.encode(r1_zero_prompt("What is 1 + 1?"), allow_special=True)]), return_hidden=True)[
            0
        ].mean(0)
        model.lm_head.weight[tok.answer_end_id] = 4.0 * h / h.square().sum()
    before = copy.deepcopy(model)
    return walkthrough(model, tok, "a seeded nano model", cfg=CFG, reward_fn=toy_reward), before, model, tok


def rows(w):
    """(i, t) of every real token."""
    return [(i, t) for i in range(len(w["mask"])) for t in range(len(w["mask"][i])) if w["mask"][i][t]]


def test_eq3_advantages_by_statistics(worked):
    w = worked[0]
    r = w["rewards"]
    assert len(r) == 4 and len(set(r)) > 1
    check_eq3(w["A"], [r])
    for x in ("{:+.4f}".format(a) for a in w["A"]):
        assert x in w["markdown"]


def test_eq1_eq2_weights_ratio_kl_and_clip_by_hand(worked):
    w = worked[0]
    eps = CFG.epsilon
    lengths = [sum(m) for m in w["mask"]]
    assert len(set(lengths)) > 1  # else seq_mean and token_mean weights would coincide
    u1, u2 = w["updates"]
    n_clipped = 0
    check_eq1_weights(w["weights"], lengths, "seq_mean", CFG.max_new_tokens)  # 1/G * 1/|o_i|
    for i, t in rows(w):
        assert u1["ratio"][i][t] == pytest.approx(1.0, abs=1e-4)  # first inner update: pi_theta = pi_old
        assert u1["kl"][i][t] == 0.0  # ... = pi_ref
        lp, old, ref = u2["logp"][i][t], w["old_logp"][i][t], w["ref_logp"][i][t]
        assert u2["ratio"][i][t] == pytest.approx(math.exp(lp - old), rel=1e-5)
        assert u2["kl"][i][t] == pytest.approx(eq2_k3(lp, ref), rel=1e-3, abs=1e-7), f"k3 at {i, t} is not eq. (2)"
        rho, A = math.exp(lp - old), w["A"][i]
        clipped = (rho > 1 + eps and A > 0) or (rho < 1 - eps and A < 0)
        assert u2["clipped"][i][t] == clipped
        n_clipped += clipped
    assert 0 < n_clipped < len(rows(w))  # the clip acts on some tokens, not all
    assert u2["clip_frac"] == pytest.approx(n_clipped / len(rows(w)))
    assert u2["kl_mean"] > 0


def hand_loss_and_grad(w, u):
    """-eq. (1) and d(-eq. 1)/d log pi_theta(o_it), by a float64 loop."""
    eps, beta = CFG.epsilon, CFG.beta
    loss, grad = 0.0, {}
    for i, t in rows(w):
        lp, old, ref, A, wt = u["logp"][i][t], w["old_logp"][i][t], w["ref_logp"][i][t], w["A"][i], w["weights"][i][t]
        rho = math.exp(lp - old)
        clipped_rho = min(max(rho, 1 - eps), 1 + eps)
        loss -= wt * eq1_token(lp, old, ref, A, eps, eps, beta)
        d_surrogate = A * rho if rho * A <= clipped_rho * A else 0.0  # min() takes the clipped constant: no gradient
        d_kl = 1 - math.exp(ref - lp)  # d/dlp of exp(ref - lp) - (ref - lp) - 1
        grad[i, t] = -wt * (d_surrogate - beta * d_kl)
    return loss, grad


def test_eq1_eq2_loss_and_gradient_by_hand(worked):
    w = worked[0]
    for u in w["updates"]:
        loss, grad = hand_loss_and_grad(w, u)
        assert u["loss"] == pytest.approx(loss, rel=1e-4, abs=1e-7), "the loss differs from eq. (1)'s write-out"
        for (i, t), g in grad.items():
            why = f"eq. (1)'s gradient, its beta x eq. (2) term in, at token {i, t}"
            assert u["grad"][i][t] == pytest.approx(g, rel=1e-3, abs=1e-9), why
    assert f"{w['updates'][1]['loss']:+.6f}" in w["markdown"]


def test_old_and_ref_logprobs_by_a_plain_float64_forward(worked):
    w, before, after, tok = worked
    m64 = copy.deepcopy(before).double().eval()
    prompt = tok.encode(r1_zero_prompt(w["question"]), allow_special=True)
    for i in range(CFG.G):
        out = [t for t, k in zip(w["tokens"][i], w["mask"][i]) if k]
        with torch.no_grad():
            logits = m64(torch.tensor([prompt + out]))[0]  # [P + |o_i|, V]
        logp = torch.log_softmax(logits, -1)
        for t, tok_id in enumerate(out):
            want = logp[len(prompt) + t - 1, tok_id].item()  # predicted from the position before it
            why = "the walkthrough's log-probs are not a float64 forward of Table 1's prompt + o_i"
            assert w["ref_logp"][i][t] == pytest.approx(want, abs=2e-4), f"log pi_ref: {why}"  # the model before
            assert w["old_logp"][i][t] == pytest.approx(want, abs=2e-4), f"log pi_old: {why}"  # the sampler's
    moved = max((a - b).abs().max().item() for a, b in zip(after.parameters(), before.parameters()))
    assert moved > 0  # the mu = 2 optimizer steps changed pi_theta


def test_page_has_the_glossary(worked):
    md = worked[0]["markdown"]
    for symbol in (
        "| q |",
        "| o_i |",
        "| o_it |",
        "| G |",
        "| B |",
        "| N |",
        "| T |",
        "| rho_it |",
        "| pi_theta |",
        "| pi_old |",
        "| pi_ref |",
        "| A_i |",
        "| epsilon |",
        "| beta |",
        "| mu |",
    ):
        assert symbol in md, symbol
