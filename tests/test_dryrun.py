"""The dry run (r1mini/tools/dryrun.py, r1mini/tools/plans.py): its projection arithmetic, its early failures
(lengths, memory), a dry run of the smoke preset that writes nothing, and (slow) the gpu presets at full size on
the CPU."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from r1mini.engine.common import ConfigError
from r1mini.tools.cost import Assumptions, Device, count_ops, sampling_phase
from r1mini.tools.dryrun import DryPhase, check_lengths, dry_run
from r1mini.engine.model import ModelConfig

ROOT = Path(__file__).resolve().parent.parent
NANO = ModelConfig(vocab_size=64, n_layer=1, n_head=2, n_kv_head=1, n_embd=8, intermediate_size=16, max_seq_len=64)


def quiet(_):
    pass


def test_projection_and_cost_column():
    """projected = the median timed step x the run's steps; the cost model is priced at the lengths the steps saw."""
    pauses = iter([0.2, 0.001, 0.12, 0.002])  # a slow warm-up, then one slow step among three
    seen = []

    def make_step():
        def step():
            time.sleep(next(pauses))
            return {"mean": 0.25, "longest": 0.5}

        return step

    def estimate(a: Assumptions):
        seen.append(a)
        return [sampling_phase("s", NANO, 4, 2, 10, 8, 4, ops, a)]

    ops = count_ops(NANO)
    dev = Device("d", {"causal": 1e9, "masked": 1e9, "decode": 1e9}, 1e12, 1e-5, 4)
    (row,) = dry_run(
        [DryPhase("sampling", make_step, 50, "4 x 2", estimate)], torch.device("cpu"), dev, steps=3, out=quiet
    )
    assert 0.002 <= row["s_per_step"] < 0.1  # the median of the timed steps: neither the warm-up nor the slow one
    assert row["projected_s"] == row["s_per_step"] * 50
    assert seen == [Assumptions(mean=0.25, longest=0.5)]
    assert row["model_s"] == dev.seconds(sampling_phase("s", NANO, 4, 2, 10, 8, 4, ops, seen[0]))
    assert row["model_s_per_step"] == row["model_s"] / 50


def test_steps_zero_times_the_one_step():
    calls = []
    (row,) = dry_run(
        [DryPhase("once", lambda: lambda: calls.append(time.sleep(0.05)), 10, "x")],
        torch.device("cpu"),
        steps=0,
        out=quiet,
    )
    assert len(calls) == 1 and row["s_per_step"] >= 0.05 and "model_s" not in row


@pytest.mark.parametrize(
    "error",
    [torch.cuda.OutOfMemoryError("Tried to allocate 20.00 GiB (GPU 0; 79.10 GiB total)"),  # caught by its type
     RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 85899345920 bytes"),
     MemoryError()],
)  # fmt: skip
@pytest.mark.parametrize("where", ["build", "step"])
def test_out_of_memory_says_which_phase_and_batch(error, where):
    def make_step():
        if where == "build":
            raise error

        def step():
            raise error

        return step

    with pytest.raises(ConfigError, match=r"phase 'GRPO' ran out of memory on cpu at 64 questions x 16 outputs"):
        dry_run([DryPhase("GRPO", make_step, 10, "64 questions x 16 outputs")], torch.device("cpu"), out=quiet)


def test_other_errors_are_not_called_memory():
    def make_step():
        def step():
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

        return step

    with pytest.raises(RuntimeError, match="shapes"):
        dry_run([DryPhase("x", make_step, 1, "b")], torch.device("cpu"), out=quiet)


def test_check_lengths():
    check_lengths("eval", 100, 156, 256)
    with pytest.raises(
        ConfigError,
        match=(
            r"eval: the longest prompt \(100 tokens\) \+ max_new_tokens 157 = 257 "
            r"exceeds the model's max_seq_len=256"
        ),
    ):
        check_lengths("eval", 100, 157, 256)


def test_pretraining_window_over_max_seq_len_fails_early():
    from r1mini.tools.plans import pretrain_dry
    from r1mini.toy.pretrain import PretrainConfig
    from r1mini.engine.tokenizer import get_tokenizer

    with pytest.raises(ConfigError, match="seq_len.*300.*max_seq_len=256"):
        pretrain_dry(
            PretrainConfig(model="nano", corpus="smoke", seq_len=300), "smoke", get_tokenizer(), torch.device("cpu")
        )


