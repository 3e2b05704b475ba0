"""DeepSeek-R1 (section 2.3, numbered as in arXiv v1): the four stages after R1-Zero, end to end.

    python train_r1.py                          # the cpu preset (10-18 min on 2 cores with the cpu base cached: docs/r1.md)
    python train_r1.py --preset smoke           # tiny, < 1 minute; CI runs it as a test
    python train_r1.py --stages reasoning_rl,r1 --out runs/r1/cpu-...   # re-run some stages of a run
    python train_r1.py --resume runs/r1/cpu-20261201-140000                # continue a killed run
    python train_r1.py --reeval 512 --out runs/r1/cpu-20261201-140000      # its stages on a 512-question held-out draw, vs R1-Zero
    python train_r1.py --estimate / --dry-run   # the cost model's table / every phase for a step at full size (docs/gpu.md)

The stages, in the paper's order, each one a function below and a folder in the run:
    r1_zero             2.2      R1-Zero: pure GRPO on the base (train_zero.py's recipe), the row to beat; cached
                                 beside the base, so a later run of the same recipe, base and code reuses it
    cold_start          2.3.1    a few thousand readable long CoTs (|special_token|reasoning|special_token|summary):
                                 task-generator solutions with verification + correct R1-Zero outputs made readable;
                                 SFT of the BASE on them (r1mini/cold_start.py, r1mini/sft.py)
    reasoning_rl        2.3.2    GRPO from the cold-start model on English and Chinese questions;
                                 reward = accuracy + language consistency, summed (r1mini/grpo.py, rewards.py)
    no_language_reward  2.3.2    the paper's ablation: the same stage without the language reward
    rejection_sft       2.3.3    sample the stage-2 model, keep correct and clean responses (r1mini/rejection.py),
                                 add non-reasoning data (r1mini/toy/general.py; each kind's share ~ sqrt of its request
                                 count), fine-tune the BASE 2 epochs on the union;
                                 writes sft_data.jsonl (what distill.py trains students on: the paper's 800k)
    r1                  2.3.4    learned reward models (Bradley-Terry, r1mini/reward_model.py; started from the
                                 stage-3 model) for general prompts
                                 (helpfulness on the summary, harmlessness on the whole response) beside the rules
                                 for reasoning; a second GRPO stage over both. The gold annotator (general.py) only
                                 labels the pairs and evaluates; it is logged beside the learned reward.

Every stage writes model.pt, its metrics and eval.json into its folder; done.json marks it finished, so
`--resume` skips finished stages (an RL stage also resumes mid-way from its ckpt.pt). The run ends with
report.md: the developmental-stage table (Table 4 analog), the differences the goals ask about (R1 - R1-Zero,
2.3.2 - its ablation, R1 - stage 3) paired over the same questions with their standard errors, and example
responses per stage. `--json PATH` writes the table's figures ("stages") and those differences ("paired").
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
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
    given_config_flags,
    get_device,
    key_hash,
    load_checkpoint,
    pick_preset,
    resume_overrides,
    rng_state,
    set_rng_state,
    set_seed,
    write_json,
)
from r1mini.evaluate import (
    EvalConfig,
    complete,
    eval_sets,
    evaluate_general,
    evaluate_problems,
    paired,
    r1_prompt_of,
    zero_prompt,
)
from r1mini.toy.general import check_power
from r1mini.grpo import GRPOConfig, GRPOTrainer
from r1mini.engine.model import load_model, model_state
from r1mini.toy.pretrain import ensure_base
from r1mini.rewards import total_reward
from r1mini.toy.tasks import TASK_MIXES, TaskMix, get_mix, heldout
from r1mini.template import parse_r1_completion
from r1mini.engine.tokenizer import get_tokenizer

STAGES = ("r1_zero", "cold_start", "reasoning_rl", "no_language_reward", "rejection_sft", "r1")
ROWS = ("base",) + STAGES
NEEDS = {  # the checkpoint each stage starts from (besides the base)
    "r1_zero": None, "cold_start": "r1_zero", "reasoning_rl": "cold_start", "no_language_reward": "cold_start",
    "rejection_sft": "reasoning_rl", "r1": "rejection_sft",
}  # fmt: skip


@dataclass
class R1Config:
    base: str = "cpu"  # pretrain preset of the base model (cached under base_root), the DeepSeek-V3-Base stand-in
    base_root: str = "runs/base"  # where cached base models live
    zero_preset: str = "cpu"  # train_zero.py preset for the R1-Zero row
    zero_ckpt: str = ""  # an R1-Zero model.pt to reuse instead of training one ("" = train it in this run)
    zero_cache: bool = (
        True  # reuse the R1-Zero policy cached beside the base for this recipe, base and code; else train and cache it
    )
    mix: str = "cpu"  # task mix whose test split is the held-out set of every row (R1-Zero's: train_zero's cpu preset trains on it)
    train_mix: str = "cpu_wide"  # task mix of the reasoning prompts of 2.3.1-2.3.4 (r1mini/toy/tasks.py): cpu + a few 3-digit operands
    zh: float = 0.5  # share of Chinese questions in the reasoning prompts of stages 2.3.1-2.3.4
    sft: str = "cpu"  # SFT preset (r1mini/sft.py) of 2.3.1 and 2.3.3
    # 2.3.1 cold start
    cold_generator: int = 2000  # cold-start examples written by the task generators
    cold_zero_problems: int = 512  # train questions R1-Zero answers for the cold-start set
    cold_zero_k: int = 2  # R1-Zero samples per such question
    cold_epochs: int = 2  # SFT epochs on the cold-start set
    # 2.3.2 reasoning-oriented RL
    reasoning_steps: int = 50  # GRPO steps of 2.3.2 (and of its ablation); its training accuracy levels off by step ~50
    language_weight: float = 1.0  # weight of the language-consistency reward, summed with accuracy (2.3.2)
    ablation: bool = True  # also run 2.3.2 without the language reward (the paper's ablation row)
    # 2.3.3 rejection sampling and SFT
    rs_problems: int = 2400  # train questions sampled from the stage-2 model
    rs_k: int = 2  # responses per question (the stage-2 policy repeats itself at T = 1: 800 x 4 kept 930 distinct, 2400 x 2 kept 2034)
    rs_max_tokens: int = 140  # longer responses are dropped as overlong
    general_sft: int = 4500  # non-reasoning SFT examples (writing, factual QA, self-cognition, translation; 1500 left them half-learned, 3000 underfit them: docs/r1.md)
    general_power: float = 0.5  # a kind's share of them goes as its train request count ** power (0: equal shares; translation has 850 requests, greeting 20: docs/r1.md)
    sft_epochs: int = 2  # the paper: 2 epochs on the union, starting from the base
    # 2.3.4 RL for all scenarios
    rm: str = "cpu"  # preset of the helpfulness reward model (r1mini/reward_model.py)
    rm_harmless: str = "cpu_whole"  # preset of the harmlessness reward model
    rm_init: str = "rejection_sft"  # the checkpoint both reward models' bodies start from: "rejection_sft" (the stage-3 SFT model, as DeepSeek-V3's) or "base"
    rm_prompts: int = (
        400  # general train prompts (every kind) whose sampled responses become the helpfulness model's pairs
    )
    rm_harmless_prompts: int = 900  # adversarial train prompts whose sampled responses become the harmlessness model's pairs (300 gave ~270 pairs and 0.84-0.88 held out, 900 ~800 and 0.92-0.99: docs/r1.md)
    rm_k: int = 4  # responses sampled per such prompt (labelled pairs: the annotator's preferences between them)
    rm_written: int = (
        2  # written responses with the "noisy" faults per train prompt, paired with one another and those below
    )
    rm_offtopic: int = 4  # right answers to OTHER train requests added per train prompt (off-topic negatives; 0 = none)
    rm_repeat: bool = (
        True  # add the right answer, plain and said twice, and an off-topic one said twice (length negatives)
    )
    rm_written_pairs: int = 4  # pairs kept per train prompt among its written responses (0 = all)
    rm_temperature: float = 1.0  # sampling temperature of the stage-3 responses that are paired
    rm_test_prompts: int = 200  # held-out general prompts (adversarial ones for harmlessness) whose sampled responses make each model's held-out pairs
    all_steps: int = 50  # GRPO steps of 2.3.4 (with 2.3.2's 50, R1-Zero's 100); 50 left R1 safer than 25 with every seed, and the gold helpfulness on the training prompts did not fall (docs/r1.md)
    all_beta: float = (
        0.04  # KL coefficient beta of 2.3.4's GRPO (eq. 1): pi_ref = the stage-3 model, against reward hacking
    )
    general_share: float = 0.5  # share of general prompts among each step's questions in 2.3.4
    adversarial_share: float = 0.25  # share of adversarial requests (private codes, rude) among those general prompts
    # evaluation (section 3)
    final_n: int = 128  # held-out English questions (the R1-Zero held-out set); as many Chinese ones are drawn too
    final_k: int = (
        4  # samples per question: pass@1 over k, cons@k (the paper: k = 4 to 64 by test-set size; distill.py uses 4)
    )
    general_n: int = 96  # held-out general prompts (helpfulness) and adversarial ones (harmlessness)
    benchmarks: str = "medium,hard"  # fixed benchmark sets ("" = none)
    max_new_tokens: int = 160  # response budget of sampling in every R1 stage and in evaluation
    device: str = "auto"  # cuda, then mps, then cpu
    seed: int = 0  # every stage seeds from it
    # GRPO settings of 2.3.2 and 2.3.4 (steps set per stage); micro-batches of 4 questions: each padded to its own longest
    # output, not the step's (the same update; a third less update time in 2.3.4, where short general answers sit beside long chains)
    rl: GRPOConfig = field(default_factory=lambda: GRPOConfig(lr=1e-4, beta=0.0, precision="bf16", micro_batch=4))

    def validate(self) -> None:
        for mix in (self.mix, self.train_mix):
            get_mix(mix)  # raises ConfigError for an unknown mix
        for name in ("zh", "general_share", "adversarial_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} is a share in [0, 1], got {getattr(self, name)}")
        if self.rm_init not in ("base", "rejection_sft"):
            raise ConfigError(
                f"rm_init = {self.rm_init!r}: the reward models start from 'rejection_sft' (the stage-3 SFT model) or 'base'"
            )
        check_power(self.general_power, "general_power")
        if self.rm_temperature <= 0 or self.all_beta < 0:
            raise ConfigError(
                f"need rm_temperature > 0 and all_beta >= 0, got {self.rm_temperature} and {self.all_beta}"
            )
        for name in ("cold_epochs", "rs_k", "rm_k", "final_k", "sft_epochs", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "cold_generator",
            "cold_zero_problems",
            "reasoning_steps",
            "rs_problems",
            "general_sft",
            "rm_prompts",
            "rm_harmless_prompts",
            "rm_written",
            "rm_offtopic",
            "rm_written_pairs",
            "rm_test_prompts",
            "all_steps",
            "final_n",
            "general_n",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        self.rl.validate()


R1_PRESETS = {
    "smoke": R1Config(
        base="smoke", zero_preset="smoke", mix="smoke", train_mix="smoke", sft="smoke", rm="smoke",
        cold_generator=200, cold_zero_problems=16, cold_zero_k=2, cold_epochs=1, reasoning_steps=6,
        rs_problems=24, rs_k=2, general_sft=80, sft_epochs=1, rm_harmless="smoke", rm_prompts=24, rm_harmless_prompts=24, rm_k=2, rm_test_prompts=8, all_steps=4,
        final_n=12, final_k=2, general_n=8, benchmarks="", max_new_tokens=64,
        rl=GRPOConfig(questions=4, G=4, lr=3e-4, beta=0.0),
    ),
    "cpu": R1Config(),
    "gpu": R1Config(
        base="gpu", zero_preset="gpu", mix="gpu", train_mix="gpu", sft="cpu", rm="cpu", cold_generator=8000, cold_zero_problems=2048,
        reasoning_steps=400, rs_problems=8000, general_sft=6000, rm_prompts=3000, rm_harmless_prompts=1500, rm_test_prompts=500, all_steps=300, final_n=256,
        final_k=16, general_n=256, max_new_tokens=320, rl=GRPOConfig(questions=64, G=16, lr=5e-5, beta=0.0),
    ),
}  # fmt: skip


# ----------------------------------------------------------------------------- the run's context


@dataclass
class Run:
    """What every stage needs: the config, the run folder, the tokenizer, the device, the base checkpoint."""

    cfg: R1Config
    dir: Path
    tok: object
    device: torch.device
    base_path: Path
    quiet: bool = False

    def stage_dir(self, stage: str) -> Path:
        d = self.dir / stage
        d.mkdir(parents=True, exist_ok=True)
        return d

    def model_path(self, stage: str) -> Path:
        if stage == "base":
            return self.base_path
        if stage == "r1_zero" and self.cfg.zero_ckpt:
            return Path(self.cfg.zero_ckpt)
        return self.dir / stage / "model.pt"

    def load(self, stage: str):
        path = self.model_path(stage)
        if not path.is_file():
            raise ConfigError(f"stage {stage!r} has no checkpoint at {path}: run it first (--stages {stage})")
        return load_model(path, self.device)[0]

    def log(self, msg: str) -> None:
        if not self.quiet:
            tqdm.write(msg)


def r1_readable(text: str, problem=None) -> float:
    """R1's readable format (2.3.1): |special_token|reasoning|special_token|summary."""
    return float(parse_r1_completion(text) is not None)


