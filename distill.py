"""Distillation (sections 2.4 and 4.1, Table 6): small students fine-tuned on R1's data, against RL on the students.

DeepSeek-R1's last practical claim: fine-tune small dense models (SFT only, no RL) on the 800k samples curated
with DeepSeek-R1 (2.3.3's rejection-sampled reasoning + non-reasoning data) and they beat the same small models
trained with R1-Zero's large-scale RL (Table 6: distilled Qwen-32B vs DeepSeek-R1-Zero-Qwen-32B); the gain grows
with the student's size. On the toy world, for each student preset S (each with its own base pretrained on the
teacher's corpus, cached under runs/base/ like the teacher's base):

    S/base            the student's base, under Table 1's template (as the R1-Zero row of train_r1.py)
    S/rl              R1-Zero's recipe on the student base (train_zero.py's GRPO config, reward and questions), run
                      for at least as many CPU seconds as S/distilled's fine-tuning took (4.1's fair fight)
    S/distilled       r1mini/sft.py on the teacher run's stage-3 set, rejection_sft/sft_data.jsonl (2.4)
    S/distilled_rl    GRPO with 2.3.2's reward (accuracy + language consistency) on top of S/distilled (the paper:
                      "further gains are possible"; it leaves this to the community)
    S/distilled_r1    (one student, `--regen`) the same SFT on the FINAL R1 model's own samples, regenerated and
                      rejection-sampled like 2.3.3, with stage 3's non-reasoning data: does a better teacher help?

    python distill.py                       # cpu preset: the newest runs/r1/cpu-* run as the teacher
    python distill.py --r1-run runs/r1/cpu-full --json runs/distill/cpu.json
    python distill.py --preset smoke --r1-run RUN   # < 60 s: tests/test_distill.py runs it on a smoke R1 run
    python distill.py --resume runs/distill/cpu-YYYYMMDD-HHMMSS                  # continue a killed run
    python distill.py --help                # every DistillConfig field is a flag

No teacher run yet? `python train_r1.py` makes one (or pass `--make-r1 true` and distill.py runs it first).
Every row writes model.pt (not for S/base), eval.json and done.json (figures and compute) into the run folder,
RL rows a resumable ckpt.pt and metrics.jsonl; the run ends with report.md (the Table 6 analog and the goals)
and, with --json, {"rows": {NAME: {"params", "heldout_pass@1", ...}}}. Compute is counted per row as the CPU
seconds (time.process_time: all threads of this process) and tokens run through the student since its base;
the teacher's own cost is not charged to the students, as in the paper.
Checked by tests/test_distill.py (smoke run, the report's figures against its eval files, bad files, presets).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

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
    pick_preset,
    resume_overrides,
    set_seed,
    write_json,
)
from r1mini.engine.model import load_model, model_state
from r1mini.engine.tokenizer import get_tokenizer
from r1mini.evaluate import paired, zero_prompt
from r1mini.pipeline import (
    R1_PRESETS,
    Run,
    eval_model,
    load_run_config,
    reasoning_mix,
    row_figures,
    run_grpo,
    train_problems,
)
from r1mini.reasoning_rl import reasoning_reward
from r1mini.sft import SFT_PRESETS, read_jsonl, train_sft
from r1mini.toy.pretrain import PRETRAIN_PRESETS, ensure_base
from r1mini.zero import ZERO_PRESETS
from r1mini.zero import problems_for_step as zero_problems
from r1mini.zero import reward_fn as zero_reward
from train_r1 import train as train_r1


@dataclass
class DistillConfig:
    r1_run: str = ""  # the teacher: a finished train_r1.py run folder ("" = the newest runs/r1/<r1_preset>-*)
    r1_preset: str = "cpu"  # train_r1.py preset of the teacher run looked for (or made, with make_r1)
    make_r1: bool = False  # no teacher run found: run `train_r1.py --preset r1_preset` first instead of stopping
    students: str = (
        "micro,mini"  # comma-separated pretrain presets (r1mini/toy/pretrain.py) of the students, smallest first
    )
    base_root: str = "runs/base"  # where the students' cached bases live
    sft: str = "cpu"  # SFT preset of the distillation (r1mini/sft.py)
    sft_epochs: int = 6  # SFT epochs of each student over the teacher's set
    regen: str = "mini"  # the student also distilled on the final R1 model's own samples ("" = none)
    regen_problems: int = 800  # train questions the final R1 model answers for that set
    regen_k: int = 4  # samples per question (then 2.3.3's rejection filters)
    zero_preset: str = "cpu"  # train_zero.py preset whose GRPO config, reward and questions RL the students (4.1)
    rl_steps: int = 100  # GRPO steps of S/rl (extended while its CPU seconds are below S/distilled's, with rl_match)
    rl_match: bool = True  # extend S/rl until it has had at least the CPU seconds S/distilled's SFT took
    drl_steps: int = 40  # GRPO steps of S/distilled_rl (2.3.2's reward; the teacher run's GRPO config)
    final_n: int = 128  # held-out English questions (as many Chinese ones are drawn too)
    final_k: int = 4  # samples per question: pass@1 over k, cons@k
    benchmarks: str = "medium,hard"  # fixed benchmark sets ("" = none)
    rows: str = ""  # build only these rows (comma-separated: teacher,base,distilled,rl,distilled_rl,distilled_r1)
    device: str = "auto"  # cuda, then mps, then cpu
    seed: int = 0  # seeds every row

    def validate(self) -> None:
        if not self.student_list():
            raise ConfigError("students must name at least one pretrain preset")
        for s in self.student_list():
            pick_preset(PRETRAIN_PRESETS, s, "student (pretrain preset)")
        if self.regen and self.regen not in self.student_list():
            raise ConfigError(f"regen must be one of the students {self.student_list()} or empty, got {self.regen!r}")
        pick_preset(SFT_PRESETS, self.sft, "SFT preset")
        pick_preset(ZERO_PRESETS, self.zero_preset, "train_zero preset")
        pick_preset(R1_PRESETS, self.r1_preset, "train_r1 preset")
        for name in ("sft_epochs", "regen_k", "final_n", "final_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        bad = [r for r in self.row_list() if r not in ("teacher",) + ROWS]
        if bad:
            raise ConfigError(f"unknown row(s) {bad}; choose from: teacher, {', '.join(ROWS)}")
        for name in ("regen_problems", "rl_steps", "drl_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    def student_list(self) -> list[str]:
        return [s.strip() for s in self.students.split(",") if s.strip()]

    def row_list(self) -> list[str]:
        return [r.strip() for r in self.rows.split(",") if r.strip()] or ["teacher", *ROWS]


DISTILL_PRESETS = {
    # a smoke R1 run as the teacher, one student of the smoke base's size: the plumbing, in seconds
    "smoke": DistillConfig(r1_preset="smoke", students="smoke", regen="smoke", sft="smoke", sft_epochs=1,
                           regen_problems=16, regen_k=2, zero_preset="smoke", rl_steps=4, drl_steps=3, final_n=8,
                           final_k=2, benchmarks=""),
    # students of ~0.17M and ~0.43M parameters against the cpu teacher's 0.94M
    "cpu": DistillConfig(),
    "gpu": DistillConfig(r1_preset="gpu", students="mini,cpu", regen="cpu", sft="gpu", regen_problems=8000,
                         rl_steps=400, drl_steps=200, final_n=256, final_k=16),
}  # fmt: skip

ROWS = ("base", "rl", "distilled", "distilled_rl", "distilled_r1")
COLUMNS = (
    "heldout_pass@1",
    "heldout_zh_pass@1",
    "medium_pass@1",
    "hard_pass@1",
    "cons@k",
    "mixing",
    "readability",
    "length",
)


# ----------------------------------------------------------------------------- the teacher


def find_r1_run(cfg: DistillConfig) -> Path:
    """The teacher run: cfg.r1_run, else the newest runs/r1/<r1_preset>-* with stages 2.3.3 and 2.3.4 done."""
    need = ("rejection_sft/sft_data.jsonl", "rejection_sft/done.json", "r1/model.pt", "r1/done.json")
    if cfg.r1_run:
        run = Path(cfg.r1_run)
        missing = [n for n in need if not (run / n).is_file()]
        if missing:
            raise ConfigError(
                f"{run} is not a finished train_r1.py run (missing {', '.join(missing)}); finish it with "
                f"`python train_r1.py --resume {run}`"
            )
        return run
    done = sorted(
        (p for p in Path("runs/r1").glob(f"{cfg.r1_preset}-*") if all((p / n).is_file() for n in need)),
        key=lambda p: p.stat().st_mtime,
    )
    if done:
        return done[-1]
    if not cfg.make_r1:
        raise ConfigError(
            f"no finished train_r1.py run under runs/r1/{cfg.r1_preset}-*: make one with "
            f"`python train_r1.py --preset {cfg.r1_preset}`, or pass --make-r1 true (or --r1-run RUN)"
        )
    run = Path("runs/r1") / f"{cfg.r1_preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    train_r1(R1_PRESETS[cfg.r1_preset], run)
    return run


# ----------------------------------------------------------------------------- one row


def measured(fn):
    """fn() with its wall and CPU seconds (process_time: every thread of this process)."""
    w0, c0 = time.time(), time.process_time()
    out = fn()
    return out, time.time() - w0, time.process_time() - c0


def rl_tokens(metrics: Path) -> int:
    """Tokens run through the policy by a GRPO stage (prompts + outputs, sampled and trained): its metrics.jsonl."""
    rows = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.is_file() else []
    return int(sum(r["tokens_per_s"] * (r["sample_s"] + r["train_s"]) for r in rows))


def finish_row(run: Run, name: str, model, compute: dict, extra: dict | None = None) -> dict:
    """Save the student (not for a base), evaluate it (Table 1's template for base and rl rows, R1's chat prompt for
    the distilled ones), write eval.json and done.json."""
    d = run.stage_dir(name)
    if not name.endswith("/base") and name != "teacher":
        atomic_save(model_state(model), d / "model.pt")
    zero = name.endswith("/base") or name.endswith("/rl")
    t0 = time.time()
    ev = eval_model(run, model, zero=zero, general=False)
    write_json(ev, d / "eval.json")
    done = {
        "row": name,
        "params": model.num_params(),
        "compute": compute,
        **(extra or {}),
        "eval_seconds": time.time() - t0,
        "figures": table_figures(ev, run.cfg.final_k),
    }
    write_json(done, d / "done.json")
    f = done["figures"]
    run.log(
        f"[{name}] held-out {f['heldout_pass@1']:.3f}, readability {f['readability']:.3f}, mixing {f['mixing']:.3f}"
    )
    return done


def table_figures(ev: dict, k: int) -> dict:
    """Table 6's columns from one eval.json: train_r1.py's stage-table figures (shares in [0, 1]), with mixing over
    the English and Chinese held-out questions together (the two sets are the same size)."""
    f = row_figures(ev, k)
    return {
        "heldout_pass@1": f["heldout_pass@1"], "heldout_zh_pass@1": f["heldout_zh_pass@1"],
        "medium_pass@1": f["medium_pass@1"], "hard_pass@1": f["hard_pass@1"], "cons@k": f[f"cons@{k}"],
        "mixing": (f["mixing_zh"] + f["mixing_en"]) / 2, "mixing_zh": f["mixing_zh"], "readability": f["readability"],
        "length": f["length"],
    }  # fmt: skip


def pretrain_compute(preset: str, base_path: Path) -> dict:
    """A base row's compute: its pretraining (wall seconds from its stats.json; no CPU-seconds figure is kept)."""
    stats_path = base_path.parent / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    pcfg = PRETRAIN_PRESETS[preset]
    return {
        "seconds": stats.get("seconds_train"),
        "cpu_seconds": None,
        "tokens": pcfg.steps * pcfg.batch_size * pcfg.seq_len,
    }


