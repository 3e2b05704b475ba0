"""Section 2.3: what DeepSeek-R1's four stages share (train_r1.py runs them; each stage is in its section's module).

- R1Config and its presets: every stage's settings, one dataclass, each field a flag of train_r1.py;
- Run: the run folder, the tokenizer, the device, the checkpoint of each finished stage;
- eval_model / finish_stage: a stage's row of the stage table (section 3's pass@1 over k samples, the language and
  readability figures, helpfulness and harmlessness on general prompts), written to the stage's folder;
- run_grpo: a GRPO stage (r1mini/grpo.py) with a resumable checkpoint and metrics.jsonl in its folder.

Stages: r1mini/cold_start.py (2.3.1), r1mini/reasoning_rl.py (2.3.2), r1mini/rejection.py (2.3.3),
r1mini/all_scenarios.py (2.3.4); R1-Zero (2.2) is train_zero.py's recipe. docs/r1.md is the page.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from r1mini.engine.common import (
    ConfigError,
    atomic_save,
    atomic_write_bytes,
    load_checkpoint,
    rng_state,
    set_rng_state,
    write_json,
)
from r1mini.engine.model import load_model, model_state
from r1mini.evaluate import (
    EvalConfig,
    eval_sets,
    evaluate_general,
    evaluate_problems,
    r1_prompt_of,
    zero_prompt,
)
from r1mini.grpo import GRPOConfig, GRPOTrainer
from r1mini.template import parse_r1_completion
from r1mini.toy.general import check_power
from r1mini.toy.tasks import TaskMix, get_mix, heldout


@dataclass
class R1Config:
    base: str = "cpu"  # pretrain preset of the base model (the DeepSeek-V3-Base stand-in), cached under base_root
    base_root: str = "runs/base"  # folder of the cached base models
    zero_preset: str = "cpu"  # train_zero.py preset of the R1-Zero row
    zero_ckpt: str = ""  # an R1-Zero model.pt to use instead of training one ("" = train it, or reuse the cache)
    zero_cache: bool = True  # reuse the R1-Zero policy cached beside the base for this recipe, base and code
    mix: str = "cpu"  # task mix whose test split is every row's held-out set (the mix R1-Zero trains on)
    train_mix: str = "cpu_wide"  # task mix of the reasoning prompts of 2.3.1-2.3.4 (r1mini/toy/tasks.py)
    zh: float = 0.5  # share of Chinese questions among the reasoning prompts of 2.3.1-2.3.4
    sft: str = "cpu"  # SFT preset (r1mini/sft.py) of 2.3.1 and 2.3.3
    # 2.3.1 cold start
    cold_generator: int = 2000  # cold-start examples written by the task generators
    cold_zero_problems: int = 512  # train questions R1-Zero answers for the cold-start set
    cold_zero_k: int = 2  # R1-Zero samples per such question
    cold_epochs: int = 2  # SFT epochs on the cold-start set
    # 2.3.2 reasoning-oriented RL
    reasoning_steps: int = 50  # GRPO steps of 2.3.2 (and of its ablation)
    language_weight: float = 1.0  # weight of the language-consistency reward, summed with accuracy
    ablation: bool = True  # also run 2.3.2 without the language reward (the paper's ablation row)
    # 2.3.3 rejection sampling and SFT
    rs_problems: int = 2400  # train questions sampled from the 2.3.2 model
    rs_k: int = 2  # responses sampled per such question
    rs_max_tokens: int = 140  # responses longer than this, in tokens, are dropped as overlong
    general_sft: int = 4500  # non-reasoning SFT examples (writing, factual QA, self-cognition, translation, ...)
    general_power: float = 0.5  # a kind's share of them goes as (its number of train requests) ** power; 0 = equal
    sft_epochs: int = 2  # SFT epochs of the base on the union (the paper: 2)
    # 2.3.4 RL for all scenarios
    rm: str = "cpu"  # preset of the helpfulness reward model (r1mini/reward_model.py)
    rm_harmless: str = "cpu_whole"  # preset of the harmlessness reward model
    rm_init: str = "rejection_sft"  # the reward models' starting body: "rejection_sft" (the 2.3.3 model) or "base"
    rm_prompts: int = 400  # general train prompts whose sampled responses make the helpfulness model's pairs
    rm_harmless_prompts: int = 900  # adversarial train prompts whose sampled responses make the harmlessness pairs
    rm_k: int = 4  # responses sampled per such prompt; the annotator's preferences between them are the pairs
    rm_written: int = 2  # written responses with faults per train prompt, paired with one another and those below
    rm_offtopic: int = 4  # right answers to other train requests added per train prompt (off-topic negatives)
    rm_repeat: bool = True  # add the right answer said twice and an off-topic one said twice (length negatives)
    rm_written_pairs: int = 4  # pairs kept per train prompt among its written responses (0 = all)
    rm_temperature: float = 1.0  # sampling temperature of the responses that are paired
    rm_test_prompts: int = 200  # held-out prompts whose sampled responses make each model's held-out pairs
    all_steps: int = 50  # GRPO steps of 2.3.4
    all_beta: float = 0.04  # KL coefficient beta of 2.3.4's GRPO, eq. (1); pi_ref = the 2.3.3 model
    general_share: float = 0.5  # share of general prompts among each 2.3.4 step's questions
    adversarial_share: float = 0.25  # share of adversarial requests (private codes, rude) among those
    # evaluation (section 3)
    final_n: int = 128  # held-out English questions per row; as many Chinese ones are drawn too
    final_k: int = 4  # samples per question: pass@1 over k, cons@k
    general_n: int = 96  # held-out general prompts (helpfulness), and as many adversarial ones (harmlessness)
    benchmarks: str = "medium,hard"  # fixed benchmark sets also evaluated ("" = none)
    max_new_tokens: int = 160  # longest response, in tokens, in every R1 stage and in evaluation
    device: str = "auto"  # cuda, then mps, then cpu
    seed: int = 0  # every stage seeds from it
    # GRPO of 2.3.2 and 2.3.4 (steps are set per stage): micro-batches of 4 questions, each padded to its longest output
    rl: GRPOConfig = field(default_factory=lambda: GRPOConfig(lr=1e-4, beta=0.0, precision="bf16", micro_batch=4))

    def validate(self) -> None:
        for mix in (self.mix, self.train_mix):
            get_mix(mix)  # raises ConfigError for an unknown mix
        for name in ("zh", "general_share", "adversarial_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} is a share in [0, 1], got {getattr(self, name)}")
        if self.rm_init not in ("base", "rejection_sft"):
            raise ConfigError(
                f"rm_init = {self.rm_init!r}: the reward models start from 'rejection_sft' (the 2.3.3 model) or 'base'"
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
        base="smoke", zero_preset="smoke", mix="smoke", train_mix="smoke", sft="smoke", rm="smoke", rm_harmless="smoke",
        cold_generator=200, cold_zero_problems=16, cold_zero_k=2, cold_epochs=1, reasoning_steps=6, rs_problems=24,
        rs_k=2, general_sft=80, sft_epochs=1, rm_prompts=24, rm_harmless_prompts=24, rm_k=2, rm_test_prompts=8,
        all_steps=4, final_n=12, final_k=2, general_n=8, benchmarks="", max_new_tokens=64,
        rl=GRPOConfig(questions=4, G=4, lr=3e-4, beta=0.0),
    ),
    "cpu": R1Config(),
    "gpu": R1Config(
        base="gpu", zero_preset="gpu", mix="gpu", train_mix="gpu", sft="gpu", rm="cpu", cold_generator=8000,
        cold_zero_problems=2048, reasoning_steps=400, rs_problems=8000, rs_max_tokens=300, general_sft=6000,
        rm_prompts=3000, rm_harmless_prompts=1500, rm_test_prompts=500, all_steps=300, final_n=256, final_k=16,
        general_n=256, max_new_tokens=320, rl=GRPOConfig(questions=64, G=16, lr=5e-5, beta=0.0),
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
    # None: a set this run did not evaluate
    get = lambda name, key: r[name]["all"].get(key) if name in r else None  # noqa: E731
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


def load_run_config(run_dir: Path) -> R1Config:
    """The resolved config a run folder was started with (its config.json)."""
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} is not a train_r1 run folder (no config.json)")
    saved = json.loads((run_dir / "config.json").read_text())
    if isinstance(saved, dict) and "mix" in saved:
        saved.setdefault("train_mix", saved["mix"])  # a config.json without train_mix: prompts from `mix`
    try:
        return R1Config(**{**saved, "rl": GRPOConfig(**saved["rl"])})
    except (TypeError, KeyError) as e:
        raise ConfigError(f"{run_dir / 'config.json'} does not match train_r1.py's R1Config: {e}") from None