def reasoning_mix(cfg: R1Config) -> TaskMix:
    """The reasoning prompts of the R1 stages: cfg.train_mix with cfg.zh of them in Chinese."""
    return TaskMix(get_mix(cfg.train_mix).parts, cfg.zh)


def train_problems(cfg: R1Config, n: int, seed: str) -> list:
    """n train-split reasoning questions, half-and-half-ish English and Chinese (cfg.zh), fixed by the seed."""
    return reasoning_mix(cfg).sample(random.Random(f"{cfg.seed}/{seed}"), n, split="train")


# ----------------------------------------------------------------------------- evaluation (section 3)


def heldout_sets(cfg: R1Config, n: int, seed: int) -> dict:
    """n questions of the test split of cfg.mix in English ("heldout", seed) and in Chinese ("heldout_zh", seed + 1)."""
    mix = get_mix(cfg.mix)
    return {"heldout": heldout(mix, n, seed=seed), "heldout_zh": heldout(TaskMix(mix.parts, zh=1.0), n, seed=seed + 1)}


def eval_model(run: Run, model, zero: bool, general: bool = True, sets: dict | None = None) -> dict:
    """The figures of one row of the stage table. R1-Zero and the base answer under Table 1's template
    (how R1-Zero is trained and used); every R1 stage under the chat prompt in R1's format.
    general=False skips the general prompts (distill.py's table has no helpfulness column).
    sets: the reasoning sets {name: problems} to answer (reevaluate's draw); default the table's: final_n
    questions of the English and Chinese test splits (seeds 1234 and 4321) and the benchmarks."""
    cfg = run.cfg
    if sets is None:
        sets = eval_sets(["heldout"] + [b for b in cfg.benchmarks.split(",") if b], cfg.mix, cfg.final_n)
        sets["heldout_zh"] = heldout(TaskMix(get_mix(cfg.mix).parts, zh=1.0), cfg.final_n, seed=4321)
    ecfg = EvalConfig(
        k=cfg.final_k, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, greedy=False
    )  # the table shows no greedy column
    prompt_fn, format_fn = (zero_prompt, None) if zero else (r1_prompt_of, r1_readable)
    kw = {} if format_fn is None else {"format_fn": format_fn}
    results = {
        name: evaluate_problems(model, run.tok, probs, ecfg, prompt_fn=prompt_fn, **kw) for name, probs in sets.items()
    }
    gcfg = EvalConfig(k=2, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, greedy=False)
    gen = (
        evaluate_general(model, run.tok, cfg.general_n, gcfg, seed=cfg.seed)
        if general
        else {"helpfulness": None, "harmlessness": None}
    )
    return {"reasoning": results, "general": gen, "template": "table1" if zero else "r1"}


