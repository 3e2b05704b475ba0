"""DeepSeek-R1-Zero (sections 2.2.1-2.2.4): pure RL on the base model, no SFT.

    python train_zero.py                  # picks the `gpu` preset on a GPU, else `cpu` (~10 min on 2 cores)
    python train_zero.py --preset smoke   # ~20 s on a CPU; CI runs it as a test
    python train_zero.py --algo ppo       # PPO with a critic instead of GRPO (r1mini/ppo.py, docs/ppo.md)
    python train_zero.py --preset aha     # Table 3's "aha": countdown, a base with reflective behaviours; controls:
                                          # --preset aha_plain / aha_wrong / aha_drgrpo (docs/r1_zero.md)
    python train_zero.py --resume runs/zero/cpu-YYYYMMDD-HHMMSS               # continue a killed run
    python train_zero.py --resume runs/zero/cpu-YYYYMMDD-HHMMSS --steps 200   # extend a run to 200 steps
    python train_zero.py --help           # every ZeroConfig / GRPOConfig field is a flag, with its help
    python train_zero.py --estimate       # the cost model's minutes per phase, on an H100 and on this CPU (docs/gpu.md)
    python train_zero.py --dry-run        # every phase for a step at full size on this device; writes nothing
    torchrun --nproc_per_node=8 train_zero.py --preset gpu   # 8 GPUs: each samples and trains 1/8 of every step

`--resume` keeps the run's saved config.json; only `--steps` may change with it (the run continues to the
new count and config.json is rewritten); any other config flag is refused with one line.
Checked by tests/test_train_zero.py (smoke run, kill and resume) and tests/test_cli.py (flags, --resume).
Under torchrun (r1mini/engine/dist.py, docs/gpu.md) the ranks share every GRPO step and evaluation and rank 0 alone
writes the run folder; `--resume` works the same way (tests/test_distributed.py).

What it does, in the paper's order:
1. base model (2.2, "DeepSeek-V3-Base"): reuse the cached base of the preset, or pretrain it (r1mini/toy/pretrain.py);
2. evaluate it under the R1-Zero template (Table 1, r1mini/template.py) with pass@1 over k samples (section 3);
3. GRPO (2.2.1, r1mini/grpo.py) with only the rule-based accuracy and format rewards (2.2.2, r1mini/rewards.py),
   evaluating held-out pass@1 and response length every few steps: the Figure 2 and Figure 3 analogs (2.2.4);
4. evaluate again, and write a Table 2-style before/after report with "aha" examples (Table 3 analog).

Everything goes into one run folder: config.json (resolved), metrics.jsonl (one line per RL step), summary.json,
curves.csv (+ curves.png if matplotlib happens to be installed), samples.jsonl, eval_before.json,
eval_after.json, report.md, model.pt (the final policy) and ckpt.pt (the latest resumable state,
written atomically; a resumed CPU run reproduces the uninterrupted one step for step).
Every metrics.jsonl line carries the share of the step's responses that reflect (`reflect`, and by kind
`reflect_verify`, `reflect_backtrack`, `reflect_correct`: metrics.reflects), and every curve point the same on the
held-out problems beside accuracy and length; with reflection_eval (the aha presets) also
reflection_before.json / reflection_after.json and a reflection table in report.md (r1mini/reflection.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from tqdm import tqdm

from r1mini.engine import dist
from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    add_plan_args,
    atomic_save,
    atomic_write_bytes,
    cli_main,
    command_line,
    config_from_args,
    get_device,
    load_checkpoint,
    peak_rss_mb,
    pick_preset,
    resume_overrides,
    rng_state,
    set_rng_state,
    set_seed,
    write_json,
)
from r1mini.engine.model import load_model, model_state
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.evaluate import EvalConfig, eval_sets, evaluate_problems, format_table, zero_prompt
from r1mini.grpo import GRPOConfig
from r1mini.ppo import PPOConfig
from r1mini.reflection import batch_reflection, curve_point, eval_reflection, reflection_table, tries_table
from r1mini.toy.pretrain import ensure_base
from r1mini.zero import ZERO_PRESETS, ZeroConfig, footprint, make_trainer, problems_for_step


def reflection_eval(cfg: ZeroConfig, model, tok, problems, k: int) -> dict:
    """The reflection figures of k samples per problem, the samples run_eval would draw (r1mini/reflection.py)."""
    return eval_reflection(model, tok, problems, k, cfg.grpo.max_new_tokens, cfg.grpo.seed)


def run_eval(model, tok, problems_by_set: dict, k: int, cfg: ZeroConfig) -> dict:
    ecfg = EvalConfig(k=k, max_new_tokens=cfg.grpo.max_new_tokens, seed=cfg.grpo.seed)
    return {
        name: evaluate_problems(model, tok, probs, ecfg, prompt_fn=zero_prompt)
        for name, probs in problems_by_set.items()
    }


# ----------------------------------------------------------------------------- run folder


def write_curves(run: Path, curve: list[dict]) -> None:
    """curves.csv always; curves.png only if matplotlib happens to be installed. Rank 0 only under torchrun."""
    if not curve or not dist.is_main():
        return
    cols = list(curve[0])
    lines = [",".join(cols)] + [
        ",".join(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in cols) for row in curve
    ]
    atomic_write_bytes(run / "curves.csv", ("\n".join(lines) + "\n").encode())
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    panels = 3 if "reflect" in curve[0] else 2
    fig, ax = plt.subplots(1, panels, figsize=(5 * panels, 3.5))
    steps = [r["step"] for r in curve]
    if panels == 3:  # Table 3: reflection beside accuracy and length
        for key, label in (
            ("reflect", "any"),
            ("verify", "verify"),
            ("backtrack", "backtrack"),
            ("correct", "correct"),
        ):
            ax[2].plot(steps, [r[key] for r in curve], marker="o" if key == "reflect" else None, label=label)
        ax[2].set(xlabel="RL step", ylabel="share of held-out responses", title="Reflection (metrics.reflects)")
        ax[2].legend()
    ax[0].plot(steps, [r["pass@1"] for r in curve], marker="o")
    ax[0].set(xlabel="RL step", ylabel="held-out pass@1", title="Fig. 2 analog: accuracy during RL")
    ax[1].plot(steps, [r["length"] for r in curve], marker="o", color="C1")
    ax[1].set(xlabel="RL step", ylabel="mean response length (tokens)", title="Fig. 3 analog: response length")
    fig.tight_layout()
    fig.savefig(run / "curves.png", dpi=100)
    plt.close(fig)


def write_report(
    run: Path, cfg: ZeroConfig, before: dict, after: dict, times: dict, curve: list[dict], aha: list[dict]
) -> str:
    k = cfg.final_k
    keys = ["pass@1", f"cons@{k}", f"pass@{k}", "greedy", "format", "length", "worked", "reflective", "mixed_lang"]
    lines = [
        "# R1-Zero run report",
        "",
        f"Command: `{command_line()}`  ",
        f"Device: {get_device(cfg.device)}; RL steps: {cfg.grpo.steps}; B x G = {cfg.grpo.questions} x {cfg.grpo.G}; "
        f"task mix `{cfg.mix}`",
        "",
        f"## Table 2 analog: before and after RL (pass@1 over k={k} samples at T=0.6, top-p 0.95)",
        "",
        "| set | when | " + " | ".join(keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for name in before:
        for when, res in (("base", before), ("R1-Zero", after)):
            s = res[name]["all"]
            lines.append(
                f"| {name} | {when} | "
                + " | ".join(f"{s[c]:.3f}" if c != "length" else f"{s[c]:.1f}" for c in keys)
                + " |"
            )
    lines += ["", "Wall time per phase (s): " + ", ".join(f"{k}: {v:.0f}" for k, v in times.items()), ""]
    if curve:
        lines += [
            "## Fig. 2 / Fig. 3 analogs (held-out, during RL)",
            "",
            "| step | pass@1 | length | reflective |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r['step']} | {r['pass@1']:.3f} | {r['length']:.1f} | {r['reflective']:.3f} |" for r in curve]
        lines.append("")
    lines += ["## 'Aha' examples: responses that reflect and end correct", ""]
    lines += [f"**Q:** {a['question']}  \n**A:** `{a['response']}`\n" for a in aha] or ["(none found)"]
    text = "\n".join(lines) + "\n"
    if dist.is_main():
        atomic_write_bytes(run / "report.md", text.encode())
    return text


# ----------------------------------------------------------------------------- main loop


def train(cfg: ZeroConfig, run: Path, resume: bool = False, quiet: bool = False) -> dict:
    """The whole run. Under torchrun every rank runs it (the trainer and the evaluations share the work out,
    r1mini/engine/dist.py) and rank 0 alone writes files, prints and shows the bar."""
    main = dist.is_main()
    quiet = quiet or not main
    device = dist.device(cfg.device)
    tok = get_tokenizer()
    times = {}
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "ckpt.pt"
    ck = (
        load_checkpoint(ckpt_path, keys=("trainer", "rng"), what="a train_zero checkpoint")
        if resume and ckpt_path.is_file()
        else None
    )
    if ck is not None and ck["trainer"]["step_idx"] > cfg.grpo.steps:
        raise ConfigError(
            f"{run} has done {ck['trainer']['step_idx']} steps; --steps must be at least that, got {cfg.grpo.steps}"
        )
    if main:
        write_json(dataclasses.asdict(cfg), run / "config.json")  # on a resume with a new --steps: the new count
    set_seed(cfg.grpo.seed)

    t0 = time.time()
    base_path = ensure_base(cfg.base, quiet=quiet, out_root=cfg.base_root)
    times["base"] = time.time() - t0
    policy, _ = load_model(base_path, device)
    trainer = make_trainer(cfg, policy, tok, zero_prompt)  # GRPO, or PPO with a critic (--algo ppo)

    eval_problems = eval_sets(["heldout"] + [b for b in cfg.benchmarks.split(",") if b], cfg.mix, cfg.final_n)
    curve_problems = {"heldout": eval_problems["heldout"][: cfg.curve_n]}
    curve: list[dict] = []
    if ck is not None:
        trainer.load_state_dict(ck["trainer"])
        set_rng_state(ck["rng"])
        curve, before, times = ck["curve"], ck["before"], ck["times"]
        _drop_lines_after(run / "metrics.jsonl", trainer.step_idx)  # "step" counts updates done: 1..n
        _drop_lines_after(run / "samples.jsonl", trainer.step_idx - 1)  # "step" counts updates before: 0..n-1
        if not quiet:
            print(f"resumed {run} at step {trainer.step_idx}")
    else:
        t0 = time.time()
        before = run_eval(policy, tok, eval_problems, cfg.final_k, cfg)
        times["eval_before"] = time.time() - t0
        for p in (run / "metrics.jsonl", run / "samples.jsonl") if main else ():
            p.unlink(missing_ok=True)
        if main:
            write_json(before, run / "eval_before.json")
        if cfg.reflection_eval:  # the base's reflection figures, and the curve's step 0
            refl_before = reflection_eval(
                cfg, policy, tok, eval_problems["heldout"], cfg.final_k
            )  # on every rank: a shared evaluation
            if main:
                write_json(refl_before, run / "reflection_before.json")
            curve.append(curve_point(0, reflection_eval(cfg, policy, tok, curve_problems["heldout"], cfg.curve_k)))
        if not quiet:
            print("base model:\n" + format_table(before, cfg.final_k))

    t0 = time.time() - times.get("rl", 0.0)
    bar = tqdm(
        range(trainer.step_idx, cfg.grpo.steps),
        desc=f"R1-Zero {cfg.algo.upper()}",
        initial=trainer.step_idx,
        total=cfg.grpo.steps,
        disable=quiet,
    )
    for step in bar:
        stats = trainer.step(problems_for_step(cfg, step))
        texts = stats.pop("_texts")
        stats.update(batch_reflection(texts))  # the share of the batch that reflects, by kind (Table 3)
        if cfg.eval_every and (step + 1) % cfg.eval_every == 0:
            s = curve_point(step + 1, reflection_eval(cfg, policy, tok, curve_problems["heldout"], cfg.curve_k))
            curve.append(s)  # the samples evaluate_problems would draw, with the reflection figures
            stats["heldout_pass@1"] = s["pass@1"]
            write_curves(run, curve)
        if main:
            with open(run / "metrics.jsonl", "a") as f:
                f.write(json.dumps(stats) + "\n")
        if main and cfg.sample_every and step % cfg.sample_every == 0:
            with open(run / "samples.jsonl", "a") as f:
                f.write(json.dumps({"step": step, "responses": texts[:: cfg.grpo.G][:4]}, ensure_ascii=False) + "\n")
        bar.set_postfix(
            reward=f"{stats['reward']:.2f}",
            acc=f"{stats['reward_accuracy']:.2f}",
            len=f"{stats['response_len']:.0f}",
            ent=f"{stats['entropy']:.3f}",
            **({"kl": f"{stats['kl']:.3f}"} if cfg.grpo.beta else {}),
            **({"ev": f"{stats['explained_var']:.2f}"} if "explained_var" in stats else {}),
            tok_s=f"{stats['tokens_per_s']:,.0f}",
        )
        if main and ((step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.grpo.steps):
            times["rl"] = time.time() - t0
            atomic_save(
                {
                    "trainer": trainer.state_dict(),
                    "rng": rng_state(),
                    "curve": curve,
                    "before": before,
                    "times": times,
                    "config": dataclasses.asdict(cfg),
                },
                ckpt_path,
            )
    times["rl"] = time.time() - t0

    t0 = time.time()
    after = run_eval(policy, tok, eval_problems, cfg.final_k, cfg)
    times["eval_after"] = time.time() - t0
    if main:
        write_json(after, run / "eval_after.json")
        atomic_save(model_state(policy), run / "model.pt")
    write_curves(run, curve)
    aha = [ex for res in after.values() for ex in res["aha"]][:3]
    report = write_report(run, cfg, before, after, times, curve, aha)
    if cfg.reflection_eval:  # the reflection figures before and after, and real self-corrections
        refl_before = json.loads((run / "reflection_before.json").read_text())
        refl_after = reflection_eval(cfg, policy, tok, eval_problems["heldout"], cfg.final_k)
        if main:
            write_json(refl_after, run / "reflection_after.json")
        lines = [
            "## Reflection (metrics.reflects; r1mini/reflection.py)",
            "",
            *reflection_table(refl_before, refl_after),
            "",
            *tries_table(refl_before, refl_after),
            "",
            "Self-corrections that end right (reflects() == 'correct'), after RL:",
            "",
        ]
        lines += [f"**Q:** {a['question']}  \n**A:** `{a['response']}`\n" for a in refl_after["aha"][:3]] or [
            "(none found)"
        ]
        report += "\n" + "\n".join(lines) + "\n"
        if main:
            atomic_write_bytes(run / "report.md", report.encode())
    if not quiet:
        print(report)
    cols = ("pass@1", f"cons@{cfg.final_k}", "format", "length", "reflective", "mixed_lang")
    pick = lambda res: {n: {c: r["all"][c] for c in cols} for n, r in res.items()}  # noqa: E731
    summary = {"run": str(run), "algo": cfg.algo, "before": pick(before), "after": pick(after), "seconds": times,
               "curve": curve, **footprint(trainer), "peak_rss_mb": peak_rss_mb()}  # fmt: skip
    if main:
        write_json(summary, run / "summary.json")  # the figures and seconds per phase (r1mini/tools/compare.py)
    return summary


def _drop_lines_after(path: Path, last_step: int) -> None:
    """Drop JSONL lines of steps after the checkpoint we resume from (a killed run may have written some)."""
    if not path.is_file() or not dist.is_main():
        return
    keep = []
    for line in path.read_text().splitlines(keepends=True):
        try:
            if json.loads(line)["step"] <= last_step:
                keep.append(line)
        except (ValueError, KeyError):  # half a line, cut by the kill
            pass
    atomic_write_bytes(path, "".join(keep).encode())


def load_run_config(run: Path) -> ZeroConfig:
    """The resolved config a run folder was started with (its config.json)."""
    if not (run / "config.json").is_file():
        raise ConfigError(f"{run} is not a train_zero run folder (no config.json)")
    saved = json.loads((run / "config.json").read_text())
    return ZeroConfig(**{**saved, "grpo": GRPOConfig(**saved["grpo"]), "ppo": PPOConfig(**saved.get("ppo", {}))})


def main() -> None:
    p = argparse.ArgumentParser(description="DeepSeek-R1-Zero on toy arithmetic: pure GRPO on the base model.")
    p.add_argument("--preset", default=None, help=f"one of {list(ZERO_PRESETS)} (default: gpu on a GPU, else cpu)")
    p.add_argument("--out", default=None, help="run folder (default: runs/zero/<preset>-<time>)")
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue a run from its last checkpoint with its saved config; only --steps may be given "
        "with it (a larger --steps extends a finished run)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="write the before/after figures here")
    add_plan_args(p)  # --estimate, --dry-run (r1mini/tools/plans.py)
    add_config_args(p, ZeroConfig)
    add_config_args(p, GRPOConfig)
    add_config_args(p, PPOConfig)
    args = p.parse_args()
    dist.init()  # under torchrun: join the other processes (nothing otherwise)

    if args.resume:
        run = Path(args.resume)
        changes = resume_overrides(args, allowed=("steps",), others=("preset", "out"))  # one line for any other flag
        cfg = load_run_config(run)
        if changes:  # extend (or shorten) the run: train() checks the new step count against the checkpoint
            cfg = dataclasses.replace(cfg, grpo=dataclasses.replace(cfg.grpo, **changes))
            cfg.validate()
    else:
        preset = args.preset or ("gpu" if get_device().type == "cuda" else "cpu")
        base = pick_preset(ZERO_PRESETS, preset)
        cfg = dataclasses.replace(config_from_args(base, args), grpo=config_from_args(base.grpo, args),
                                  ppo=config_from_args(base.ppo, args))  # fmt: skip
        cfg.validate()
        run = Path(args.out) if args.out else Path("runs/zero") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
        run = Path(dist.broadcast(str(run)))  # rank 0's folder name (the clocks of the ranks may straddle a second)
    if args.estimate or args.dry_run:  # r1mini/tools/plans.py: the phases of this config, priced or run for a step
        if cfg.algo != "grpo":
            raise ConfigError("--estimate and --dry-run price GRPO's phases only: PPO's critic is not in the model")
        from r1mini.tools.plans import run_plan, zero_plan

        run_plan(
            zero_plan(cfg, "train_zero.py" + (f" --preset {args.preset}" if args.preset else "")), dry=args.dry_run
        )
        return
    summary = train(cfg, run, resume=bool(args.resume))
    if args.json and dist.is_main():
        write_json(summary, args.json)
    dist.close()


if __name__ == "__main__":
    cli_main(main)
