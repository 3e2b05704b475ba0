"""Beside the GRPO update (r1mini/grpo.py): which rows it runs in which micro-batches, the counts the ranks share,
and the figures it logs. None of this is in the paper; it is how one update of eq. (1) runs on a device.

- Micro-batches (gradient accumulation): the update's questions split into groups of `micro_batch`, longest output
  first so that each is padded to its own longest output. The loss is normalised by the whole step's counts, so the
  micro-batches' gradients add up to the whole batch's.
- Ranks (torchrun, r1mini/engine/dist.py): every count that normalises the loss or a figure is summed over the
  ranks, so that N ranks make the update one process makes on all B questions. In one process nothing changes.
- Rows skipped: with beta = 0 a group whose G rewards are equal has A = 0 and no KL term, so its gradient is exactly
  0 and its rows are not run at all (DAPO drops such groups too); with beta > 0 their KL term still counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from r1mini.engine import dist


def longest_first(questions: torch.Tensor, longest: torch.Tensor) -> torch.Tensor:
    """The update's questions ordered by the length of their longest output, longest first (ties keep their order),
    so that consecutive micro-batches hold outputs of similar length and pad little. The loss is normalised by the
    whole step's counts, so the order changes the update only by float rounding.

    >>> longest_first(torch.tensor([0, 1, 2, 3]), torch.tensor([12, 80, 15, 75])).tolist()   # micro_batch 2
    [1, 3, 2, 0]
    """
    return questions[torch.argsort(longest, descending=True, stable=True)]


@dataclass
class UpdatePlan:
    """Which rows the update runs and in which micro-batches, with the whole step's counts (summed over ranks)."""

    micro: list  # this rank's micro-batches, each a tensor of question indices
    n_micro: int  # the most micro-batches of any rank (their all-reduces pair up)
    n_rows: int  # outputs in the whole step
    n_tokens: int  # output tokens in the whole step
    n_run: int  # outputs the update runs, whole step
    run_tokens: int  # tokens the update runs, whole step

    @classmethod
    def of(cls, rewards: torch.Tensor, mask: torch.Tensor, micro_batch: int, run_all: bool) -> UpdatePlan:
        """rewards [B, G] and mask [N, T] of this rank's rollout; run_all: run every group (beta > 0), else only the
        groups with reward spread; micro_batch: questions per micro-batch, 0 = all at once."""
        B, G = rewards.shape
        spread = rewards.max(1).values > rewards.min(1).values  # [B]
        run_q = (torch.arange(B) if run_all else spread.nonzero()[:, 0]).to(mask.device)
        if micro_batch and len(run_q):
            run_q = longest_first(run_q, mask.sum(1).view(B, G).max(1).values[run_q])
        micro = list(run_q.split(micro_batch or B)) if len(run_q) else []
        mine = [B * G, int(mask.sum()), len(run_q) * G, int(mask.reshape(B, -1)[run_q].sum())]
        n_rows, n_tokens, n_run, run_tokens, n_micro = (int(c) for c in dist.sum_max(mine, [len(micro)]))
        return cls(micro, n_micro, n_rows, n_tokens, n_run, run_tokens)

    def micro_batches(self, forward, mask: torch.Tensor, G: int, idle_args: tuple, precision):
        """(questions, their G rows, columns up to their longest output) of each of this rank's micro-batches.
        Under torchrun each backward but the last runs in DDP's no_sync, and a rank with fewer micro-batches joins
        the others' all-reduces with zero backwards through forward(*idle_args) (dist.micro_batches)."""
        for j in dist.micro_batches(forward, len(self.micro), self.n_micro, idle_args, precision):
            qs = self.micro[j]
            rs = (qs[:, None] * G + torch.arange(G, device=qs.device)).view(-1)  # their G rows each
            yield qs, rs, int(mask[rs].sum(1).max())  # columns past the longest of these rows carry no weight


class UpdateLog:
    """The update's figures: loss, the negative of eq. (1) (mean over the mu inner updates; about 0 at the first
    by construction, while its gradient is not); token means over the rows it ran of kl and clip_frac over all mu
    updates (the clip acts only from the second), and of entropy and logp_gap (|log pi_theta - the sampler's
    log pi_old|) at the first."""

    def __init__(self, mu: int, run_tokens: int):
        self.mu, self.run_tokens = mu, run_tokens
        self.sums = {"loss": 0.0, "kl": 0.0, "clip_frac": 0.0, "entropy": 0.0, "logp_gap": 0.0}
        self.grad_norm = 0.0  # mean over the mu inner updates, before the clip

    def add(self, inner: int, loss: float, st: dict, logp, ent, sampler_logp, m) -> None:
        self.sums["loss"] += loss / self.mu  # the micro-batches' losses add up to the batch's: mean over mu
        share = int(m.sum()) / self.run_tokens  # token share: figures are per-token means
        self.sums["kl"] += st["kl"] * share / self.mu
        self.sums["clip_frac"] += st["clip_frac"] * share / self.mu
        if inner == 0:
            self.sums["entropy"] += ent[m].mean().item() * share
            self.sums["logp_gap"] += (logp.detach() - sampler_logp)[m].abs().mean().item() * share

    def figures(self, ro, plan: UpdatePlan, G: int, step: int, lr: float, t_sample: float, t_train: float,
                A: torch.Tensor) -> dict:  # fmt: skip
        """The step's logged figures (ro: its grpo.Rollout), over the whole step (summed over ranks). A: the
        advantages the update was given, one per output [N] (GRPO) or per token [N, T] (PPO)."""
        lengths = ro.mask.sum(1).float()
        n_tokens = int(lengths.sum()) + int(ro.prompt_mask.sum())
        spread = ro.rewards.max(1).values > ro.rewards.min(1).values
        k = len(ro.parts)
        a = (A[:, None] if A.dim() == 1 else A).double() * ro.mask  # each real token's advantage, 0 on padding
        sums = [ro.rewards.sum(), *(v.sum() for v in ro.parts.values()), lengths.sum(), ro.truncated.sum()]
        sums += [a.sum(), (a * a).sum()]
        *tot, longest = dist.sum_max(sums + [spread.sum(), n_tokens, *self.sums.values()], [lengths.max()])
        reward, parts = tot[0], tot[1 : 1 + k]
        length, truncated, a_sum, a2_sum, n_spread, tokens, *means = tot[1 + k :]
        n_rows, n_out = plan.n_rows, max(1.0, plan.n_tokens)
        return {
            "step": step,
            "reward": reward / n_rows,
            **{f"reward_{k}": v / n_rows for k, v in zip(ro.parts, parts)},
            "response_len": length / n_rows,
            "response_len_max": longest,
            "truncated": truncated / n_rows,
            "zero_spread": 1 - n_spread / (n_rows // G),
            "trained_rows": plan.n_run / n_rows,  # share of the N outputs run through the update
            "adv_var": a2_sum / n_out - (a_sum / n_out) ** 2,  # variance of the advantages over the output tokens
            **dict(zip(self.sums, means)),
            "grad_norm": self.grad_norm,
            "lr": lr,
            "tokens_per_s": tokens / (t_sample + t_train),
            "sample_s": t_sample,
            "train_s": t_train,
            "_texts": dist.all_gather_lists(ro.texts),  # for the run's sample log, not for the metrics file
        }