def test_eval_and_grpo_phases_check_their_own_lengths():
    """Each sampling phase checks its own prompts (evaluation sets and RL questions differ) before anything runs."""
    import random

    from r1mini.evaluate import zero_prompt
    from r1mini.grpo import GRPOConfig
    from r1mini.tools.plans import eval_phase, grpo_dry, prompt_lengths
    from r1mini.toy.tasks import TASK_MIXES
    from r1mini.engine.tokenizer import get_tokenizer

    tok, cpu = get_tokenizer(), torch.device("cpu")
    problems = TASK_MIXES["smoke"].sample(random.Random(0), 8)
    longest = max(prompt_lengths(tok, problems, zero_prompt))
    m = ModelConfig.preset("nano", vocab_size=tok.vocab_size, max_seq_len=longest + 20)
    eval_phase("eval before", m, tok, {"x": problems}, 2, 20, zero_prompt, cpu)  # fits exactly
    with pytest.raises(
        ConfigError, match=f"eval before: the longest prompt \\({longest} tokens\\) \\+ max_new_tokens 21"
    ):
        eval_phase("eval before", m, tok, {"x": problems}, 2, 21, zero_prompt, cpu)
    with pytest.raises(ConfigError, match="GRPO: the longest prompt"):
        grpo_dry(
            "GRPO", m, tok, GRPOConfig(steps=1, questions=8, max_new_tokens=21), lambda step: problems, zero_prompt, cpu
        )


def run_script(*args, cwd=ROOT, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def test_too_long_max_new_tokens_fails_before_anything_runs(tmp_path):
    t0 = time.time()
    r = run_script("train_zero.py", "--preset", "smoke", "--max-new-tokens", "300", "--dry-run", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "max_new_tokens 300" in r.stderr and "exceeds the model's max_seq_len=256" in r.stderr
    assert "dry run:" not in r.stdout  # no phase started
    assert not (tmp_path / "runs").exists()
    assert time.time() - t0 < 120


def test_smoke_dry_run_runs_every_phase_and_writes_nothing(tmp_path):
    r = run_script("train_zero.py", "--preset", "smoke", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split("|")[1].strip(): line for line in r.stdout.splitlines() if line.startswith("| ")}
    for phase in ("base pretraining", "eval before", "GRPO", "eval after"):
        cells = [c.strip() for c in rows[phase].split("|")[1:-1]]
        assert float(cells[3]) > 0 and float(cells[4]) > 0 and float(cells[6]) > 0, cells  # s/step, projected, model
    assert "| 300 |" in rows["base pretraining"] and "| 60 |" in rows["GRPO"]  # the smoke preset's steps
    assert not (tmp_path / "runs").exists()  # no run folder, no base, no checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("script", ["train_zero.py", "train_r1.py"])
def test_gpu_preset_dry_runs_on_the_cpu(script, monkeypatch):
    """Every phase of the gpu presets for one step on the CPU, at the gpu model's full size, max_new_tokens and
    max_seq_len; the batches are cut (the full ones would take hours here; the dry run on a GPU runs them whole)."""
    import dataclasses

    import train_r1
    import train_zero
    from r1mini import reward_model, sft
    from r1mini.toy import pretrain
    from r1mini.tools.plans import r1_plan, zero_plan

    monkeypatch.setitem(
        pretrain.PRETRAIN_PRESETS, "gpu", dataclasses.replace(pretrain.PRETRAIN_PRESETS["gpu"], batch_size=2)
    )
    for name in ("cpu", "gpu"):
        monkeypatch.setitem(sft.SFT_PRESETS, name, dataclasses.replace(sft.SFT_PRESETS[name], batch_size=2))
    monkeypatch.setitem(reward_model.RM_PRESETS, "cpu", dataclasses.replace(reward_model.RM_PRESETS["cpu"], batch=2))
    z = train_zero.ZERO_PRESETS["gpu"]
    zcfg = dataclasses.replace(z, device="cpu", final_n=4, final_k=2, curve_n=4, curve_k=2, benchmarks="",
                               grpo=dataclasses.replace(z.grpo, questions=2, G=2))  # fmt: skip
    if script == "train_zero.py":
        plan = zero_plan(zcfg)
    else:
        r = train_r1.R1_PRESETS["gpu"]
        cfg = dataclasses.replace(r, device="cpu", final_n=4, final_k=2, general_n=2, benchmarks="",
                                  cold_zero_problems=4, rs_problems=4, rm_prompts=4, rm_harmless_prompts=4,
                                  rm_test_prompts=4, rl=dataclasses.replace(r.rl, questions=2, G=2))  # fmt: skip
        plan = r1_plan(cfg, zcfg)
    assert plan.model.n_layer == 8 and plan.model.n_embd == 512 and plan.model.max_seq_len == 1024
    rows = dry_run(plan.phases, torch.device("cpu"), steps=0, out=quiet)
    assert [r["phase"] for r in rows] == [p.name for p in plan.phases]
    assert all(r["s_per_step"] > 0 and r["projected_s"] > 0 for r in rows)
