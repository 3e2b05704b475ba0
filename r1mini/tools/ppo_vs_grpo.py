"""Section 2.2.1 measured: GRPO beside PPO with a critic (r1mini/ppo.py), one cached base, same questions and seeds.

    python -m r1mini.tools.ppo_vs_grpo                          # quick preset, 2 seeds each (docs/ppo.md)
    python -m r1mini.tools.ppo_vs_grpo --json runs/ppo_vs_grpo.json
    python -m r1mini.tools.ppo_vs_grpo --preset smoke           # the plumbing in about a minute (CI runs it)

Each run is `python train_zero.py --algo grpo|ppo` at the preset (every other setting the same), one at a time so
that its seconds and memory are its own; runs are reused when the command starts again (a killed comparison
resumes). The report (report.md, curves.csv, curves.png with matplotlib, and --json) holds, per algorithm and
averaged over the seeds: held-out pass@1 and PPO's paired difference to GRPO with its standard error; pass@1 during
training against samples seen and against training seconds; trainable parameters and optimizer state (bytes); the
process's peak resident memory; seconds per step split into sampling, critic and policy; the variance of the
advantages each method feeds the policy; and the critic's explained variance at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from r1mini.engine.common import ConfigError, add_config_args, atomic_write_bytes, cli_main, config_from_args
from r1mini.engine.common import pick_preset, write_json
from r1mini.tools.ablate import ROOT, AblateConfig, Variant, run_all, run_dir
from r1mini.tools.compare import group_figures, load_runs, read_curves, read_json, read_metrics
from r1mini.toy.pretrain import ensure_base
from r1mini.zero import ZERO_PRESETS

ALGOS = ("grpo", "ppo")


@dataclass
class VersusConfig:
    zero_preset: str = "quick"  # train_zero.py preset both algorithms run (r1mini/zero.py)
    seeds: int = 2  # runs per algorithm, seeds 0 .. seeds - 1
    steps: int = 0  # RL steps of every run; 0 = the preset's
    base_root: str = "runs/base"  # folder of the cached base models
    runs_root: str = "runs/ppo_vs_grpo/runs"  # folder of the runs (their own: timed alone, never shared with --jobs)


VERSUS_PRESETS = {
    "smoke": VersusConfig(zero_preset="smoke", seeds=1, steps=12),
    "quick": VersusConfig(),
}


def run_figures(run: Path, preset_questions: int, G: int) -> dict:
    """One run's figures from its folder: summary.json, metrics.jsonl, curves.csv, eval_after.json."""
    summary, steps = read_json(run / "summary.json"), read_metrics(run / "metrics.jsonl")
    if not steps:
        raise ConfigError(f"{run} has no metrics.jsonl: not a finished train_zero run")
    mean = lambda key: statistics.fmean(s.get(key, 0.0) for s in steps)  # noqa: E731
    clock, seconds = 0.0, {}
    for s in steps:  # training seconds (sampling, critic, policy) up to each step, evaluations left out
        clock += s["sample_s"] + s["train_s"] + s.get("critic_s", 0.0)
        seconds[s["step"]] = clock
    curve = [{"step": int(c["step"]), "samples": int(c["step"]) * preset_questions * G,
              "seconds": seconds.get(int(c["step"])), "pass@1": c["pass@1"]}
             for c in read_curves(run / "curves.csv")]  # fmt: skip
    ev = [s["explained_var"] for s in steps if "explained_var" in s]
    n = max(1, len(ev) // 5)
    return {
        "heldout_pass@1": summary["after"]["heldout"]["pass@1"],
        "before_pass@1": summary["before"]["heldout"]["pass@1"],
        "seconds": sum(summary["seconds"].values()),
        "rl_seconds": summary["seconds"]["rl"],
        "trainable_params": summary["trainable_params"],
        "optimizer_state_bytes": summary["optimizer_state_bytes"],
        "peak_rss_mb": summary["peak_rss_mb"],
        "step_s": {"sampling": mean("sample_s"), "critic": mean("critic_s"), "policy": mean("train_s")},
        "adv_var": mean("adv_var"),
        "adv_var_raw": mean("adv_var_raw") if "adv_var_raw" in steps[0] else None,  # PPO's, before whitening
        "explained_var_first": statistics.fmean(ev[:n]) if ev else None,  # the first fifth of the steps
        "explained_var_last": statistics.fmean(ev[-n:]) if ev else None,  # the last fifth
        "curve": curve,
    }


def average(runs: list[dict]) -> dict:
    """The mean over seeds of every number (nested one level), the curves kept per seed."""
    out = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = {k: statistics.fmean(r[key][k] for r in runs) for k in value}
        elif isinstance(value, (int, float)) and all(r[key] is not None for r in runs):
            out[key] = statistics.fmean(r[key] for r in runs)
        elif key != "curve":
            out[key] = None
    out["seeds"] = [r["heldout_pass@1"] for r in runs]
    out["curves"] = [r["curve"] for r in runs]
    return out


def report(cfg: VersusConfig, figs: dict, diff: tuple, title: str) -> str:
    g, p = figs["grpo"], figs["ppo"]
    f = lambda x, fmt: "-" if x is None else format(x, fmt)  # noqa: E731
    ratio = lambda key: f"{p[key] / g[key]:.2f}x" if g[key] else ""  # noqa: E731
    rows = [  # (figure, its cell for one algorithm, the PPO / GRPO column)
        ("held-out pass@1 (mean over seeds)",
         lambda r: f"{r['heldout_pass@1']:.3f} (" + ", ".join(f"{x:.3f}" for x in r["seeds"]) + ")", ""),
        ("trainable parameters", lambda r: f"{r['trainable_params']:,.0f}", ratio("trainable_params")),
        ("optimizer state (MB)", lambda r: f"{r['optimizer_state_bytes'] / 2**20:.2f}", ratio("optimizer_state_bytes")),
        ("peak resident memory of the process (MB)", lambda r: f"{r['peak_rss_mb']:.0f}", ratio("peak_rss_mb")),
        ("seconds per step: sampling", lambda r: f"{r['step_s']['sampling']:.2f}", ""),
        ("seconds per step: critic", lambda r: f"{r['step_s']['critic']:.2f}", ""),
        ("seconds per step: policy", lambda r: f"{r['step_s']['policy']:.2f}", ""),
        ("RL seconds in all", lambda r: f"{r['rl_seconds']:.0f}", ratio("rl_seconds")),
        ("variance of the advantages fed to the policy (per token)", lambda r: f"{r['adv_var']:.3f}", ""),
        ("the same before whitening (PPO)", lambda r: f(r["adv_var_raw"], ".4f"), ""),
        ("critic's explained variance, first / last fifth of the steps",
         lambda r: f"{f(r['explained_var_first'], '.2f')} / {f(r['explained_var_last'], '.2f')}", ""),
    ]  # fmt: skip
    step = lambda r: sum(r["step_s"].values())  # noqa: E731
    lines = [f"# {title}", "", "| | GRPO | PPO | PPO / GRPO |", "|---|---|---|---|"]
    lines += [f"| {name} | {cell(g)} | {cell(p)} | {r} |" for name, cell, r in rows]
    d, se = diff
    verdict = "beyond" if abs(d) > 2 * se else "within"
    lines += ["", f"Seconds per step in all: GRPO {step(g):.2f}, PPO {step(p):.2f} ({step(p) / step(g):.2f}x).",
              f"PPO - GRPO held-out pass@1, paired over the same questions and seeds: {d:+.3f} (s.e. {se:.3f}): "
              f"{verdict} two standard errors.", "",
              "## Held-out pass@1 during training", "",
              "| step | samples seen | GRPO pass@1 | GRPO seconds | PPO pass@1 | PPO seconds |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for i, point in enumerate(g["curves"][0]):
        cells = []
        for r in (g, p):
            pts = [c[i] for c in r["curves"] if i < len(c)]
            secs = statistics.fmean(c["seconds"] for c in pts) if all(c["seconds"] for c in pts) else None
            cells += [f"{statistics.fmean(c['pass@1'] for c in pts):.3f}", f(secs, ".0f")]
        lines.append(f"| {point['step']} | {point['samples']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(figs: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, algo in enumerate(ALGOS):
        for j, curve in enumerate(figs[algo]["curves"]):
            label = algo.upper() if j == 0 else None
            p1 = [c["pass@1"] for c in curve]
            ax[0].plot([c["samples"] for c in curve], p1, color=f"C{i}", marker="o", label=label)
            ax[1].plot([c["seconds"] for c in curve], p1, color=f"C{i}", marker="o")
    ax[0].set(xlabel="samples seen", ylabel="held-out pass@1", title="against samples")
    ax[1].set(xlabel="training seconds (sampling + critic + policy)", ylabel="held-out pass@1", title="against time")
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def versus(cfg: VersusConfig, out: Path, quiet: bool = False) -> dict:
    """Run (or reuse) both algorithms' runs and write the report; returns the JSON's content."""
    zero = pick_preset(ZERO_PRESETS, cfg.zero_preset, "train_zero preset")
    if cfg.seeds < 1 or cfg.steps < 0:
        raise ConfigError("need seeds >= 1 and steps >= 0")
    acfg = AblateConfig(zero_preset=cfg.zero_preset, seeds=cfg.seeds, jobs=1, steps=cfg.steps,
                        base_root=cfg.base_root, runs_root=cfg.runs_root)  # fmt: skip
    variants = [Variant(a, {"algo": a}, ROOT / "train_zero.py") for a in ALGOS]
    ensure_base(zero.base, quiet=quiet, out_root=cfg.base_root)  # once, before the runs
    run_all(variants, acfg, quiet)
    dirs = {v.name: [run_dir(v, s, acfg) for s in range(cfg.seeds)] for v in variants}
    figs = {a: average([run_figures(d, zero.grpo.questions, zero.grpo.G) for d in dirs[a]]) for a in ALGOS}
    groups = {a: [r for d in dirs[a] for r in load_runs(d, a)] for a in ALGOS}
    paired = group_figures(groups["ppo"], groups["grpo"])
    diff = (paired["diff"], paired["diff_se"]) if paired["diff"] is not None else (0.0, 0.0)
    title = f"GRPO and PPO: train_zero.py --preset {cfg.zero_preset}, {cfg.seeds} seed(s) each"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "report.md", report(cfg, figs, diff, title).encode())
    rows = ["algo,seed,step,samples,seconds,heldout_pass@1"]
    rows += [f"{a},{s},{c['step']},{c['samples']},{c['seconds']},{c['pass@1']}"
             for a in ALGOS for s, curve in enumerate(figs[a]["curves"]) for c in curve]  # fmt: skip
    atomic_write_bytes(out / "curves.csv", ("\n".join(rows) + "\n").encode())
    plot(figs, out / "curves.png")
    return {"runs": figs, "ppo_minus_grpo": {"pass@1": diff[0], "se": diff[1]}, "config": vars(cfg)}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m r1mini.tools.ppo_vs_grpo", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="quick", help=f"one of {list(VERSUS_PRESETS)}")
    p.add_argument("--out", default=None, help="folder of the report (default: runs/ppo_vs_grpo/<preset>)")
    p.add_argument("--json", default=None, metavar="PATH", help='also write {"runs": {"grpo": ..., "ppo": ...}} here')
    add_config_args(p, VersusConfig)
    args = p.parse_args()
    cfg = config_from_args(pick_preset(VERSUS_PRESETS, args.preset, "ppo_vs_grpo preset"), args)
    out = Path(args.out) if args.out else Path("runs/ppo_vs_grpo") / args.preset
    result = versus(cfg, out)
    if args.json:
        write_json(result, args.json)
    print((out / "report.md").read_text())
    print(f"report, curves.csv (and curves.png with matplotlib) in {out}")


if __name__ == "__main__":
    cli_main(main)