def row_figures(ev: dict, k: int) -> dict:
    """The stage table's columns from one eval.json (shares in [0, 1])."""
    r = ev["reasoning"]
    both = [r["heldout"]["all"], r["heldout_zh"]["all"]]
    get = lambda name, key: r[name]["all"].get(key) if name in r else None  # noqa: E731 (None: set not evaluated, or an older eval.json)
    return {
        "heldout_pass@1": get("heldout", "pass@1"),
        "heldout_zh_pass@1": get("heldout_zh", "pass@1"),
        "medium_pass@1": get("medium", "pass@1"),
        "hard_pass@1": get("hard", "pass@1"),
        f"cons@{k}": get("heldout", f"cons@{k}"),
        "mixing_zh": get("heldout_zh", "mixed_lang"),
        "mixing_en": get("heldout", "mixed_lang"),
        "off_language_zh": get(
            "heldout_zh", "off_lang"
        ),  # the chain of thought not in Chinese: mixed, or wholly English
        "readability": 0.0 if ev["template"] == "table1" else sum(s["format"] for s in both) / 2,
        "length": sum(s["length"] for s in both) / 2,
        "helpfulness": ev["general"]["helpfulness"],
        "harmlessness": ev["general"]["harmlessness"],
    }


def finish_stage(run: Run, stage: str, model, extra: dict, seconds: float) -> dict:
    """Save the model, evaluate it, write eval.json and (last) done.json."""
    d = run.stage_dir(stage)
    if model is not None and not (stage == "r1_zero" and run.cfg.zero_ckpt):
        atomic_save(model_state(model), d / "model.pt")
    t0 = time.time()
    ev = eval_model(run, model, zero=stage in ("base", "r1_zero"))
    write_json(ev, d / "eval.json")
    done = {
        "stage": stage,
        "seconds": seconds,
        "eval_seconds": time.time() - t0,
        **extra,
        "figures": row_figures(ev, run.cfg.final_k),
    }
    write_json(done, d / "done.json")
    run.log(f"[{stage}] " + ", ".join(f"{k} {v:.3f}" for k, v in done["figures"].items() if isinstance(v, float)))
    return done


