"""DeepSeek-R1 (section 2.3 of arXiv 2501.12948 v1): the four stages after R1-Zero, end to end.

    python train_r1.py                       # the cpu preset: ~15 min on 2 cores with the cpu base cached (docs/r1.md)
    python train_r1.py --preset smoke        # tiny, < 1 minute; CI runs it as a test
    python train_r1.py --stages reasoning_rl,r1 --out runs/r1/RUN   # re-run some stages of a run
    python train_r1.py --resume runs/r1/RUN  # continue a killed run: finished stages are skipped
    python train_r1.py --reeval 512 --out runs/r1/RUN   # every stage on a 512-question held-out draw, vs R1-Zero
    python train_r1.py --estimate / --dry-run           # the cost model's table / every phase for a step at full size

The stages (STAGE_FNS below), each a folder of the run with its model.pt, metrics and eval.json:
    r1_zero             2.2    pure RL on the base (train_zero.py's recipe), the row to beat; cached beside the base
    cold_start          2.3.1  SFT of the base on readable long CoTs              r1mini/cold_start.py
    reasoning_rl        2.3.2  GRPO, reward = accuracy + language consistency    r1mini/reasoning_rl.py
    no_language_reward  2.3.2  the paper's ablation: the same without it         r1mini/reasoning_rl.py
    rejection_sft       2.3.3  correct, clean samples + general data; SFT of the base   r1mini/rejection.py
                               (its sft_data.jsonl is what distill.py trains the students on)
    r1                  2.3.4  GRPO with rules for reasoning and reward models for general prompts
                                                                                  r1mini/all_scenarios.py
What the stages share (config, run folder, a stage's evaluation, a resumable GRPO stage) is r1mini/pipeline.py.
done.json marks a stage finished, so `--resume` skips it (an RL stage also resumes mid-way from its ckpt.pt).
The run ends with report.md: the stage table (the figures of each stage, as the paper's Table 4 analog), the
differences the paper's claims compare (R1 - R1-Zero, 2.3.2 - its ablation, R1 - stage 3) paired over the same
questions with their standard errors, and example responses. `--json PATH` writes the table and the differences.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

from tqdm import tqdm

from r1mini import all_scenarios, cold_start, reasoning_rl, rejection
from r1mini.engine import dist
from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    add_plan_args,
    atomic_write_bytes,
    cli_main,
    command_line,
    config_from_args,
    get_device,
    given_config_flags,
    key_hash,
    pick_preset,
    resume_overrides,
    set_seed,
    write_json,
)
from r1mini.engine.model import load_model
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.evaluate import paired
from r1mini.pipeline import (
    R1_PRESETS,
    R1Config,
    Run,
    eval_model,
    finish_stage,
    heldout_sets,
    load_run_config,
    row_figures,
)
from r1mini.toy.pretrain import ensure_base
from r1mini.zero import ZERO_PRESETS

# ----------------------------------------------------------------------------- 2.2: R1-Zero, the row to beat


ZERO_RUN_EVAL_N = 16  # held-out questions of the R1-Zero sub-run's own before/after table (k = 1): a check only


def zero_config(cfg: R1Config):
    """The ZeroConfig of the R1-Zero row: train_zero.py's preset, the same RL, without the held-out curve and the
    benchmarks of its own report, and with a before/after table of only ZERO_RUN_EVAL_N questions at k = 1:
    finish_stage evaluates the policy for the stage table."""
    zcfg = pick_preset(ZERO_PRESETS, cfg.zero_preset, "train_zero preset")
    return dataclasses.replace(
        zcfg,
        base_root=cfg.base_root,
        device=cfg.device,
        eval_every=0,
        benchmarks="",
        final_n=ZERO_RUN_EVAL_N,
        final_k=1,
    )


ZERO_CODE = ("train_zero.py", "r1mini")  # what R1-Zero's training runs: a change to any of it trains a new policy


def zero_cache_dir(run: Run, root: Path = Path(__file__).resolve().parent) -> Path:
    """Where the R1-Zero policy of this run's recipe is cached: beside the base it starts from, under a hash of
    train_zero's resolved config, the device and the code that trains it (train_zero.py and every r1mini/*.py),
    so that a run with another seed or preset, or after an edit to an equation, trains its own instead of
    reusing a stale one (R1's --seed is not in it: the R1-Zero recipe has its own). root: where the code is.
    E.g. runs/base/cpu-9baf896b/r1_zero/cpu-1a2b3c4d."""
    files = sorted(
        f for name in ZERO_CODE for f in ((root / name).rglob("*.py") if (root / name).is_dir() else [root / name])
    )
    code = hashlib.sha256(b"".join(f.relative_to(root).as_posix().encode() + f.read_bytes() for f in files)).hexdigest()
    key = {"zero": dataclasses.asdict(zero_config(run.cfg)), "device": run.device.type, "code": code}
    return run.base_path.parent / "r1_zero" / f"{run.cfg.zero_preset}-{key_hash(key)}"


def stage_r1_zero(run: Run) -> dict:
    """2.2: R1-Zero, trained with train_zero.py's recipe, or reused: from --zero-ckpt, or from the cache beside the
    base that an earlier run of the same recipe, base and code filled (zero_cache_dir; --zero-cache false skips it)."""
    t0 = time.time()
    if run.cfg.zero_ckpt:
        return finish_stage(run, "r1_zero", run.load("r1_zero"), {"source": run.cfg.zero_ckpt}, 0.0)
    cache = zero_cache_dir(run) if run.cfg.zero_cache else None
    if cache is not None and (cache / "model.pt").is_file():
        run.log(f"reusing the cached R1-Zero policy {cache} (same recipe, base and code; --zero-cache false: retrain)")
        return finish_stage(
            run, "r1_zero", load_model(cache / "model.pt", run.device)[0], {"source": str(cache / "model.pt")}, 0.0
        )
    from train_zero import train as train_zero  # noqa: PLC0415 (a script beside this one)

    zcfg = zero_config(run.cfg)
    zrun = run.stage_dir("r1_zero") / "zero_run"
    summary = train_zero(zcfg, zrun, resume=(zrun / "ckpt.pt").is_file(), quiet=True)
    if cache is not None:  # model.pt last, each file atomic: a cache entry with a model.pt is whole
        atomic_write_bytes(cache / "config.json", (zrun / "config.json").read_bytes())
        atomic_write_bytes(cache / "model.pt", (zrun / "model.pt").read_bytes())
    model = load_model(zrun / "model.pt", run.device)[0]
    return finish_stage(run, "r1_zero", model, {"zero_run": summary["run"]}, time.time() - t0)


# ----------------------------------------------------------------------------- the stages, in the paper's order


STAGE_FNS = {  # each starts from the checkpoint of the stage named in its comment
    "r1_zero": stage_r1_zero,  # 2.2: pure RL on the base, rules only (train_zero.py): the row to beat
    "cold_start": cold_start.stage,  # 2.3.1: SFT of the BASE on a few thousand readable long CoTs (from r1_zero's too)
    "reasoning_rl": reasoning_rl.stage,  # 2.3.2: GRPO from cold_start, reward = accuracy + language consistency
    "no_language_reward": reasoning_rl.ablation,  # 2.3.2's ablation: the same without the language reward
    "rejection_sft": rejection.stage,  # 2.3.3: reasoning_rl's correct, clean samples + general data -> SFT of the BASE
    "r1": all_scenarios.stage,  # 2.3.4: GRPO from rejection_sft; rules for reasoning, reward models for the rest
}
STAGES = tuple(STAGE_FNS)
ROWS = ("base",) + STAGES


def train(cfg: R1Config, run_dir: Path, stages=STAGES, quiet: bool = False) -> dict:
    """Run `stages` (skipping those already done unless named explicitly), then write report.md."""
    cfg.validate()
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(dataclasses.asdict(cfg), run_dir / "config.json")
    tok = get_tokenizer()
    device = get_device(cfg.device)
    t0 = time.time()
    base_path = ensure_base(cfg.base, quiet=quiet, out_root=cfg.base_root)
    run = Run(cfg, run_dir, tok, device, base_path, quiet)
    if not eval_path(run_dir, "base").is_file():
        set_seed(cfg.seed)
        ev = eval_model(run, run.load("base"), zero=True)
        write_json(ev, eval_path(run_dir, "base"))
    done = {
        "base": {
            "figures": row_figures(json.loads(eval_path(run_dir, "base").read_text()), cfg.final_k),
            "seconds": time.time() - t0,
        }
    }
    todo = [s for s in stages if s != "no_language_reward" or cfg.ablation]
    for stage in STAGES:
        marker = run_dir / stage / "done.json"
        if stage in todo and not (marker.is_file() and stages == STAGES):
            run.log(f"== stage {stage}")
            if marker.is_file():  # a finished stage named in --stages starts over (an unfinished one resumes)
                marker.unlink()
                (run_dir / stage / "ckpt.pt").unlink(missing_ok=True)
            done[stage] = STAGE_FNS[stage](run)
        elif marker.is_file():
            done[stage] = json.loads(marker.read_text())
    diffs = paired_comparisons(run_dir, done)
    report = write_report(run, done, diffs)
    if not quiet:
        print(report)
    return {
        "run": str(run_dir),
        "stages": {name: d["figures"] for name, d in done.items()},
        "paired": diffs,
        "seconds": {name: d.get("seconds", 0.0) for name, d in done.items()},
        "total_seconds": time.time() - t0,
    }


# ----------------------------------------------------------------------------- report

# the differences the goals and the paper's ablation ask about: (a, b) -> a - b, each over the same questions
COMPARISONS = {
    ("r1", "r1_zero"): "R1 - R1-Zero (the goal: >= 0)",
    ("reasoning_rl", "no_language_reward"): "2.3.2 - its ablation (the language reward's cost)",
    ("r1", "rejection_sft"): "R1 - stage 3 (what 2.3.4 adds)",
}
COMPARED_SETS = ("heldout", "heldout_zh", "hard")


def eval_path(run_dir: Path, stage: str) -> Path:
    return run_dir / ("base_eval.json" if stage == "base" else f"{stage}/eval.json")


def paired_comparisons(run_dir: Path, done: dict) -> dict:
    """{"r1 - r1_zero": {"heldout_pass@1": [a - b, s.e.], ...}, ...}: evaluate.paired over each set both rows
    answered, the same questions in the same order (none: the pair is left out; the smoke preset has no hard set)."""
    out = {}
    for a, b in COMPARISONS:
        if a not in done or b not in done:
            continue
        ea, eb = (json.loads(eval_path(run_dir, s).read_text())["reasoning"] for s in (a, b))
        figs = {}
        for name in COMPARED_SETS:
            if name in ea and name in eb and (pair := paired(ea[name], eb[name])) is not None:
                figs[f"{name}_pass@1"] = list(pair)
        if figs:
            out[f"{a} - {b}"] = figs
    return out


ROW_NAMES = {
    "base": "base (DeepSeek-V3-Base stand-in)",
    "r1_zero": "R1-Zero",
    "cold_start": "cold start (2.3.1)",
    "reasoning_rl": "+ reasoning RL (2.3.2)",
    "rejection_sft": "+ rejection sampling SFT (2.3.3)",
    "r1": "+ RL all scenarios = R1 (2.3.4)",
    "no_language_reward": "ablation: 2.3.2 without the language reward",
}
REEVAL_DRAW = 777  # the seed of reevaluate's draw of held-out questions (the table's: 1234 and 4321)


def reevaluate(run_dir: Path, n: int, quiet: bool = False) -> dict:
    """Every finished stage of a run evaluated again on a larger draw of held-out questions, n per language (the
    same test splits, seeds REEVAL_DRAW and REEVAL_DRAW + 1, so it overlaps the table's: 82 of its 128 English
    questions at n = 512; the run's k, budget and sampling seed), each paired with the R1-Zero row: for
    differences the table's 128 questions are too few to show (the s.e. goes as 1 / sqrt(n)).

        python train_r1.py --reeval 512 --out runs/r1/RUN   # -> runs/r1/RUN/reeval-512.json, ~20 s a stage on 2 cores

    Returns (and writes) {"n", "draw", "stages": {stage: {"heldout_pass@1", "heldout_zh_pass@1"}},
    "paired": {"<stage> - r1_zero": {set: [a - b, s.e.]}}}."""
    if n < 2:
        raise ConfigError(f"--reeval needs at least 2 questions per language (a paired s.e.), got {n}")
    cfg = load_run_config(run_dir)
    run = Run(cfg, run_dir, get_tokenizer(), get_device(cfg.device), Path(), quiet)  # the base is not re-evaluated
    stages = [s for s in STAGES if (run_dir / s / "done.json").is_file()]
    if not stages:
        raise ConfigError(f"{run_dir} has no finished stage to evaluate again")
    sets, reasoning = heldout_sets(cfg, n, REEVAL_DRAW), {}
    for stage in tqdm(stages, desc=f"re-evaluating on {n} questions per language", disable=quiet):
        reasoning[stage] = eval_model(run, run.load(stage), zero=stage == "r1_zero", general=False, sets=sets)[
            "reasoning"
        ]
    zero = reasoning.get("r1_zero")
    out = {
        "n": n,
        "draw": REEVAL_DRAW,
        "stages": {s: {f"{name}_pass@1": r["all"]["pass@1"] for name, r in ev.items()} for s, ev in reasoning.items()},
        "paired": {
            f"{s} - r1_zero": {name: list(paired(ev[name], zero[name])) for name in ev}
            for s, ev in reasoning.items()
            if zero and s != "r1_zero"
        },
    }
    write_json(out, run_dir / f"reeval-{n}.json")
    if not quiet:
        print(f"| stage ({n} held-out questions x {cfg.final_k}) | English pass@1 | Chinese pass@1 "
              "| - R1-Zero, English | - R1-Zero, Chinese |")  # fmt: skip
        print("|---|---|---|---|---|")
        for s, figs in out["stages"].items():
            d = out["paired"].get(f"{s} - r1_zero", {})
            pm = [f"{d[k][0]:+.3f} +- {d[k][1]:.3f}" if k in d else "" for k in ("heldout", "heldout_zh")]
            en, zh = figs["heldout_pass@1"], figs["heldout_zh_pass@1"]
            print(f"| {ROW_NAMES[s]} | {en:.3f} | {zh:.3f} | {pm[0]} | {pm[1]} |")
    return out


def write_report(run: Run, done: dict, diffs: dict) -> str:
    """report.md: the stage table, `diffs` (paired_comparisons) and example responses per stage."""
    cfg, k = run.cfg, run.cfg.final_k
    cols = ["heldout_pass@1", "heldout_zh_pass@1", "medium_pass@1", "hard_pass@1", f"cons@{k}", "mixing_zh",
            "mixing_en", "off_language_zh", "readability", "length", "helpfulness", "harmlessness"]  # fmt: skip
    lines = [
        "# DeepSeek-R1 run report", "",
        f"Command: `{command_line()}`  ",
        f"Device: {run.device}; base `{cfg.base}`; reasoning prompts of the R1 stages from mix `{cfg.train_mix}` "
        f"({cfg.zh:.0%} Chinese); held-out questions from the test split of mix `{cfg.mix}`.", "",
        f"## Stage table (pass@1 over k={k} samples at T=0.6, top-p 0.95; held-out questions and prompts only)", "",
        "The base and R1-Zero answer under Table 1's template (readability in R1's format is 0 by construction);",
        "every R1 stage answers the chat prompt in R1's format. mixing_zh / mixing_en: share of responses whose",
        "chain of thought holds both English words and Chinese characters, on Chinese / English questions;",
        "off_language_zh: share of responses to Chinese questions whose chain of thought is not in Chinese",
        "(mixed, or all English).",
        "helpfulness: gold annotator on held-out general prompts (summary); harmlessness: share of safe responses",
        "to held-out adversarial prompts (whole response).", "",
        "| stage | " + " | ".join(cols) + " | seconds |", "|---|" + "---|" * (len(cols) + 1),
    ]  # fmt: skip
    for name in ROWS:
        if name not in done:
            continue
        f = done[name]["figures"]
        cells = ["-" if f[c] is None else f"{f[c]:.1f}" if c == "length" else f"{f[c]:.3f}" for c in cols]
        lines.append(f"| {ROW_NAMES[name]} | " + " | ".join(cells) + f" | {done[name].get('seconds', 0):.0f} |")
    if diffs:
        lines += ["", "## Differences, paired over the same questions (mean +- standard error)", "",
                  "a - b of each question's pass rate over its k samples (metrics.paired_difference); a difference",
                  "under 2 s.e. is within the noise of this evaluation.", "",
                  "| a - b | " + " | ".join(f"{s}_pass@1" for s in COMPARED_SETS) + " |",
                  "|---|" + "---|" * len(COMPARED_SETS)]  # fmt: skip
        for pair, figs in diffs.items():
            cells = [
                f"{figs[c][0]:+.3f} +- {figs[c][1]:.3f}" if c in figs else "-"
                for c in (f"{s}_pass@1" for s in COMPARED_SETS)
            ]
            lines.append(f"| {COMPARISONS[tuple(pair.split(' - '))]} | " + " | ".join(cells) + " |")
    for name in STAGES:
        # source: where a reused R1-Zero came from
        extra = {k: v for k, v in done.get(name, {}).items() if k in ("set", "size", "reward_models", "source")}
        if extra:
            lines += ["", f"**{ROW_NAMES[name]}**: `{json.dumps(extra, default=str)}`"]
    lines += ["", "## Example responses (first held-out question of each set, first sample)", ""]
    for name in ROWS:
        ev_path = eval_path(run.dir, name)
        if name in done and ev_path.is_file():
            ev = json.loads(ev_path.read_text())
            lines.append(f"### {ROW_NAMES[name]}")
            for set_name in ("heldout", "heldout_zh"):
                ex = ev["reasoning"][set_name]["examples"][0]
                lines.append(f"- **Q:** {ex['question']}  \n  **A:** `{ex['response']}`")
            for ex in ev["general"]["examples"][:2]:
                lines.append(f"- **Q:** {ex['question']}  \n  **A:** `{ex['response']}`")
            lines.append("")
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(run.dir / "report.md", text.encode())
    return text


# ----------------------------------------------------------------------------- main


def main() -> None:
    what = "cold start, reasoning RL, rejection sampling + SFT, RL for all scenarios"
    p = argparse.ArgumentParser(description=f"DeepSeek-R1 (section 2.3) on toy arithmetic: {what}.")
    p.add_argument("--preset", default=None, help=f"one of {list(R1_PRESETS)} (default: gpu on a GPU, else cpu)")
    p.add_argument("--out", default=None, help="run folder (default: runs/r1/<preset>-<time>)")
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue a killed run with its saved config (no config flag may be given): finished stages are skipped",
    )
    p.add_argument(
        "--stages",
        default=None,
        help=f"comma-separated subset of {','.join(STAGES)}: re-run these from the saved checkpoints, with the "
        "run's saved config and any config flag given",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="write the stage table's figures here")
    p.add_argument(
        "--reeval",
        type=int,
        default=None,
        metavar="N",
        help="evaluate the finished stages of the run --out names again on a draw of N held-out questions per "
        "language, each paired with R1-Zero (reeval-N.json; trains nothing)",
    )
    add_plan_args(p)  # --estimate, --dry-run (r1mini/tools/plans.py)
    add_config_args(p, R1Config)
    args = p.parse_args()
    dist.refuse("train_r1.py")  # not data-parallel yet: under torchrun, one clear line (r1mini/engine/dist.py)
    if args.reeval is not None:  # evaluate a finished run's stages again on more questions; trains nothing
        if not args.out or args.resume or args.stages:
            raise ConfigError("--reeval N takes a finished run as --out RUN_DIR, and no --resume or --stages")
        if given := given_config_flags(args, others=("preset", "json")):
            flag = "--" + given[0].replace("_", "-")
            raise ConfigError(
                f"--reeval evaluates a run with its saved config; no other flag may be given (got {flag})"
            )
        reevaluate(Path(args.out), args.reeval)
        return
    stages = STAGES
    if args.stages:
        stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
        bad = [s for s in stages if s not in STAGES]
        if bad:
            raise ConfigError(f"unknown stage(s) {bad}; choose from: {', '.join(STAGES)}")
    if args.resume:
        run_dir = Path(args.resume)
        resume_overrides(args, allowed=(), others=("preset", "out"))  # one line for any config flag given with it
        cfg = load_run_config(run_dir)
    else:
        preset = args.preset or ("gpu" if get_device().type == "cuda" else "cpu")
        run_dir = Path(args.out) if args.out else Path("runs/r1") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
        rerun = args.stages and (run_dir / "config.json").is_file()  # re-running stages of an existing run: its config
        cfg = config_from_args(load_run_config(run_dir) if rerun else pick_preset(R1_PRESETS, preset), args)
    if args.estimate or args.dry_run:  # r1mini/tools/plans.py: the phases of this config, priced or run for a step
        from r1mini.tools.plans import r1_plan, run_plan

        run_plan(
            r1_plan(cfg, zero_config(cfg), "train_r1.py" + (f" --preset {args.preset}" if args.preset else "")),
            dry=args.dry_run,
        )
        return
    summary = train(cfg, run_dir, stages)
    if args.json:
        write_json(summary, args.json)


if __name__ == "__main__":
    cli_main(main)
