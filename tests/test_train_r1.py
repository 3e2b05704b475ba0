"""DeepSeek-R1's four stages end to end on the smoke preset (section 2.3): each stage must have done its job.

One smoke run per session (the smoke base is pretrained into a temporary folder first, ~20 s on 2 cores);
every test below reads that run's folder. The figures of a tiny model are noise, so the checks are on what
each stage must produce and on the parts of it that are exact (data formats, filters, logged rewards)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1mini.sft import read_jsonl
from r1mini.template import parse_r1_completion

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("r1_zero", "cold_start", "reasoning_rl", "no_language_reward", "rejection_sft", "r1")
COLUMNS = {"heldout_pass@1", "medium_pass@1", "hard_pass@1", "mixing_zh", "mixing_en", "readability", "length", "helpfulness", "harmlessness"}


def run_r1(*args, base_root):
    cmd = [sys.executable, str(ROOT / "train_r1.py"), "--preset", "smoke", "--base-root", str(base_root), *args]
    return subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, smoke_base_root):
    root = tmp_path_factory.mktemp("r1")
    r = run_r1("--out", str(root / "run"), "--json", str(root / "summary.json"), base_root=smoke_base_root)
    assert r.returncode == 0, r.stderr[-4000:]
    return root / "run", json.loads((root / "summary.json").read_text()), smoke_base_root


def done(run: Path, stage: str) -> dict:
    return json.loads((run / stage / "done.json").read_text())


def metrics(run: Path, stage: str) -> list[dict]:
    return [json.loads(line) for line in (run / stage / "metrics.jsonl").read_text().splitlines()]


def test_every_stage_writes_its_checkpoint_eval_and_row(smoke):
    run, summary, _ = smoke
    for stage in STAGES:
        for name in ("model.pt", "eval.json", "done.json"):
            assert (run / stage / name).is_file(), (stage, name)
    assert set(summary["stages"]) == {"base", *STAGES}
    for name, row in summary["stages"].items():
        assert COLUMNS <= set(row), name
        assert row["medium_pass@1"] is None and row["hard_pass@1"] is None  # the smoke preset evaluates no benchmark
        for c in COLUMNS - {"length", "medium_pass@1", "hard_pass@1"}:
            assert 0.0 <= row[c] <= 1.0, (name, c, row[c])
    report = (run / "report.md").read_text()
    for label in ("R1-Zero", "cold start (2.3.1)", "+ reasoning RL (2.3.2)", "+ rejection sampling SFT (2.3.3)", "= R1 (2.3.4)", "without the language reward"):
        assert label in report
    assert json.loads((run / "config.json").read_text())["reasoning_steps"] == 6


def test_cold_start_set_is_readable_correct_and_bilingual(smoke):
    run, _, _ = smoke
    examples = read_jsonl(run / "cold_start" / "cold_start.jsonl")
    d = done(run, "cold_start")
    assert d["size"] == len(examples) >= 200
    assert {e.language for e in examples} == {"en", "zh"}
    assert {e.source for e in examples} >= {"generator"}
    for e in examples:
        assert parse_r1_completion(e.response) is not None, e.response
        assert e.prompt.startswith("User: ") and e.prompt.endswith("Assistant:")
    assert d["sft"]["loss_last"] < d["sft"]["loss_first"]


def test_reasoning_rl_sums_accuracy_and_language_and_the_ablation_drops_it(smoke):
    run, _, _ = smoke
    for stage, weight in (("reasoning_rl", 1.0), ("no_language_reward", 0.0)):
        m = metrics(run, stage)
        assert len(m) == 6
        for row in m:  # 2.3.2: reward = accuracy + weight * language consistency, averaged over the batch
            assert row["reward"] == pytest.approx(row["reward_accuracy"] + weight * row["reward_language"], abs=1e-5)
        assert done(run, stage)["language_weight"] == weight


def test_rejection_set_keeps_only_correct_clean_responses_and_adds_general_data(smoke):
    run, _, _ = smoke
    data = read_jsonl(run / "rejection_sft" / "sft_data.jsonl")
    d = done(run, "rejection_sft")
    assert d["size"] == len(data) == d["set"]["reasoning"] + d["set"]["general"]
    assert d["set"]["general"] > 0
    drops = d["set"]["drops"]
    assert drops["sampled"] == 24 * 2 and drops["kept"] == d["set"]["reasoning"]
    for e in data:
        if e.source == "rejection":
            assert parse_r1_completion(e.response) is not None
    assert any(e.source.startswith("general/") for e in data)


def test_rl_for_all_scenarios_trains_two_reward_models_and_logs_gold_beside_them(smoke):
    run, _, _ = smoke
    d = done(run, "r1")
    for what, view in (("helpful", "summary"), ("harmless", "whole")):
        assert (run / "r1" / f"rm_{what}.pt").is_file()
        info = d["reward_models"][what]
        assert info["view"] == view and info["train_pairs"] > 0
    m = metrics(run, "r1")
    assert len(m) == 4
    for row in m:
        for k in ("rm_general", "gold_helpful", "gold_harmless"):
            assert k in row


def test_stages_rerun_from_saved_checkpoints(smoke, tmp_path):
    run, _, base_root = smoke
    stamps = {s: (run / s / "done.json").stat().st_mtime_ns for s in STAGES}
    r = run_r1("--out", str(run), "--stages", "r1", base_root=base_root)
    assert r.returncode == 0, r.stderr[-3000:]
    after = {s: (run / s / "done.json").stat().st_mtime_ns for s in STAGES}
    assert after["r1"] > stamps["r1"]  # re-ran from rejection_sft's checkpoint ...
    assert all(after[s] == stamps[s] for s in STAGES if s != "r1")  # ... and nothing else
    assert done(run, "r1")["figures"].keys() >= COLUMNS
    empty = tmp_path / "empty"
    r = run_r1("--out", str(empty), "--stages", "r1", base_root=base_root)
    assert r.returncode == 2 and "run it first" in r.stderr


def test_bad_flags_give_one_line(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "train_r1.py"), "--stages", "nope"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "unknown stage" in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "train_r1.py"), "--resume", str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "not a train_r1 run folder" in r.stderr