# ----------------------------------------------------------------------------- RL (shared by 2.3.2 and 2.3.4)


def run_grpo(
    run: Run,
    stage: str,
    policy,
    reward_fn,
    problems_for_step,
    steps: int,
    desc: str,
    after_step=None,
    reward_batch_fn=None,
    rl=None,
    prompt_fn=r1_prompt_of,
):
    """GRPO (r1mini/grpo.py) for `steps` steps with a resumable ckpt.pt and a metrics.jsonl in the stage folder.
    reward_batch_fn: GRPOTrainer's optional batched reward; rl: the GRPOConfig (default run.cfg.rl);
    prompt_fn: R1's chat prompt, or evaluate.zero_prompt for R1-Zero's recipe (distill.py's RL-only students)."""
    cfg = dataclasses.replace(rl or run.cfg.rl, steps=steps, max_new_tokens=run.cfg.max_new_tokens, seed=run.cfg.seed)
    trainer = GRPOTrainer(policy, run.tok, prompt_fn, reward_fn, cfg, reward_batch_fn=reward_batch_fn)
    d = run.stage_dir(stage)
    ckpt, metrics = d / "ckpt.pt", d / "metrics.jsonl"
    if ckpt.is_file():
        ck = load_checkpoint(ckpt, keys=("trainer", "rng"), what="an R1 stage checkpoint")
        trainer.load_state_dict(ck["trainer"])
        set_rng_state(ck["rng"])
        keep = (
            [ln for ln in metrics.read_text().splitlines() if _step_of(ln) <= trainer.step_idx]
            if metrics.is_file()
            else []
        )
        atomic_write_bytes(metrics, "".join(ln + "\n" for ln in keep).encode())
        run.log(f"[{stage}] resumed at step {trainer.step_idx}")
    else:
        metrics.unlink(missing_ok=True)
    t0 = time.time()
    bar = tqdm(range(trainer.step_idx, steps), desc=desc, initial=trainer.step_idx, total=steps, disable=run.quiet)
    for step in bar:
        stats = trainer.step(problems_for_step(step))
        stats.pop("_texts")
        if after_step is not None:
            stats.update(after_step())
        with open(metrics, "a") as f:
            f.write(json.dumps(stats) + "\n")
        shown = {
            k: f"{stats[k]:.2f}"
            for k in ("reward", "reward_accuracy", "reward_language", "gold_helpful", "gold_harmless", "rm_general")
            if k in stats
        }
        bar.set_postfix(**shown, len=f"{stats['response_len']:.0f}", tok_s=f"{stats['tokens_per_s']:,.0f}")
        if (step + 1) % 10 == 0 or step + 1 == steps:
            atomic_save({"trainer": trainer.state_dict(), "rng": rng_state()}, ckpt)
    return policy, time.time() - t0


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 30  # a half-written line: dropped


# ----------------------------------------------------------------------------- the stages


ZERO_RUN_EVAL_N = 16  # held-out questions of the R1-Zero sub-run's own before/after table (k = 1): a sanity check


def zero_config(cfg: R1Config):
    """The ZeroConfig of the R1-Zero row: train_zero.py's preset, the same RL, without the held-out curve and the
    benchmarks of its own report, and with a before/after table of only ZERO_RUN_EVAL_N questions at k = 1:
    finish_stage evaluates the policy for the stage table (the full before/after cost 16 s of a 20-minute run)."""
    from train_zero import ZERO_PRESETS  # noqa: PLC0415 (a script beside this one)

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
        run.log(
            f"reusing the cached R1-Zero policy {cache} (same recipe, base and code; --zero-cache false trains a new one)"
        )
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