def row_done(run: Run, name: str) -> dict | None:
    p = run.dir / name / "done.json"
    return json.loads(p.read_text()) if p.is_file() else None


# ----------------------------------------------------------------------------- the rows of one student


def distill_student(run: Run, name: str, data: list, set_info: dict | None = None) -> dict:
    """2.4: SFT of the student's base on the teacher's examples (loss on the responses only)."""
    model = run.load("base")
    scfg = dataclasses.replace(
        pick_preset(SFT_PRESETS, run.dcfg.sft, "SFT preset"), epochs=run.dcfg.sft_epochs, seed=run.dcfg.seed
    )
    set_seed(run.dcfg.seed)
    stats, wall, cpu = measured(
        lambda: train_sft(model, run.tok, data, scfg, quiet=run.quiet, desc=f"2.4 distil {name}")
    )
    compute = {"seconds": wall, "cpu_seconds": cpu, "tokens": stats["tokens"]}
    extra = {
        "sft": {k: v for k, v in stats.items() if k != "losses"},
        "examples": len(data),
        **({"set": set_info} if set_info else {}),
    }
    return finish_row(run, name, model, compute, extra)


def rl_student(run: Run, student: str, min_cpu: float) -> dict:
    """4.1: R1-Zero's recipe (train_zero.py's GRPO config, reward and questions) on the student's base, extended
    while its CPU seconds are below min_cpu (S/distilled's) so that the comparison is fair to RL."""
    name, dcfg = f"{student}/rl", run.dcfg
    zcfg = pick_preset(ZERO_PRESETS, dcfg.zero_preset, "train_zero preset")
    policy = run.load("base")
    set_seed(dcfg.seed)
    steps, wall, cpu = dcfg.rl_steps, 0.0, 0.0
    while True:
        (policy, _), w, c = measured(
            lambda: run_grpo(
                run,
                name,
                policy,
                zero_reward(zcfg),
                lambda s: zero_problems(zcfg, s),
                steps,
                f"4.1 RL {student}",
                rl=zcfg.grpo,
                prompt_fn=zero_prompt,
            )
        )
        wall, cpu = wall + w, cpu + c
        if not dcfg.rl_match or cpu >= min_cpu or c <= 0:
            break
        steps = math.ceil(steps * min(4.0, 1.1 * min_cpu / cpu))  # more steps, resumed from ckpt.pt
    compute = {
        "seconds": wall,
        "cpu_seconds": cpu,
        "tokens": rl_tokens(run.dir / name / "metrics.jsonl"),
        "steps": steps,
    }
    return finish_row(run, name, policy, compute)


