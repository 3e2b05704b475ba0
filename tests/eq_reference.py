"""GRPO's equations written out once each (section 2.2.1), in float64, shared by every test that needs one.

Each is a plain loop over one output's tokens with Python's own min, max and exp (or torch.exp on a 0-dim float64
tensor, so that autograd can differentiate it): no r1mini code, nothing vectorised, so an edit to r1mini/grpo.py
cannot change them. The check_* helpers compare what the code computed with them and, when they differ, say which
equation: `pytest -k eq1`, `-k eq2`, `-k eq3` select each equation's tests (docs/testing.md lists them).
"""

import math
import statistics

import torch


def _exp(x):
    return torch.exp(x) if isinstance(x, torch.Tensor) else math.exp(x)


def eq3_advantages(rewards: list[list[float]], scale_std: bool = True) -> list[list[float]]:
    """Eq. (3) per group: A_i = (r_i - mean(r_1..r_G)) / std(r_1..r_G), std the sample std (divide by G - 1);
    a group of equal rewards gets 0 (there is no spread to learn from); scale_std=False: only centred (Dr. GRPO)."""
    out = []
    for group in rewards:
        if max(group) == min(group):
            out.append([0.0] * len(group))
            continue
        mean, std = statistics.mean(group), statistics.stdev(group)
        out.append([(r - mean) / (std if scale_std else 1.0) for r in group])
    return out


def eq2_k3(logp, ref_logp, clamp: float = 20.0):
    """Eq. (2) for one token: pi_ref/pi_theta - log(pi_ref/pi_theta) - 1, with log(pi_ref/pi_theta) kept in
    [-clamp, clamp] (the code's guard against overflow; >= 0, and 0 exactly when pi_ref = pi_theta)."""
    x = ref_logp - logp  # log(pi_ref / pi_theta)
    x = min(max(x, -clamp), clamp)
    return _exp(x) - x - 1


def eq1_token(logp, old_logp, ref_logp, A, eps_low: float, eps_high: float, beta: float, clamp: float = 20.0):
    """Eq. (1)'s term for one token o_it in DeepSeekMath's per-token form:
    min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) - beta * eq. (2), rho = pi_theta / pi_old."""
    rho = _exp(logp - old_logp)
    clipped = min(max(rho, 1 - eps_low), 1 + eps_high)
    term = min(rho * A, clipped * A)
    return term - beta * eq2_k3(logp, ref_logp, clamp) if beta else term


def eq1_aggregate(terms: list[list], agg: str, max_new_tokens: int):
    """Eq. (1)'s sums over the batch's outputs, given each output's per-token terms (its real tokens only):
    seq_mean = 1/N sum_i 1/|o_i| sum_t (eq. 1: 1/G per question, averaged over questions), token_mean = one mean over
    all tokens (DAPO), constant = sum / (N max_new_tokens) (Dr. GRPO)."""
    N = len(terms)
    if agg == "seq_mean":
        return sum(sum(t) / len(t) for t in terms) / N
    if agg == "token_mean":
        return sum(sum(t) for t in terms) / sum(len(t) for t in terms)
    assert agg == "constant", agg
    return sum(sum(t) for t in terms) / (N * max_new_tokens)


def eq1_weights(lengths: list[int], agg: str, max_new_tokens: int) -> list[float]:
    """The weight eq. (1)'s aggregation gives each token of output i (the same for all its tokens)."""
    N, n_tokens = len(lengths), sum(lengths)
    if agg == "seq_mean":
        return [1 / (N * n) for n in lengths]
    if agg == "token_mean":
        return [1 / n_tokens for _ in lengths]
    return [1 / (N * max_new_tokens) for _ in lengths]


def _close(got, want, rel: float, abs_: float) -> bool:
    return len(got) == len(want) and all(math.isclose(g, w, rel_tol=rel, abs_tol=abs_) for g, w in zip(got, want))


def check_eq3(got, rewards, scale_std: bool = True, rel: float = 1e-6, abs_: float = 1e-6) -> None:
    """The advantages the code computed ([B * G] or [B][G], any float type) against eq. (3)'s write-out."""
    got = [float(a) for a in (got.reshape(-1).tolist() if isinstance(got, torch.Tensor) else got)]
    want = [a for group in eq3_advantages(rewards, scale_std) for a in group]
    assert _close(got, want, rel, abs_), f"advantages differ from eq. (3)'s write-out: got {got}, want {want}"


def check_eq1_weights(got, lengths: list[int], agg: str, max_new_tokens: int, rel: float = 1e-6) -> None:
    """token_weights' [N, T] against eq. (1)'s aggregation (loss_agg `agg`) for outputs of these lengths."""
    want = eq1_weights(lengths, agg, max_new_tokens)
    rows = got.tolist() if isinstance(got, torch.Tensor) else got
    for i, (row, n) in enumerate(zip(rows, lengths)):
        real, pad = row[:n], row[n:]
        assert _close(real, [want[i]] * n, rel, 0.0) and not any(pad), (
            f"token weights of output {i} differ from eq. (1)'s {agg} aggregation: got {row}, want {want[i]} x {n}"
        )