def stage_cold_start(run: Run) -> dict:
    """2.3.1: build the cold-start set and fine-tune the base on it."""
    from r1mini.cold_start import build_cold_start, sample_zero_outputs
    from r1mini.sft import SFT_PRESETS, train_sft, write_jsonl

    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    zero = run.load("r1_zero")
    outs = sample_zero_outputs(
        zero,
        run.tok,
        train_problems(cfg, cfg.cold_zero_problems, "cold_zero"),
        cfg.cold_zero_k,
        max_new_tokens=cfg.max_new_tokens,
        temperature=1.0,
        seed=cfg.seed,
    )
    examples, counts = build_cold_start(outs, cfg.cold_generator, reasoning_mix(cfg), cfg.seed)
    d = run.stage_dir("cold_start")
    write_jsonl(examples, d / "cold_start.jsonl")
    model = run.load("base")
    scfg = dataclasses.replace(pick_preset(SFT_PRESETS, cfg.sft, "SFT preset"), epochs=cfg.cold_epochs, seed=cfg.seed)
    stats = train_sft(model, run.tok, examples, scfg, quiet=run.quiet, desc="2.3.1 cold-start SFT")
    return finish_stage(
        run, "cold_start", model, {"set": counts, "size": len(examples), "sft": stats}, time.time() - t0
    )


def reasoning_reward(language_weight: float):
    """2.3.2: accuracy + language consistency, summed (a weight of 0 is the ablation)."""
    weights = {"accuracy": 1.0, "language": language_weight}
    return lambda completion, problem: total_reward(completion, problem, weights)


def stage_reasoning_rl(run: Run, stage: str = "reasoning_rl") -> dict:
    """2.3.2: GRPO from the cold-start model on English and Chinese questions."""
    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    weight = cfg.language_weight if stage == "reasoning_rl" else 0.0
    policy = run.load("cold_start")
    B = cfg.rl.questions
    mix = reasoning_mix(cfg)
    problems = lambda step: mix.sample(random.Random(f"{cfg.seed}/reasoning/{step}"), B, split="train")  # noqa: E731
    policy, rl_s = run_grpo(
        run, stage, policy, reasoning_reward(weight), problems, cfg.reasoning_steps, f"2.3.2 {stage}"
    )
    return finish_stage(run, stage, policy, {"language_weight": weight, "rl_seconds": rl_s}, time.time() - t0)


def stage_rejection_sft(run: Run) -> dict:
    """2.3.3: rejection-sample the stage-2 model, add non-reasoning data, SFT the BASE for 2 epochs."""
    from r1mini.toy.general import general_prompts, sft_examples
    from r1mini.rejection import rejection_sample
    from r1mini.sft import SFT_PRESETS, train_sft, write_jsonl

    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    rl_model = run.load("reasoning_rl")
    problems = train_problems(cfg, cfg.rs_problems, "rejection")
    reasoning, drops = rejection_sample(
        rl_model,
        run.tok,
        problems,
        cfg.rs_k,
        max_new_tokens=cfg.max_new_tokens,
        temperature=1.0,
        seed=cfg.seed,
        max_tokens=cfg.rs_max_tokens,
    )
    del rl_model
    general = sft_examples(
        general_prompts(cfg.general_sft, "train", cfg.seed, power=cfg.general_power), random.Random(cfg.seed)
    )
    data = reasoning + general
    d = run.stage_dir("rejection_sft")
    write_jsonl(data, d / "sft_data.jsonl")
    model = run.load("base")  # the paper fine-tunes DeepSeek-V3-Base, not the RL checkpoint
    scfg = dataclasses.replace(pick_preset(SFT_PRESETS, cfg.sft, "SFT preset"), epochs=cfg.sft_epochs, seed=cfg.seed)
    stats = train_sft(model, run.tok, data, scfg, quiet=run.quiet, desc="2.3.3 SFT on the base")
    counts = {"reasoning": len(reasoning), "general": len(general), "drops": drops}
    return finish_stage(run, "rejection_sft", model, {"set": counts, "size": len(data), "sft": stats}, time.time() - t0)


def _sample_general(
    model, tok, prompts, k: int, max_new_tokens: int, seed: int, temperature: float = 1.0
) -> list[list[str]]:
    """k responses per general prompt (temperature >= 1: the spread the preference pairs need)."""
    ecfg = EvalConfig(k=k, max_new_tokens=max_new_tokens, seed=seed, greedy=False)
    return [
        [text for text, _ in outs]
        for outs in complete(model, tok, prompts, k, ecfg, temperature=temperature, prompt_fn=r1_prompt_of)
    ]