def rl_on_distilled(run: Run, student: str, distilled: dict) -> dict:
    """Distilled + RL: 2.3.2's GRPO (accuracy + language consistency, the teacher run's config) from S/distilled."""
    name, dcfg, cfg = f"{student}/distilled_rl", run.dcfg, run.cfg
    policy = load_model(run.dir / student / "distilled" / "model.pt", run.device)[0]
    mix = reasoning_mix(cfg)

    def problems(step):
        return mix.sample(random.Random(f"{cfg.seed}/distill-rl/{step}"), cfg.rl.questions, split="train")

    set_seed(dcfg.seed)
    (policy, _), wall, cpu = measured(
        lambda: run_grpo(
            run, name, policy, reasoning_reward(cfg.language_weight), problems, dcfg.drl_steps, f"2.4+RL {student}"
        )
    )
    before = distilled["compute"]
    compute = {
        "seconds": before["seconds"] + wall,
        "cpu_seconds": before["cpu_seconds"] + cpu,
        "tokens": before["tokens"] + rl_tokens(run.dir / name / "metrics.jsonl"),
        "steps": dcfg.drl_steps,
    }
    return finish_row(run, name, policy, compute)


def regenerate(run: Run, teacher_run: Path, stage3: list) -> tuple[list, dict]:
    """The final R1 model's own samples, rejection-sampled like 2.3.3 (wrong, mixed-language, overlong and malformed
    responses dropped), plus stage 3's non-reasoning examples: the set of S/distilled_r1."""
    from r1mini.rejection import rejection_sample
    from r1mini.sft import write_jsonl

    cfg, t_cfg = run.cfg, load_run_config(teacher_run)
    teacher = load_model(teacher_run / "r1" / "model.pt", run.device)[0]
    problems = train_problems(cfg, run.dcfg.regen_problems, "distill_regen")
    reasoning, drops = rejection_sample(
        teacher,
        run.tok,
        problems,
        run.dcfg.regen_k,
        max_new_tokens=cfg.max_new_tokens,
        temperature=1.0,
        seed=cfg.seed,
        max_tokens=t_cfg.rs_max_tokens,
    )
    general = [ex for ex in stage3 if ex.source.startswith("general")]
    data = reasoning + general
    write_jsonl(data, run.stage_dir("regen") / "sft_data.jsonl")
    return data, {"reasoning": len(reasoning), "general": len(general), "drops": drops}


