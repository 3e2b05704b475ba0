"""Plumbing for sections 2.2-2.3 as run here: the phases of train_zero.py and train_r1.py at a config, both as
the cost model's counts (r1mini/tools/cost.py) and as steps to dry-run (r1mini/tools/dryrun.py).

A script hands its resolved config in and gets a `Plan`; this file reads the config's fields (it never imports
a script) and knows what each script runs:

- train_zero.py (2.2): base pretraining (the DeepSeek-V3-Base stand-in), evaluation before RL (section 3:
  k samples per problem and a greedy one, 64 problems per sampler call), GRPO steps (Algorithm 1: sample G
  outputs per question, then eq. (1)'s update; pi_ref's forward when beta > 0), the held-out curve every
  eval_every steps (Fig. 2 / Fig. 3), evaluation after RL;
- train_r1.py (2.3): the same base and its evaluation, the R1-Zero row (train_zero's plan at its preset), and
  per stage: 2.3.1 sampling R1-Zero + SFT of the base, 2.3.2 GRPO (and its ablation), 2.3.3 rejection
  sampling + SFT of the base, 2.3.4 reward-model training + GRPO scored by them; every stage is evaluated.

    python train_zero.py --estimate              # the cost table: minutes per phase on an H100 and on this CPU
    python train_zero.py --preset gpu --dry-run  # every phase for a step at full size on this device
    python -m r1mini.tools.bench --estimate gpu        # every script's table at its `gpu` preset

What a plan cannot know (how long the sampled responses are, how many SFT examples survive the filters)
is assumed as cost.Assumptions says and upper bounds elsewhere (every SFT candidate kept). Checked by
tests/test_dryrun.py (the smoke preset's dry run, the early failures) and tests/test_cost.py.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass

import numpy as np
import torch

from r1mini.engine.common import ConfigError, autocast, get_device, pick_preset
from r1mini.tools.cost import (
    Assumptions,
    Device,
    Estimate,
    H100,
    Phase,
    calibrate_cpu,
    count_ops,
    grpo_phases,
    pretrain_phase,
    sampling_phase,
    sft_phase,
)
from r1mini.tools.dryrun import DryPhase, check_lengths, dry_run
from r1mini.engine.model import ModelConfig, Transformer

EVAL_BATCH = 64  # problems per sampler call in evaluation (EvalConfig.batch)


@dataclass
class Plan:
    title: str  # "train_zero.py --preset gpu"
    phases: list[DryPhase]
    model: ModelConfig  # the base model's config (the CPU is calibrated at its size)
    shapes: dict  # representative sizes for calibrate_cpu: prompt_len, G, new_tokens, seq_len
    device: torch.device  # where the config runs (and the dry run)

    def estimate(self, devices: list[Device]) -> Estimate:
        return Estimate([p for dp in self.phases if dp.estimate for p in dp.estimate(Assumptions())], devices)


def run_plan(plan: Plan, dry: bool, out=print) -> list[dict] | Estimate:
    """--estimate (dry=False): print the cost table on an H100 and on this CPU (calibrated now, ~10 s).
    --dry-run: run every phase on the device of the config and print measured beside modelled."""
    device = plan.device
    if not dry:
        out(
            f"calibrating this CPU at the {plan.model.n_layer}-layer, n_embd={plan.model.n_embd} model "
            "(~10-30 s; minutes for a big one) ..."
        )
        est = plan.estimate([H100, calibrate_cpu(plan.model, ops=ops_of(plan.model), **plan.shapes)])
        out(f"## {plan.title}: cost model\n\n{est.table()}")
        out("\n".join(f"- {dp.name}: {dp.note}" for dp in plan.phases if dp.note))
        return est
    cost_device = (
        H100
        if device.type == "cuda"
        else calibrate_cpu(plan.model, ops=ops_of(plan.model), **plan.shapes)
        if device.type == "cpu"
        else None
    )
    out(f"## {plan.title}: dry run on {device}")
    return dry_run(plan.phases, device, cost_device)


# ----------------------------------------------------------------------------- building blocks


def prompt_lengths(tok, items, prompt_fn) -> list[int]:
    return [len(tok.encode(prompt_fn(p), allow_special=True)) for p in items]


def chunks(lengths: list[int], batch: int) -> list[tuple[int, int]]:
    """(prompts, padded length) of each sampler call over `lengths` in calls of `batch` prompts."""
    return [(len(lengths[i : i + batch]), max(lengths[i : i + batch])) for i in range(0, len(lengths), batch)]


_OPS: dict = {}


def ops_of(m: ModelConfig):
    """cost.count_ops(m), once per model config (a second or two), and only when a cost is asked for."""
    key = dataclasses.astuple(m)
    if key not in _OPS:
        _OPS[key] = count_ops(m)
    return _OPS[key]


def random_model(m: ModelConfig, device) -> Transformer:
    torch.manual_seed(0)
    return Transformer(m).to(device)


def eval_phase(name: str, m: ModelConfig, tok, sets: dict, k: int, max_new_tokens: int, prompt_fn, device,
               greedy: bool = True, repeats: int = 1, temperature: float = 0.6, top_p: float = 0.95,
               note: str = "") -> DryPhase:  # fmt: skip
    """Section 3's evaluation of every set (evaluate.evaluate_problems), or any sampling through evaluate.complete:
    per call of 64 items, k samples each (T = 0.6, top-p 0.95) and, with greedy, one greedy row each; `repeats`
    times (the RL curve's points, the stages). One dry step = the largest call, sampled (+ greedy)."""
    from r1mini.engine.sampler import SamplingConfig, generate

    items = [p for probs in sets.values() for p in probs]
    calls = [c for probs in sets.values() for c in chunks(prompt_lengths(tok, probs, prompt_fn), EVAL_BATCH)]
    check_lengths(name, max(P for _, P in calls), max_new_tokens, m.max_seq_len)

    def estimate(a: Assumptions) -> list[Phase]:
        parts = [sampling_phase(name, m, n, rows, P, max_new_tokens, n, ops_of(m), a, top_p=rows == k and top_p < 1)
                 for n, P in calls for rows in ((k, 1) if greedy else (k,))]  # fmt: skip
        return [sum(parts[1:], parts[0]) * repeats]

    def make_step():
        model = random_model(m, device).eval()
        prompts = [tok.encode(prompt_fn(p), allow_special=True) for p in items[:EVAL_BATCH]]
        stop = (tok.eot_id, tok.answer_end_id)

        def step() -> dict:
            s = generate(
                model,
                prompts,
                SamplingConfig(max_new_tokens, temperature, top_p=top_p, stop_ids=stop),
                n_samples=k,
                seed=0,
                pad_id=tok.pad_id,
            )
            if greedy:
                generate(model, prompts, SamplingConfig(max_new_tokens, 0.0, stop_ids=stop), seed=0, pad_id=tok.pad_id)
            lengths = s.lengths.float()
            return {"mean": float(lengths.mean()) / max_new_tokens, "longest": float(lengths.max()) / max_new_tokens}

        return step

    what = f"{min(len(items), EVAL_BATCH)} prompts x {k} samples" + (" + greedy" if greedy else "")
    return DryPhase(name, make_step, len(calls) * repeats, what, estimate, note)


def pretrain_dry(pcfg, preset: str, tok, device, name: str = "base pretraining") -> DryPhase:
    """Pretraining (r1mini/toy/pretrain.py): one dry step = one optimizer step on a slice of the preset's corpus
    (1000 documents, also timed to price generating the whole corpus: CPU seconds of one core, the same on a
    GPU's host)."""
    from r1mini.toy.pretrain import base_dir, build_token_stream, corpus_config, get_batch, make_optimizer, train_step

    m = ModelConfig.preset(pcfg.model, vocab_size=tok.vocab_size)
    check_lengths(f"{name}: seq_len", pcfg.seq_len, 0, m.max_seq_len)
    corpus: dict = {}

    def sample():  # the slice, and the seconds generating the whole corpus would take at its pace: CPU time of
        if not corpus:  # this process (one core, Python), which other processes sharing the cores do not inflate
            t0 = time.process_time()
            corpus["data"] = build_token_stream(dataclasses.replace(pcfg, n_docs=1000), tok)
            corpus["seconds"] = (time.process_time() - t0) * corpus_config(pcfg).n_docs / 1000
        return corpus

    def make_step():
        model = random_model(m, device).train()
        opt = make_optimizer(model, pcfg.lr, pcfg.weight_decay, device)
        data = sample()["data"]
        data = data if len(data) > pcfg.seq_len + 1 else np.tile(data, pcfg.seq_len // len(data) + 2)
        rng = np.random.default_rng(0)

        def step():
            x, y = get_batch(data, pcfg.batch_size, pcfg.seq_len, rng, device)
            train_step(model, model, opt, x, y, pcfg, device).item()

        return step

    def estimate(a: Assumptions) -> list[Phase]:
        return [pretrain_phase(m, pcfg.steps, pcfg.batch_size, pcfg.seq_len, ops_of(m), name, sample()["seconds"])]

    path = base_dir(pcfg, preset) / "model.pt"
    note = f"cached at {path}: the real run skips this phase (the total counts it)" if path.is_file() else ""
    return DryPhase(name, make_step, pcfg.steps, f"{pcfg.batch_size} x {pcfg.seq_len} tokens", estimate, note)


def random_reward(completion: str, problem) -> tuple[float, dict]:
    """The dry run's reward: uniform in [0, 1), so that every group has a spread and is updated (the worst case)."""
    r = random.random()
    return r, {"accuracy": r}


def grpo_dry(name: str, m: ModelConfig, tok, gcfg, problems_for_step, prompt_fn, device, steps: int | None = None,
             extra=None, note: str = "") -> DryPhase:  # fmt: skip
    """GRPO (r1mini/grpo.py): one dry step = one GRPOTrainer.step (sampling + update) with random rewards.
    extra(a, steps) -> [Phase]: work the real run adds per step (2.3.4's reward models)."""
    from r1mini.grpo import GRPOTrainer

    steps = gcfg.steps if steps is None else steps
    batches = [prompt_lengths(tok, problems_for_step(s), prompt_fn) for s in range(max(1, min(steps, 16)))]
    check_lengths(name, max(max(b) for b in batches), gcfg.max_new_tokens, m.max_seq_len)
    P = sum(max(b) for b in batches) / len(batches)  # left-padded to the longest prompt of the step

    def estimate(a: Assumptions) -> list[Phase]:
        g = gcfg
        return grpo_phases(
            m, steps, g.questions, g.G, P, g.max_new_tokens, ops_of(m), g.mu, g.beta, g.micro_batch, a, name
        ) + (extra(a, steps) if extra else [])

    def make_step():
        policy = random_model(m, device)
        trainer = GRPOTrainer(policy, tok, prompt_fn, random_reward, gcfg)
        it = iter(range(10**9))

        def step() -> dict:
            stats = trainer.step(problems_for_step(next(it)))
            return {
                "mean": stats["response_len"] / gcfg.max_new_tokens,
                "longest": stats["response_len_max"] / gcfg.max_new_tokens,
            }

        return step

    return DryPhase(name, make_step, steps, f"{gcfg.questions} questions x {gcfg.G} outputs", estimate, note)


def sft_dry(name: str, m: ModelConfig, scfg, examples: int, P: float, N: int, device, rm: bool = False) -> DryPhase:
    """SFT (r1mini/sft.py), or with rm a Bradley-Terry reward model (r1mini/reward_model.py, 2 texts per pair): one
    dry step = one optimizer step on a batch of the longest sequences allowed. A sequence is a prompt of P tokens
    and a response of Assumptions.mean x N (the dry step reports its own length as such a share)."""
    from r1mini.toy.pretrain import make_optimizer

    L = min(scfg.max_len, m.max_seq_len)
    batch = scfg.batch if rm else scfg.batch_size
    steps = scfg.epochs * math.ceil(examples / batch)
    rows = 2 * batch if rm else batch

    def make_step():
        from r1mini.reward_model import RewardModel, bt_loss
        from r1mini.sft import sft_loss

        torch.manual_seed(0)
        model = (RewardModel(m) if rm else Transformer(m)).to(device).train()
        opt = make_optimizer(model, scfg.lr, scfg.weight_decay, device)
        ids = torch.randint(1, m.vocab_size, (rows, L), device=device)
        attn = torch.ones_like(ids, dtype=torch.bool)

        def step() -> dict:
            with autocast(device, scfg.precision):
                r = model(ids, attn) if rm else None
                loss = bt_loss(r[:batch], r[batch:]) if rm else sft_loss(model, ids, attn, attn)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), scfg.grad_clip)
            opt.step()
            loss.item()
            return {"mean": (L - P) / N}

        return step

    def estimate(a: Assumptions) -> list[Phase]:
        mean_len = P + a.mean * N
        ph = sft_phase(name, m, steps, rows, mean_len, ops_of(m))
        return [
            dataclasses.replace(ph, kind="masked", trained_keys=ph.trained_tokens * mean_len) if rm else ph
        ]  # a padding mask: every key

    what = f"{batch} pairs = {rows} x {L} tokens" if rm else f"{batch} x {L} tokens"
    return DryPhase(
        name,
        make_step,
        steps,
        what,
        estimate,
        f"{examples:,} {'pairs' if rm else 'examples'} at most, ~{P + N / 2:.0f} tokens each",
    )