def reward_model_pairs(run: Run, policy, what: str, split: str) -> list[tuple[str, object]]:
    """(kind, Pair) for one reward model ("helpful": every kind, "harmless": the adversarial ones) and split: the
    annotator's preferences between rm_k responses sampled from the stage-3 model per prompt; for "train" also
    between written responses per prompt (general.written_responses: noisy, and for helpfulness off-topic and
    repeated), at most rm_written_pairs of them per prompt. Held-out ("test") pairs are sampled responses to test
    prompts only."""
    from r1mini.toy.general import (
        ADVERSARIAL_KINDS,
        general_prompts,
        gold_harmless,
        gold_helpfulness,
        written_responses,
    )
    from r1mini.reward_model import preference_pairs

    cfg = run.cfg
    gold = gold_helpfulness if what == "helpful" else gold_harmless
    kinds = ADVERSARIAL_KINDS if what == "harmless" else None  # other prompts are (nearly) always harmless: no pairs
    n_train = cfg.rm_prompts if what == "helpful" else cfg.rm_harmless_prompts
    prompts = general_prompts(n_train if split == "train" else cfg.rm_test_prompts, split, cfg.seed, kinds=kinds)
    sampled = _sample_general(
        policy, run.tok, prompts, cfg.rm_k, cfg.max_new_tokens, cfg.seed + (split == "test"), cfg.rm_temperature
    )
    rng = random.Random(f"{cfg.seed}/{what}/{split}")
    groups = [(p, rs, None) for p, rs in zip(prompts, sampled)]
    if split == "train":  # plus written responses of varied quality (as demonstrations and red-teaming give)
        # off-topic and repeated answers only for helpfulness: to harmlessness they are safe declines like the rest
        offtopic, repeat = (cfg.rm_offtopic, cfg.rm_repeat) if what == "helpful" else (0, False)
        groups += [
            (p, written_responses(p, rng, cfg.rm_written, prompts, offtopic, repeat), cfg.rm_written_pairs or None)
            for p in prompts
        ]
    return [
        (p.kind, pair)
        for p, rs, cap in groups
        for pair in preference_pairs(r1_prompt_of(p), rs, [gold(p, r) for r in rs], cap, rng)
    ]


def train_reward_models(run: Run, policy) -> tuple[dict, dict]:
    """2.3.4: preference pairs from the stage-3 model's responses (and written ones), labelled by the hidden
    annotator; one Bradley-Terry reward model for helpfulness (reads the summary) and one for harmlessness (reads
    all), each initialised from the checkpoint rm_init names (the stage-3 SFT model by default). Held-out pair accuracy overall and per kind of request."""
    from r1mini.reward_model import RM_PRESETS, RewardModel, pair_accuracy, rm_state, train_reward_model

    cfg = run.cfg
    rms, info = {}, {}
    for view, what, preset in (("summary", "helpful", cfg.rm), ("whole", "harmless", cfg.rm_harmless)):
        rmcfg = dataclasses.replace(pick_preset(RM_PRESETS, preset, f"{what} reward-model preset"), seed=cfg.seed)
        train, test = (reward_model_pairs(run, policy, what, split) for split in ("train", "test"))
        rm = RewardModel.from_checkpoint(run.model_path(cfg.rm_init)).to(run.device)
        stats = train_reward_model(rm, run.tok, [pair for _, pair in train], rmcfg, view, quiet=run.quiet)
        acc = pair_accuracy(rm, run.tok, [pair for _, pair in test], view)  # nan without held-out pairs
        by_kind = {
            k: pair_accuracy(rm, run.tok, [pair for kind, pair in test if kind == k], view)
            for k in sorted({kind for kind, _ in test})
        }
        atomic_save(rm_state(rm, view=view, heldout_accuracy=acc), run.stage_dir("r1") / f"rm_{what}.pt")
        rms[what] = rm
        info[what] = {
            "view": view,
            "preset": preset,
            "init": cfg.rm_init,
            "epochs": rmcfg.epochs,
            "lr": rmcfg.lr,
            "train_pairs": len(train),
            "test_pairs": len(test),
            "heldout_pair_accuracy": acc,
            "heldout_pair_accuracy_by_kind": by_kind,
            "test_pairs_by_kind": {k: sum(kind == k for kind, _ in test) for k in by_kind},
            **stats,
        }
        run.log(
            f"[r1] reward model '{what}' ({view}): {len(train)} pairs, held-out pair accuracy {acc:.3f} on {len(test)} pairs"
        )
    return rms, info


def all_scenarios_reward(rms: dict, tok, rules, log: list):
    """2.3.4's reward for a step's N outputs at once (GRPOTrainer's reward_batch_fn): texts, items ->
    [(total, {"rule", "rm"})]. A reasoning question gets the rules (accuracy + language); a general request
    sigmoid(helpfulness RM on the summary) + sigmoid(harmlessness RM on the whole response), each model scoring
    all of the step's general outputs in one batched reward_model.score call. The hidden annotator's gold
    scores of those outputs go to `log`, to be logged beside the learned reward (never a reward)."""
    from r1mini.toy.general import GeneralPrompt, gold_harmless, gold_helpfulness
    from r1mini.reward_model import score

    def reward(texts: list[str], items: list) -> list[tuple[float, dict]]:
        general = [i for i, item in enumerate(items) if isinstance(item, GeneralPrompt)]
        prompts, outs = [r1_prompt_of(items[i]) for i in general], [texts[i] for i in general]
        rm = torch.zeros(len(general))  # [n]
        if general:
            rm = torch.sigmoid(score(rms["helpful"], tok, prompts, outs, "summary")) + torch.sigmoid(
                score(rms["harmless"], tok, prompts, outs, "whole")
            )  # [n]
        learned = dict(zip(general, rm.tolist()))
        out = []
        for i, (text, item) in enumerate(zip(texts, items)):
            if i in learned:
                log.append(
                    {
                        "rm": learned[i],
                        "gold_helpful": gold_helpfulness(item, text),
                        "gold_harmless": gold_harmless(item, text),
                        "adversarial": item.adversarial,
                    }
                )
                out.append((learned[i], {"rule": 0.0, "rm": learned[i]}))
            else:
                total, _ = rules(text, item)
                out.append((total, {"rule": total, "rm": 0.0}))
        return out

    return reward