# ----------------------------------------------------------------------------- report


def write_report(out: Path, dcfg: DistillConfig, teacher_run: Path, done: dict, seconds: float) -> str:
    names = {"base": "base", "rl": "+ RL (R1-Zero recipe)", "distilled": "distilled (SFT on R1's stage-3 set)",
             "distilled_rl": "distilled + RL", "distilled_r1": "distilled on the final R1's own samples"}  # fmt: skip
    cols = list(COLUMNS)
    lines = [
        "# Distillation report (sections 2.4 and 4.1)", "",
        f"Command: `{command_line()}`  ",
        f"Teacher: `{teacher_run}` (its final R1 model; its stage-3 set `rejection_sft/sft_data.jsonl`). "
        f"Total {seconds:.0f} s.", "",
        f"## Table 6 analog (held-out questions; pass@1 over k={dcfg.final_k} samples at T=0.6)", "",
        "Base and RL rows answer under Table 1's template (readability in R1's format is 0 by construction); the",
        "teacher and the distilled rows answer R1's chat prompt. mixing: share of responses on the English and Chinese",
        "held-out questions whose chain of thought holds both English words and Chinese characters. Compute: what the",
        "row cost since the student's base (CPU seconds of this process, and tokens through the model); a base's is",
        "its pretraining.", "",
        "| model | params | " + " | ".join(cols) + " | CPU s | tokens |", "|---|---|" + "---|" * (len(cols) + 2),
    ]  # fmt: skip
    for name, d in done.items():
        student, _, row = name.partition("/")
        label = "teacher (R1)" if name == "teacher" else f"{student}: {names[row]}"
        f, c = d["figures"], d.get("compute", {})
        cells = ["-" if f[k] is None else f"{f[k]:.1f}" if k == "length" else f"{f[k]:.3f}" for k in cols]
        cpu = "-" if c.get("cpu_seconds") is None else f"{c['cpu_seconds']:.0f}"
        tokens = "-" if c.get("tokens") is None else f"{c['tokens']:,}"
        lines.append(f"| {label} | {d['params'] / 1e6:.2f}M | " + " | ".join(cells) + f" | {cpu} | {tokens} |")
    lines += ["", "## The paper's findings, checked", ""] + [f"- {line}" for line in findings(dcfg, done, out)]
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(out / "report.md", text.encode())
    return text