# ----------------------------------------------------------------------------- train_zero.py


def zero_plan(cfg, title: str = "train_zero.py", include_base: bool = True, prefix: str = "") -> Plan:
    """The phases of train_zero.train(cfg): cfg is a ZeroConfig (read by field name)."""
    from r1mini.evaluate import eval_sets, zero_prompt
    from r1mini.toy.pretrain import PRETRAIN_PRESETS
    from r1mini.engine.tokenizer import get_tokenizer

    tok, device = get_tokenizer(), get_device(cfg.device)
    pcfg = dataclasses.replace(pick_preset(PRETRAIN_PRESETS, cfg.base, "pretrain preset"), out_root=cfg.base_root)
    m = ModelConfig.preset(pcfg.model, vocab_size=tok.vocab_size)
    g, N = cfg.grpo, cfg.grpo.max_new_tokens
    sets = eval_sets(["heldout"] + [b for b in cfg.benchmarks.split(",") if b], cfg.mix, cfg.final_n)
    points = g.steps // cfg.eval_every if cfg.eval_every else 0
    problems = lambda step: zero_questions(cfg, step)  # noqa: E731
    phases = [pretrain_dry(pcfg, cfg.base, tok, device, prefix + "base pretraining")] if include_base else []
    phases += [
        eval_phase(prefix + "eval before", m, tok, sets, cfg.final_k, N, zero_prompt, device),
        grpo_dry(prefix + "GRPO", m, tok, g, problems, zero_prompt, device),
    ]
    if points:
        phases.append(eval_phase(prefix + "evals during RL", m, tok, {"heldout": sets["heldout"][: cfg.curve_n]},
                                 cfg.curve_k, N, zero_prompt, device, repeats=points))  # fmt: skip
    phases.append(eval_phase(prefix + "eval after", m, tok, sets, cfg.final_k, N, zero_prompt, device))
    # the reflection figures: k samples of the held-out set, before and after
    if getattr(cfg, "reflection_eval", False):
        phases.append(eval_phase(prefix + "reflection evals", m, tok, {"heldout": sets["heldout"]}, cfg.final_k, N,
                                 zero_prompt, device, greedy=False, repeats=2))  # fmt: skip
    shapes = {"prompt_len": round(sum(prompt_lengths(tok, problems(0), zero_prompt)) / g.questions), "G": g.G,
              "new_tokens": N, "seq_len": pcfg.seq_len}  # fmt: skip
    return Plan(title, phases, m, shapes, device)