def step_gold_figures(log: list[dict]) -> dict:
    """One 2.3.4 step's general rows (all_scenarios_reward's log) -> the figures logged beside the learned
    reward, each over the requests the held-out evaluation judges it on (evaluate.evaluate_general):
    rm_general = mean learned reward over all general rows, gold_helpful = mean gold helpfulness over the
    helpfulness requests, gold_harmless = share of safe responses to the adversarial requests (nan: no such row).

    >>> step_gold_figures([{"rm": 1.0, "gold_helpful": 0.5, "gold_harmless": 1.0, "adversarial": False},
    ...                    {"rm": 0.0, "gold_helpful": 1.0, "gold_harmless": 0.0, "adversarial": True}])
    {'rm_general': 0.5, 'gold_helpful': 0.5, 'gold_harmless': 0.0}
    """
    nan = float("nan")
    mean = lambda xs: sum(xs) / len(xs) if xs else nan  # noqa: E731
    return {
        "rm_general": mean([x["rm"] for x in log]),
        "gold_helpful": mean([x["gold_helpful"] for x in log if not x["adversarial"]]),
        "gold_harmless": mean([x["gold_harmless"] for x in log if x["adversarial"]]),
    }


def all_scenarios_questions(cfg: R1Config, step: int) -> list:
    """The questions of one 2.3.4 GRPO step: general_share of cfg.rl.questions are general train requests
    (adversarial_share of them adversarial, the rest helpfulness requests, kinds in turn), the rest reasoning
    train problems of the mix. Reproducible from (seed, step)."""
    from r1mini.toy.general import ADVERSARIAL_KINDS, HELPFUL_KINDS, general_prompts

    B = cfg.rl.questions
    n_general = round(B * cfg.general_share)
    n_adversarial = round(n_general * cfg.adversarial_share)
    seed = f"{cfg.seed}/all/{step}"  # one random stream per draw: the i-th adversarial request is not tied to the i-th helpful one
    general = general_prompts(n_general - n_adversarial, "train", f"{seed}/helpful", kinds=HELPFUL_KINDS)
    general += general_prompts(n_adversarial, "train", f"{seed}/adversarial", kinds=ADVERSARIAL_KINDS)
    return general + reasoning_mix(cfg).sample(random.Random(seed), B - n_general, split="train")


def stage_r1(run: Run) -> dict:
    """2.3.4: RL for all scenarios: rules for reasoning questions, learned reward models for general ones."""
    cfg, t0 = run.cfg, time.time()
    set_seed(cfg.seed)
    policy = run.load("rejection_sft")
    rms, rm_info = train_reward_models(run, policy)
    log: list[dict] = []  # the general rows of the current step: learned reward and gold scores
    batch_reward = all_scenarios_reward(rms, run.tok, reasoning_reward(cfg.language_weight), log)
    reward = lambda completion, item: batch_reward([completion], [item])[0]  # noqa: E731 (one output: the same reward)

    def after_step() -> dict:
        out = step_gold_figures(log)
        log.clear()
        return out

    rl = dataclasses.replace(cfg.rl, beta=cfg.all_beta)
    problems = functools.partial(all_scenarios_questions, cfg)  # step -> the step's questions
    policy, rl_s = run_grpo(
        run,
        "r1",
        policy,
        reward,
        problems,
        cfg.all_steps,
        "2.3.4 RL all scenarios",
        after_step,
        reward_batch_fn=batch_reward,
        rl=rl,
    )
    return finish_stage(run, "r1", policy, {"reward_models": rm_info, "rl_seconds": rl_s}, time.time() - t0)


STAGE_FNS = {
    "r1_zero": stage_r1_zero,
    "cold_start": stage_cold_start,
    "reasoning_rl": stage_reasoning_rl,
    "no_language_reward": lambda run: stage_reasoning_rl(run, "no_language_reward"),
    "rejection_sft": stage_rejection_sft,
    "r1": stage_r1,
}


# ----------------------------------------------------------------------------- report

# the differences the goals and the paper's ablation ask about: (a, b) -> a - b, each over the same questions
COMPARISONS = {("r1", "r1_zero"): "R1 - R1-Zero (the goal: >= 0)", ("reasoning_rl", "no_language_reward"): "2.3.2 - its ablation (the language reward's cost)",
               ("r1", "rejection_sft"): "R1 - stage 3 (what 2.3.4 adds)"}  # fmt: skip
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


ROW_NAMES = {"base": "base (DeepSeek-V3-Base stand-in)", "r1_zero": "R1-Zero", "cold_start": "cold start (2.3.1)",
             "reasoning_rl": "+ reasoning RL (2.3.2)", "rejection_sft": "+ rejection sampling SFT (2.3.3)",
             "r1": "+ RL all scenarios = R1 (2.3.4)", "no_language_reward": "ablation: 2.3.2 without the language reward"}  # fmt: skip
REEVAL_DRAW = 777  # the seed of reevaluate's draw of held-out questions (the table's: 1234 and 4321)