def findings(dcfg: DistillConfig, done: dict, run_dir: Path) -> list[str]:
    """Table 6 / 4.1 in words, from the rows' figures (met or missed, never tuned); the distilled - RL gap with its
    standard error paired over the same held-out questions (evaluate.paired on the two rows' eval.json)."""
    get = lambda row, k="heldout_pass@1": done[row]["figures"][k] if row in done else None  # noqa: E731
    out, gains = [], []
    for s in dcfg.student_list():
        d, r, b = get(f"{s}/distilled"), get(f"{s}/rl"), get(f"{s}/base")
        if None in (d, r, b):
            continue
        gap = d - r
        pair = paired(
            *(
                json.loads((run_dir / s / row / "eval.json").read_text())["reasoning"]["heldout"]
                for row in ("distilled", "rl")
            )
        )
        se = "" if pair is None else f" +- {pair[1]:.3f} s.e."
        out.append(
            f"{s}: distilled {d:.3f} vs RL {r:.3f} (gap {gap:+.3f}{se}; "
            f"goal >= +0.10: {'met' if gap >= 0.10 else 'MISSED'}); distillation gain over the base {d - b:+.3f}"
        )
        gains.append((done[f"{s}/distilled"]["params"], d - b, s))
        rd, mx = get(f"{s}/distilled", "readability"), get(f"{s}/distilled", "mixing")
        out.append(
            f"{s}: distilled readability {rd:.3f} (goal >= 0.95: {'met' if rd >= 0.95 else 'MISSED'}), mixing {mx:.3f} "
            f"(goal <= 0.01: {'met' if mx <= 0.01 else 'MISSED'})"
        )
        if get(f"{s}/distilled_rl") is not None:
            drl = get(f"{s}/distilled_rl")
            out.append(f"{s}: distilled + RL {drl:.3f} ({drl - d:+.3f} over distilled)")
        if get(f"{s}/distilled_r1") is not None:
            out.append(
                f"{s}: distilled on the final R1's samples {get(f'{s}/distilled_r1'):.3f} vs on stage 3's set {d:.3f}"
            )
    if len(gains) >= 2:
        gains.sort()
        trend = all(b[1] > a[1] for a, b in zip(gains, gains[1:]))
        out.append(
            "size trend (a larger student gains more from distillation): "
            + " < ".join(f"{s} {g:+.3f}" for _, g, s in gains)
            + f": {'met' if trend else 'MISSED'}"
        )
    return out


