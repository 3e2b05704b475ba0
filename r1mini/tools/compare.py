"""Set runs side by side: held-out pass@1 with paired differences, length, reflection, KL, clip, wall time, curves.

    python -m r1mini.tools.compare runs/zero/A runs/zero/B            # two train_zero runs
    python -m r1mini.tools.compare runs/r1/RUN runs/zero/MINE         # every stage of an R1 run beside your run
    python -m r1mini.tools.compare runs/distill/RUN --out runs/cmp    # also writes comparison.md / .csv, curves

A run folder is a train_zero.py run (eval_after.json, metrics.jsonl, curves.csv), a stage of train_r1.py or a row
of distill.py (eval.json, done.json, metrics.jsonl for an RL stage), or a train_r1.py / distill.py run, which
stands for all its finished stages or rows. Each becomes one row of the table; r1mini/tools/ablate.py groups the
seeds of one variant into one row. The first row is the reference: every other row's pass@1 is paired with it over
the same held-out questions (section 3's paired difference, metrics.paired_difference), pooled over seeds.

Columns: held-out pass@1 (mean over seeds, with their min and max), the paired difference to the first row and its
standard error, mean response length (tokens) and the share of responses that reflect (held-out, after training),
KL to pi_ref and clip fraction (means over the RL steps' metrics.jsonl), the share of groups with no reward spread
(mean over steps), and wall seconds (the run's summary.json or done.json). A figure a run does not have is "-".
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from r1mini.engine.common import ConfigError, atomic_write_bytes, cli_main
from r1mini.metrics import paired_difference


@dataclass
class Run:
    """One trained model's figures, read from its folder."""

    name: str
    heldout: dict  # evaluate_problems' result on the held-out set: "all", "per_question", "questions"
    steps: list = field(default_factory=list)  # metrics.jsonl rows (RL runs)
    curve: list = field(default_factory=list)  # held-out curve points: {"step", "pass@1", "length", ...}
    seconds: float | None = None


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None


def read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a half-written last line of a killed run
            continue
    return rows


def read_curves(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(path.read_text()))]


def load_runs(path: str | Path, name: str | None = None) -> list[Run]:
    """The Run(s) a folder holds (see the module docstring); ConfigError for anything else."""
    path = Path(path)
    name = name or path.as_posix()
    if (path / "eval_after.json").is_file():  # a train_zero.py run
        ev = read_json(path / "eval_after.json")
        summary = read_json(path / "summary.json") if (path / "summary.json").is_file() else {}
        seconds = sum(summary["seconds"].values()) if "seconds" in summary else None
        steps, curve = read_metrics(path / "metrics.jsonl"), read_curves(path / "curves.csv")
        return [Run(name, ev["heldout"], steps, curve, seconds)]
    if (path / "eval.json").is_file() and (path / "done.json").is_file():  # a train_r1 stage or a distill row
        ev, done = read_json(path / "eval.json"), read_json(path / "done.json")
        seconds = done.get("seconds")
        return [Run(name, ev["reasoning"]["heldout"], read_metrics(path / "metrics.jsonl"), [], seconds)]
    inner = sorted(p for p in path.glob("*/done.json")) + sorted(p for p in path.glob("*/*/done.json"))
    if inner:  # a train_r1.py or distill.py run: its finished stages or rows
        return [r for d in inner for r in load_runs(d.parent, f"{name}/{d.parent.relative_to(path).as_posix()}")]
    raise ConfigError(f"{path} is not a run folder of train_zero.py, train_r1.py or distill.py (no eval file found)")


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else None


def group_figures(runs: list[Run], reference: list[Run] | None) -> dict:
    """The table's figures of one group of runs (a variant's seeds); reference: the first group, paired with this
    one seed by seed (runs in the same order) over the same held-out questions."""
    p1 = [r.heldout["all"]["pass@1"] for r in runs]
    out = {
        "runs": len(runs),
        "pass@1": _mean(p1),
        "pass@1_min": min(p1),
        "pass@1_max": max(p1),
        "length": _mean(r.heldout["all"].get("length") for r in runs),
        "reflective": _mean(r.heldout["all"].get("reflective") for r in runs),
        "kl": _mean(_mean(s.get("kl") for s in r.steps) for r in runs),
        "clip_frac": _mean(_mean(s.get("clip_frac") for s in r.steps) for r in runs),
        "zero_spread": _mean(_mean(s.get("zero_spread") for s in r.steps) for r in runs),
        "seconds": _mean(r.seconds for r in runs),
        "diff": None,
        "diff_se": None,
    }
    if reference is not None:
        a, b = [], []  # per-question pass rates, pooled over the paired seeds
        for run, ref in zip(runs, reference):
            if run.heldout.get("questions") != ref.heldout.get("questions") or "per_question" not in run.heldout:
                raise ConfigError(f"{run.name} and {ref.name} were not evaluated on the same held-out questions")
            a += run.heldout["per_question"]
            b += ref.heldout["per_question"]
        if len(a) > 1:
            out["diff"], out["diff_se"] = paired_difference(a, b)
    return out


