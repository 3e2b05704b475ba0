"""R1-Zero end to end on the smoke preset: reward must rise; a killed run resumes step for step.

The smoke base model is pretrained once per pytest run into a temporary folder (~20 s on 2 cores)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"tokens_per_s", "sample_s", "train_s"}


@pytest.fixture(scope="module")
def base_root(smoke_base_root):
    return smoke_base_root


# Bit-for-bit comparisons between processes run torch on one thread: two unbroken 2-thread runs of the same
# command once differed in the last bits at step 6 (CI on 2 cores), before any kill, which is not what they test.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def run_zero(out: Path, base_root: Path, *extra: str, wait: bool = True, env_extra: dict | None = None):
    cmd = [
        sys.executable,
        str(ROOT / "train_zero.py"),
        "--preset",
        "smoke",
        "--out",
        str(out),
        "--base-root",
        str(base_root),
        *extra,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    if wait:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def metrics(run: Path) -> list[dict]:
    return [
        {k: v for k, v in json.loads(line).items() if k not in TIMING}
        for line in (run / "metrics.jsonl").read_text().splitlines()
    ]


def test_smoke_run_reward_rises_and_writes_the_run_folder(tmp_path, base_root):
    run = tmp_path / "run"
    r = run_zero(run, base_root, "--json", str(tmp_path / "summary.json"))
    assert r.returncode == 0, r.stderr[-3000:]
    m = metrics(run)
    rewards = [x["reward"] for x in m]
    n = len(rewards) // 4
    first, last = sum(rewards[:n]) / n, sum(rewards[-n:]) / n
    assert last > first + 0.1, (first, last)
    for name in (
        "config.json",
        "metrics.jsonl",
        "eval_before.json",
        "eval_after.json",
        "report.md",
        "model.pt",
        "ckpt.pt",
    ):
        assert (run / name).is_file(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["before"]["heldout"]) >= {"pass@1", "format", "length"}
    assert json.loads((run / "config.json").read_text())["grpo"]["steps"] == len(m)


def test_killed_run_resumes_step_for_step(tmp_path, base_root):
    steps = ["--steps", "24", "--ckpt-every", "4"]
    whole = tmp_path / "whole"
    assert run_zero(whole, base_root, *steps, env_extra=ONE_THREAD).returncode == 0
    killed = tmp_path / "killed"
    proc = run_zero(killed, base_root, *steps, wait=False, env_extra=ONE_THREAD)
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for a few checkpointed steps, then kill -9 mid-run
        if (killed / "metrics.jsonl").is_file() and len((killed / "metrics.jsonl").read_text().splitlines()) >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # it really died mid-run
    assert len(metrics(killed)) < 24
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_zero.py"), "--resume", str(killed)],
        env=dict(os.environ, PYTHONPATH=str(ROOT), **ONE_THREAD),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert metrics(killed) == metrics(whole)


def test_bad_config_gives_a_clear_error(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_zero.py"), "--preset", "nope"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "unknown preset 'nope'" in r.stderr
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_zero.py"), "--resume", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "not a train_zero run folder" in r.stderr