# ----------------------------------------------------------------------------- main


@dataclass
class DistillRun(Run):
    """train_r1.py's Run (evaluation and GRPO helpers) pointed at one student's base, plus the distill config."""

    dcfg: DistillConfig | None = None


def distill(dcfg: DistillConfig, out: Path, quiet: bool = False) -> dict:
    dcfg.validate()
    out.mkdir(parents=True, exist_ok=True)
    write_json(dataclasses.asdict(dcfg), out / "config.json")
    t0 = time.time()
    teacher_run = find_r1_run(dcfg)
    # the teacher run's evaluation settings (task mix, languages, template, budget), at distill's sizes
    cfg = dataclasses.replace(
        load_run_config(teacher_run),
        final_n=dcfg.final_n,
        final_k=dcfg.final_k,
        benchmarks=dcfg.benchmarks,
        device=dcfg.device,
    )
    stage3 = read_jsonl(teacher_run / "rejection_sft" / "sft_data.jsonl")
    tok, device = get_tokenizer(), get_device(dcfg.device)
    if not quiet:
        print(f"teacher {teacher_run}: {len(stage3)} stage-3 examples; students {dcfg.student_list()}")
    done = {}
    teacher = DistillRun(cfg, out, tok, device, teacher_run / "r1" / "model.pt", quiet, dcfg)
    if "teacher" in dcfg.row_list():
        done["teacher"] = row_done(teacher, "teacher") or finish_row(teacher, "teacher", teacher.load("base"), {})
    for student in dcfg.student_list():
        base_path = ensure_base(student, quiet=quiet, out_root=dcfg.base_root)
        run = DistillRun(cfg, out, tok, device, base_path, quiet, dcfg)
        rows = {  # built in this order: S/rl's compute must match S/distilled's
            "base": lambda: finish_row(run, f"{student}/base", run.load("base"), pretrain_compute(student, base_path)),
            "distilled": lambda: distill_student(run, f"{student}/distilled", stage3),
            "rl": lambda: rl_student(
                run,
                student,
                done[f"{student}/distilled"]["compute"]["cpu_seconds"] if f"{student}/distilled" in done else 0.0,
            ),
            "distilled_rl": lambda: rl_on_distilled(run, student, done[f"{student}/distilled"]),
            "distilled_r1": lambda: distill_student(
                run, f"{student}/distilled_r1", *regenerate(run, teacher_run, stage3)
            ),
        }
        if not dcfg.drl_steps:
            del rows["distilled_rl"]
        if student != dcfg.regen:
            del rows["distilled_r1"]
        for row, build in rows.items():
            if row not in dcfg.row_list() or (row == "distilled_rl" and f"{student}/distilled" not in done):
                continue
            done[f"{student}/{row}"] = row_done(run, f"{student}/{row}") or build()
    seconds = time.time() - t0
    report = write_report(out, dcfg, teacher_run, done, seconds)
    if not quiet:
        print(report)
    keep = ("heldout_pass@1", "medium_pass@1", "hard_pass@1", "mixing", "readability")
    rows = {
        n: {
            "params": d["params"],
            **{k: d["figures"][k] for k in keep},
            "cpu_seconds": d.get("compute", {}).get("cpu_seconds"),
        }
        for n, d in done.items()
    }
    return {"run": str(out), "teacher": str(teacher_run), "rows": rows, "seconds": seconds}