COLUMNS = ("pass@1", "diff", "length", "reflective", "kl", "clip_frac", "zero_spread", "seconds")


def table(groups: dict[str, list[Run]]) -> tuple[list[str], list[dict]]:
    """Markdown lines and the figures of each group; the first group is the reference."""
    names = list(groups)
    figs = [group_figures(groups[n], None if i == 0 else groups[names[0]]) for i, n in enumerate(names)]
    lines = [
        "| run | n | held-out pass@1 (min-max) | - first (s.e.) | length | reflect | KL | clip | no spread | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    for i, (name, g) in enumerate(zip(names, figs)):
        many = g["runs"] > 1
        p1 = f"{g['pass@1']:.3f} ({g['pass@1_min']:.3f}-{g['pass@1_max']:.3f})" if many else f(g["pass@1"], ".3f")
        diff = "(reference)" if i == 0 else "-" if g["diff"] is None else f"{g['diff']:+.3f} ({g['diff_se']:.3f})"
        cells = [name, str(g["runs"]), p1, diff, f(g["length"], ".1f"), f(g["reflective"], ".3f"), f(g["kl"], ".4f"),
                 f(g["clip_frac"], ".3f"), f(g["zero_spread"], ".3f"), f(g["seconds"], ".0f")]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines, [{"run": n, **g} for n, g in zip(names, figs)]


def write(groups: dict[str, list[Run]], out: Path, title: str = "Comparison") -> str:
    """comparison.md, comparison.csv, curves.csv (and curves.png when matplotlib is installed) in `out`."""
    lines, figs = table(groups)
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join([f"# {title}", "", *lines, ""]) + "\n"
    atomic_write_bytes(out / "comparison.md", text.encode())
    cols = ["run", "runs", *COLUMNS, "diff_se", "pass@1_min", "pass@1_max"]
    rows = [",".join(cols)] + [",".join("" if g[c] is None else str(g[c]) for c in cols) for g in figs]
    atomic_write_bytes(out / "comparison.csv", ("\n".join(rows) + "\n").encode())
    curve_rows = ["group,run,step,heldout_pass@1,train_reward"]
    for gname, runs in groups.items():
        for r in runs:
            held = {int(c["step"]): c["pass@1"] for c in r.curve}
            reward = {int(s["step"]): s["reward"] for s in r.steps if "reward" in s}
            for step in sorted(set(held) | set(reward)):
                curve_rows.append(f"{gname},{r.name},{step},{held.get(step, '')},{reward.get(step, '')}")
    atomic_write_bytes(out / "curves.csv", ("\n".join(curve_rows) + "\n").encode())
    plot(groups, out / "curves.png")
    return text


def plot(groups: dict[str, list[Run]], path: Path) -> bool:
    """Held-out pass@1 and training reward against the RL step, one colour per group; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (gname, runs) in enumerate(groups.items()):
        for j, r in enumerate(runs):
            label = gname if j == 0 else None
            if r.curve:
                ax[0].plot([c["step"] for c in r.curve], [c["pass@1"] for c in r.curve], color=f"C{i}", label=label)
            if r.steps:
                ax[1].plot([s["step"] for s in r.steps], [s["reward"] for s in r.steps], color=f"C{i}", alpha=0.6)
    ax[0].set(xlabel="RL step", ylabel="held-out pass@1", title="accuracy during RL (Fig. 2 analog)")
    ax[1].set(xlabel="RL step", ylabel="mean reward of the step's samples", title="training reward")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m r1mini.tools.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run folders; the first is the reference of the paired differences")
    p.add_argument("--out", default=None, help="also write comparison.md, comparison.csv, curves.csv (and .png) here")
    args = p.parse_args()
    groups = {}
    for path in args.runs:
        for run in load_runs(path):
            groups[run.name] = [run]
    lines, _ = table(groups)
    print("\n".join(lines))
    if args.out:
        write(groups, Path(args.out))
        print(f"wrote {args.out}/comparison.md, comparison.csv, curves.csv")


if __name__ == "__main__":
    cli_main(main)