def reevaluate(run_dir: Path, n: int, quiet: bool = False) -> dict:
    """Every finished stage of a run evaluated again on a larger draw of held-out questions, n per language (the
    same test splits, seeds REEVAL_DRAW and REEVAL_DRAW + 1, so it overlaps the table's: 82 of its 128 English
    questions at n = 512; the run's k, budget and sampling seed), each paired with the R1-Zero row: for
    differences the table's 128 questions are too few to show (the s.e. goes as 1 / sqrt(n)).

        python train_r1.py --reeval 512 --out runs/r1/cpu-s11   # -> runs/r1/cpu-s11/reeval-512.json, ~20 s a stage on 2 cores

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
        print(
            f"| stage ({n} held-out questions x {cfg.final_k}) | English pass@1 | Chinese pass@1 | - R1-Zero, English | - R1-Zero, Chinese |"
        )
        print("|---|---|---|---|---|")
        for s, figs in out["stages"].items():
            d = out["paired"].get(f"{s} - r1_zero", {})
            pm = [f"{d[k][0]:+.3f} +- {d[k][1]:.3f}" if k in d else "" for k in ("heldout", "heldout_zh")]
            print(
                f"| {ROW_NAMES[s]} | {figs['heldout_pass@1']:.3f} | {figs['heldout_zh_pass@1']:.3f} | {pm[0]} | {pm[1]} |"
            )
    return out


def write_report(run: Run, done: dict, diffs: dict) -> str:
    """report.md: the stage table, `diffs` (paired_comparisons) and example responses per stage."""
    cfg, k = run.cfg, run.cfg.final_k
    cols = ["heldout_pass@1", "heldout_zh_pass@1", "medium_pass@1", "hard_pass@1", f"cons@{k}", "mixing_zh", "mixing_en",
            "off_language_zh", "readability", "length", "helpfulness", "harmlessness"]  # fmt: skip
    lines = [
        "# DeepSeek-R1 run report", "",
        f"Command: `{command_line()}`  ",
        f"Device: {run.device}; base `{cfg.base}`; reasoning prompts of the R1 stages from mix `{cfg.train_mix}` ({cfg.zh:.0%} Chinese); "
        f"held-out questions from the test split of mix `{cfg.mix}`.", "",
        f"## Stage table (pass@1 over k={k} samples at T=0.6, top-p 0.95; held-out questions and prompts only)", "",
        "The base and R1-Zero answer under Table 1's template (readability in R1's format is 0 by construction);",
        "every R1 stage answers the chat prompt in R1's format. mixing_zh / mixing_en: share of responses whose",
        "chain of thought holds both English words and Chinese characters, on Chinese / English questions;",
        "off_language_zh: share of responses to Chinese questions whose chain of thought is not in Chinese (mixed, or all English).",
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
                  "a - b of each question's pass rate over its k samples (metrics.paired_difference); a difference under",
                  "2 s.e. is within the noise of this evaluation.", "",
                  "| a - b | " + " | ".join(f"{s}_pass@1" for s in COMPARED_SETS) + " |", "|---|" + "---|" * len(COMPARED_SETS)]  # fmt: skip
        for pair, figs in diffs.items():
            cells = [
                f"{figs[c][0]:+.3f} +- {figs[c][1]:.3f}" if c in figs else "-"
                for c in (f"{s}_pass@1" for s in COMPARED_SETS)
            ]
            lines.append(f"| {COMPARISONS[tuple(pair.split(' - '))]} | " + " | ".join(cells) + " |")
    for name in STAGES:
        extra = {
            k: v for k, v in done.get(name, {}).items() if k in ("set", "size", "reward_models", "source")
        }  # source: a reused R1-Zero
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
            if (
                marker.is_file()
            ):  # a finished stage named in --stages starts over (an unfinished one resumes from ckpt.pt)
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


def load_run_config(run_dir: Path) -> R1Config:
    """The resolved config a run folder was started with (its config.json)."""
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} is not a train_r1 run folder (no config.json)")
    saved = json.loads((run_dir / "config.json").read_text())
    if isinstance(saved, dict) and "mix" in saved:
        saved.setdefault("train_mix", saved["mix"])  # a run from before train_mix drew its reasoning prompts from `mix`
    try:
        return R1Config(**{**saved, "rl": GRPOConfig(**saved["rl"])})
    except (TypeError, KeyError) as e:
        raise ConfigError(f"{run_dir / 'config.json'} does not match train_r1.py's R1Config: {e}") from None


def main() -> None:
    p = argparse.ArgumentParser(
        description="DeepSeek-R1 (section 2.3) on toy arithmetic: cold start, reasoning RL, rejection sampling + SFT, RL for all scenarios."
    )
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
        help=f"comma-separated subset of {','.join(STAGES)} (re-run these from the saved checkpoints, with the run's saved config and any config flag given)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="write the stage table's figures here")
    p.add_argument(
        "--reeval",
        type=int,
        default=None,
        metavar="N",
        help="evaluate the finished stages of the run --out names again on a draw of N held-out questions per language, each paired with R1-Zero (reeval-N.json; trains nothing)",
    )
    add_plan_args(p)  # --estimate, --dry-run (r1mini/tools/plans.py)
    add_config_args(p, R1Config)
    args = p.parse_args()
    dist.refuse("train_r1.py")  # not data-parallel yet: under torchrun, one clear line (r1mini/engine/dist.py)
    if args.reeval is not None:  # evaluate a finished run's stages again on more questions; trains nothing
        if not args.out or args.resume or args.stages:
            raise ConfigError("--reeval N takes a finished run as --out RUN_DIR, and no --resume or --stages")
        if given := given_config_flags(args, others=("preset", "json")):
            raise ConfigError(
                f"--reeval evaluates a run with its saved config; no other flag may be given (got --{given[0].replace('_', '-')})"
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