def plan_of(dcfg: DistillConfig, title: str, dry: bool) -> None:
    """--estimate / --dry-run: the teacher run's config when there is one (else its preset's), its stage-3 set's size
    (else the preset's upper bound: every rejection sample kept)."""
    from r1mini.tools.plans import distill_plan, run_plan

    dcfg.validate()
    try:
        teacher = find_r1_run(dataclasses.replace(dcfg, make_r1=False))
        r1cfg, n = (
            load_run_config(teacher),
            sum(1 for line in (teacher / "rejection_sft" / "sft_data.jsonl").open() if line.strip()),
        )
    except ConfigError:
        r1cfg = R1_PRESETS[dcfg.r1_preset]
        n = r1cfg.rs_problems * r1cfg.rs_k + r1cfg.general_sft
    r1cfg = dataclasses.replace(
        r1cfg, final_n=dcfg.final_n, final_k=dcfg.final_k, benchmarks=dcfg.benchmarks, device=dcfg.device
    )
    zcfg = dataclasses.replace(pick_preset(ZERO_PRESETS, dcfg.zero_preset, "train_zero preset"), device=dcfg.device)
    run_plan(distill_plan(dcfg, r1cfg, zcfg, n, title), dry=dry)


def load_distill_config(out: Path) -> DistillConfig:
    if not (out / "config.json").is_file():
        raise ConfigError(f"{out} is not a distill.py run folder (no config.json)")
    try:
        return DistillConfig(**json.loads((out / "config.json").read_text()))
    except TypeError as e:
        raise ConfigError(f"{out / 'config.json'} does not match distill.py's DistillConfig: {e}") from None


def main() -> None:
    p = argparse.ArgumentParser(
        description="Distillation (sections 2.4, 4.1): students fine-tuned on DeepSeek-R1's data vs RL on the students."
    )
    p.add_argument("--preset", default=None, help=f"one of {list(DISTILL_PRESETS)} (default: gpu on a GPU, else cpu)")
    p.add_argument("--out", default=None, help="run folder (default: runs/distill/<preset>-<time>)")
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue a killed run with its saved config (no config flag may be given): finished rows are kept",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="write the table's figures here")
    add_plan_args(p)  # --estimate, --dry-run (r1mini/tools/plans.py)
    add_config_args(p, DistillConfig)
    args = p.parse_args()
    dist.refuse("distill.py")  # not data-parallel yet: under torchrun, one clear line (r1mini/engine/dist.py)
    if args.resume:
        out = Path(args.resume)
        resume_overrides(args, allowed=(), others=("preset", "out"))
        dcfg = load_distill_config(out)
    else:
        preset = args.preset or ("gpu" if get_device().type == "cuda" else "cpu")
        dcfg = config_from_args(pick_preset(DISTILL_PRESETS, preset, "distill preset"), args)
        out = Path(args.out) if args.out else Path("runs/distill") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    if args.estimate or args.dry_run:  # r1mini/tools/plans.py: the phases of this config, priced or run for a step
        plan_of(dcfg, "distill.py" + (f" --preset {args.preset}" if args.preset else ""), dry=args.dry_run)
        return
    summary = distill(dcfg, out)
    if args.json:
        write_json(summary, args.json)


if __name__ == "__main__":
    cli_main(main)