# ----------------------------------------------------------------------------- train_r1.py


def r1_plan(cfg, zero_cfg, title: str = "train_r1.py") -> Plan:
    """The phases of train_r1.train(cfg) (an R1Config, read by field name); zero_cfg: the ZeroConfig of its
    R1-Zero row (None when cfg.zero_ckpt reuses one). Upper bounds where the run filters: every cold-start and
    rejection-sampling candidate kept, every pair of a prompt's responses a preference pair."""
    from r1mini.evaluate import eval_sets, r1_prompt_of, zero_prompt
    from r1mini.toy.general import ADVERSARIAL_KINDS, HELPFUL_KINDS, general_prompts
    from r1mini.toy.pretrain import PRETRAIN_PRESETS
    from r1mini.reward_model import RM_PRESETS
    from r1mini.sft import SFT_PRESETS
    from r1mini.toy.tasks import TaskMix, get_mix, heldout
    from r1mini.engine.tokenizer import get_tokenizer

    tok, device = get_tokenizer(), get_device(cfg.device)
    pcfg = dataclasses.replace(pick_preset(PRETRAIN_PRESETS, cfg.base, "pretrain preset"), out_root=cfg.base_root)
    m = ModelConfig.preset(pcfg.model, vocab_size=tok.vocab_size)
    N, mix = cfg.max_new_tokens, TaskMix(get_mix(cfg.train_mix).parts, cfg.zh)
    train = lambda n, tag: mix.sample(random.Random(f"{cfg.seed}/{tag}"), n, split="train")  # noqa: E731
    sets = eval_sets(["heldout"] + [b for b in cfg.benchmarks.split(",") if b], cfg.mix, cfg.final_n)
    sets["heldout_zh"] = heldout(TaskMix(get_mix(cfg.mix).parts, zh=1.0), cfg.final_n, seed=4321)
    general = {"helpful": general_prompts(cfg.general_n, "test", seed=cfg.seed, kinds=HELPFUL_KINDS),
               "harmless": general_prompts(cfg.general_n, "test", seed=cfg.seed, kinds=ADVERSARIAL_KINDS)}  # fmt: skip
    stages = 6 if cfg.ablation else 5
    sft, rmcfg = pick_preset(SFT_PRESETS, cfg.sft, "SFT preset"), pick_preset(RM_PRESETS, cfg.rm, "reward-model preset")
    rm_epochs = rmcfg.epochs + pick_preset(RM_PRESETS, cfg.rm_harmless, "reward-model preset").epochs
    P = sum(prompt_lengths(tok, train(64, "plan"), r1_prompt_of)) / 64
    rl = lambda steps: dataclasses.replace(cfg.rl, steps=steps, max_new_tokens=N, seed=cfg.seed)  # noqa: E731
    problems = lambda step: train(cfg.rl.questions, f"reasoning/{step}")  # noqa: E731
    n_train = (cfg.rm_prompts + cfg.rm_harmless_prompts) // 2  # train prompts per reward model (the mean of the two)
    rm_prompts = n_train + cfg.rm_test_prompts  # train + test prompts per reward model
    pairs = n_train * (cfg.rm_k * (cfg.rm_k - 1) // 2 + cfg.rm_written * (cfg.rm_written - 1) // 2)

    # 2.3.4: both reward models read the step's general outputs, 64 a call
    def rm_scoring(a: Assumptions, steps: int) -> list[Phase]:
        rows = round(cfg.rl.questions * cfg.general_share) * cfg.rl.G
        n, calls, T = steps * rows * 2, steps * 2 * math.ceil(rows / 64), P + a.mean * N
        return [Phase("2.3.4 reward-model scoring", m, forward_tokens=n * T, forward_keys=n * T * T,
                      host_ops=calls * ops_of(m).masked_forward, steps=float(steps), kind="masked")]  # fmt: skip

    phases = [pretrain_dry(pcfg, cfg.base, tok, device)]
    r1_eval = {**sets, **general}
    phases.append(
        eval_phase(
            "evals: base",
            m,
            tok,
            r1_eval,
            cfg.final_k,
            N,
            zero_prompt,
            device,
            greedy=False,
            note=(
                "its general prompts priced like the reasoning sets and under Table 1's longer template "
                "(an upper bound)"
            ),
        )
    )
    if zero_cfg is not None and not cfg.zero_ckpt:
        phases += zero_plan(zero_cfg, include_base=False, prefix="R1-Zero: ").phases
    phases += [
        eval_phase("evals: the stages", m, tok, r1_eval, cfg.final_k, N, r1_prompt_of, device, greedy=False,
                   repeats=stages,
                   note="each stage's reasoning sets at k = final_k; general prompts at k = 2 priced the same "
                        "(an upper bound)"),
        eval_phase("2.3.1 sampling R1-Zero", m, tok, {"train": train(cfg.cold_zero_problems, "cold_zero")},
                   cfg.cold_zero_k, N, zero_prompt, device, greedy=False, temperature=1.0, top_p=1.0),
        sft_dry("2.3.1 cold-start SFT", m, dataclasses.replace(sft, epochs=cfg.cold_epochs),
                cfg.cold_generator + cfg.cold_zero_problems * cfg.cold_zero_k, P, N, device),
        grpo_dry("2.3.2 reasoning RL" + (" (and ablation)" if cfg.ablation else ""), m, tok, rl(cfg.reasoning_steps),
                 problems, r1_prompt_of, device, steps=cfg.reasoning_steps * (2 if cfg.ablation else 1)),
        eval_phase("2.3.3 rejection sampling", m, tok, {"train": train(cfg.rs_problems, "rejection")}, cfg.rs_k, N,
                   r1_prompt_of, device, greedy=False, temperature=1.0, top_p=1.0),
        sft_dry("2.3.3 SFT", m, dataclasses.replace(sft, epochs=cfg.sft_epochs),
                cfg.rs_problems * cfg.rs_k + cfg.general_sft, P, N, device),
        eval_phase("2.3.4 sampling for the reward models", m, tok,
                   {"general": general_prompts(rm_prompts, "train", cfg.seed)}, cfg.rm_k, N,
                   r1_prompt_of, device, greedy=False, temperature=1.0, top_p=1.0, repeats=2),
        sft_dry("2.3.4 reward models (x2)", m, dataclasses.replace(rmcfg, epochs=rm_epochs), pairs, P, N, device,
                rm=True),
        grpo_dry("2.3.4 RL all scenarios", m, tok, rl(cfg.all_steps), problems, r1_prompt_of, device, extra=rm_scoring,
                 note="general prompts' rows also read by both reward models (priced, not dry-run)"),
    ]  # fmt: skip
    shapes = {"prompt_len": round(P), "G": cfg.rl.G, "new_tokens": N, "seq_len": pcfg.seq_len}
    return Plan(title, phases, m, shapes, device)


# ----------------------------------------------------------------------------- distill.py


def distill_plan(dcfg, r1cfg, zero_cfg, stage3_examples: int, title: str = "distill.py") -> Plan:
    """The phases of distill.distill(dcfg) (a DistillConfig, read by field name): r1cfg is the teacher run's
    R1Config at distill's evaluation sizes, zero_cfg the ZeroConfig whose recipe RLs the students, stage3_examples
    the size of the teacher's stage-3 set. Per student: its base pretraining, the evaluations of its rows, the
    distillation SFT, RL with R1-Zero's recipe (rl_steps: the extension rl_match may add is not known ahead), RL
    on the distilled student; for the regen student the teacher's sampling and a second SFT (every sample kept:
    an upper bound). The plan calibrates the CPU at the largest student's size."""
    from r1mini.evaluate import eval_sets, r1_prompt_of, zero_prompt
    from r1mini.toy.pretrain import PRETRAIN_PRESETS
    from r1mini.sft import SFT_PRESETS
    from r1mini.toy.tasks import TaskMix, get_mix, heldout
    from r1mini.engine.tokenizer import get_tokenizer

    tok, device = get_tokenizer(), get_device(dcfg.device)
    N, mix = r1cfg.max_new_tokens, TaskMix(get_mix(r1cfg.train_mix).parts, r1cfg.zh)
    train = lambda n, tag: mix.sample(random.Random(f"{r1cfg.seed}/{tag}"), n, split="train")  # noqa: E731
    sets = eval_sets(["heldout"] + [b for b in dcfg.benchmarks.split(",") if b], r1cfg.mix, dcfg.final_n)
    sets["heldout_zh"] = heldout(TaskMix(get_mix(r1cfg.mix).parts, zh=1.0), dcfg.final_n, seed=4321)
    teacher = ModelConfig.preset(
        pick_preset(PRETRAIN_PRESETS, r1cfg.base, "pretrain preset").model, vocab_size=tok.vocab_size
    )
    sft = dataclasses.replace(pick_preset(SFT_PRESETS, dcfg.sft, "SFT preset"), epochs=dcfg.sft_epochs)
    P = sum(prompt_lengths(tok, train(64, "plan"), r1_prompt_of)) / 64
    zg = dataclasses.replace(zero_cfg.grpo, steps=dcfg.rl_steps, max_new_tokens=N)
    zero_q = lambda step: zero_questions(zero_cfg, step)  # noqa: E731
    drl = dataclasses.replace(r1cfg.rl, steps=dcfg.drl_steps, max_new_tokens=N, seed=r1cfg.seed)
    phases = [eval_phase("eval: teacher", teacher, tok, sets, dcfg.final_k, N, r1_prompt_of, device)]
    models = []
    students = [s.strip() for s in dcfg.students.split(",") if s.strip()]
    for s in students:
        pcfg = dataclasses.replace(pick_preset(PRETRAIN_PRESETS, s, "pretrain preset"), out_root=dcfg.base_root)
        m = ModelConfig.preset(pcfg.model, vocab_size=tok.vocab_size)
        models.append(m)
        rows = 4 + (s == dcfg.regen) - (dcfg.drl_steps == 0)
        phases += [
            pretrain_dry(pcfg, s, tok, device, f"{s}: base pretraining"),
            eval_phase(f"{s}: evals of its rows", m, tok, sets, dcfg.final_k, N, zero_prompt, device, repeats=rows),
            sft_dry(f"{s}: distillation SFT", m, sft, stage3_examples, P, N, device),
            grpo_dry(f"{s}: RL (R1-Zero recipe)", m, tok, zg, zero_q, zero_prompt, device),
        ]
        if dcfg.drl_steps:
            phases.append(
                grpo_dry(
                    f"{s}: RL on the distilled student",
                    m,
                    tok,
                    drl,
                    lambda step: train(drl.questions, f"distill-rl/{step}"),
                    r1_prompt_of,
                    device,
                )
            )
        if s == dcfg.regen:
            phases += [
                eval_phase(f"{s}: teacher samples for the regen set", teacher, tok,
                           {"train": train(dcfg.regen_problems, "distill_regen")},
                           dcfg.regen_k, N, r1_prompt_of, device, greedy=False, temperature=1.0, top_p=1.0),
                sft_dry(f"{s}: SFT on the regen set", m, sft, dcfg.regen_problems * dcfg.regen_k + r1cfg.general_sft,
                        P, N, device),
            ]  # fmt: skip
    biggest = max(models, key=lambda m: m.n_layer * m.n_embd**2)
    shapes = {"prompt_len": round(P), "G": zg.G, "new_tokens": N, "seq_len": PRETRAIN_PRESETS[students[-1]].seq_len}
    return Plan(title, phases, biggest, shapes, device)


def zero_questions(zero_cfg, step: int) -> list:
    """train_zero.problems_for_step, read by field name: the B questions of R1-Zero's step `step`."""
    from r1mini.toy.tasks import TASK_MIXES

    g = zero_cfg.grpo
    return TASK_MIXES[zero_cfg.mix].sample(random.Random(g.seed * 7919 + step), g.questions, split="train")


# ----------------------------------------------------------------------------- checking the cost model against a run


def check_zero_run(run_dir, calibrations: int = 3, out=print) -> list[dict]:
    """The cost model's CPU prediction for a finished train_zero.py run folder against its measured phase times.

    Read from the folder: config.json (the config, as a namespace: no script is imported), report.md's phase
    times (whole seconds), metrics.jsonl (each GRPO step's sample_s and train_s, response lengths, trained
    share), and the mean response length of eval_before.json / eval_after.json. The CPU is calibrated
    `calibrations` times now (the median is the prediction, the range shows the machine's noise), and priced
    twice: at the default Assumptions and at the lengths the run sampled. The run and the calibration must see
    a similar load."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    run = Path(run_dir)
    saved = json.loads((run / "config.json").read_text())
    cfg = SimpleNamespace(**{**saved, "grpo": SimpleNamespace(**saved["grpo"])})
    plan = zero_plan(cfg, f"run {run}")
    line = next(
        (ln for ln in (run / "report.md").read_text().splitlines() if ln.startswith("Wall time per phase (s): ")), None
    )
    if line is None:
        raise ConfigError(f"{run / 'report.md'} has no 'Wall time per phase' line: not a finished train_zero run")
    times = {k: float(v) for k, v in (part.split(": ") for part in line.split(": ", 1)[1].split(", "))}
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    N = cfg.grpo.max_new_tokens
    sample_s, train_s = sum(s["sample_s"] for s in steps), sum(s["train_s"] for s in steps)
    measured = {"eval before": times["eval_before"], "GRPO sampling": sample_s, "GRPO update": train_s,
                "evals during RL": times["rl"] - sample_s - train_s, "rl": times["rl"],
                "eval after": times["eval_after"]}  # fmt: skip

    def mean_len(name: str) -> float:
        res = json.loads((run / name).read_text())
        return (
            sum(r["all"]["length"] * r["all"]["n"] for r in res.values()) / sum(r["all"]["n"] for r in res.values()) / N
        )

    rl = Assumptions(mean=sum(s["response_len"] for s in steps) / len(steps) / N,
                     longest=sum(s["response_len_max"] for s in steps) / len(steps) / N,
                     trained=sum(s["trained_rows"] for s in steps) / len(steps))  # fmt: skip
    seen = {"eval before": Assumptions(mean=mean_len("eval_before.json")), "GRPO": rl,
            "evals during RL": Assumptions(mean=rl.mean),
            "eval after": Assumptions(mean=mean_len("eval_after.json"))}  # fmt: skip
    devices = []
    for i in range(calibrations):
        load = open("/proc/loadavg").read().split()[0]
        devices.append(calibrate_cpu(plan.model, ops=ops_of(plan.model), **plan.shapes))
        out(f"calibration {i + 1} (1-minute load average {load}): {devices[-1].note}")
    rows = []
    for label, lengths in (("default assumptions", None), ("the run's own lengths", seen)):
        preds = []
        for d in devices:
            p = {ph.name: d.seconds(ph) for dp in plan.phases if dp.name in measured or dp.name == "GRPO"
                 for ph in dp.estimate(lengths[dp.name] if lengths else Assumptions())}  # fmt: skip
            p["rl"] = p["GRPO sampling"] + p["GRPO update"] + p.get("evals during RL", 0.0)
            preds.append(p)
        out(
            f"\n{label}:\n| phase | measured s | predicted s (median) | range | predicted / measured |\n"
            "|---|---:|---:|---:|---:|"
        )
        for k in measured:
            if k not in preds[0]:
                continue
            ps = sorted(p[k] for p in preds)
            med = ps[len(ps) // 2]
            rows.append(
                {
                    "assumptions": label,
                    "phase": k,
                    "measured_s": measured[k],
                    "predicted_s": med,
                    "range": (ps[0], ps[-1]),
                }
            )
            out(f"| {k} | {measured[k]:.0f} | {med:.0f} | {ps[0]:.0f}-{ps[-1]:.0f} | {med / measured[k]:.2f} |")
    return rows
