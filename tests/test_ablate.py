"""The workbench (r1mini/tools/ablate.py, r1mini/tools/compare.py): variants run as train_zero.py runs, and the
comparison table checked against each run's own files (eval_after.json, metrics.jsonl, summary.json), recomputed
here with numpy; the paired difference against metrics written out by hand."""

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from r1mini.engine.common import ConfigError
from r1mini.tools.ablate import (
    ABLATE_PRESETS,
    AblateConfig,
    Variant,
    code_variant,
    command,
    make_variants,
    parse_grid,
    run_dir,
)
from r1mini.tools.compare import load_runs, table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_ablation(tmp_path_factory, smoke_base_root):
    """`python -m r1mini.tools.ablate --preset smoke`: two aggregations of eq. (1), one seed, 12 steps each."""
    out = tmp_path_factory.mktemp("ablate") / "smoke"
    cmd = [sys.executable, "-m", "r1mini.tools.ablate", "--preset", "smoke", "--out", str(out),
           "--base-root", str(smoke_base_root), "--runs-root", str(out / "runs")]  # fmt: skip
    r = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                       timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r.stdout


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open()))


def test_smoke_ablation_table_is_each_runs_own_figures(smoke_ablation):
    out, stdout = smoke_ablation
    rows = {r["run"]: r for r in _rows(out / "comparison.csv")}
    assert list(rows) == ["loss_agg=seq_mean", "loss_agg=constant"]
    cfg = dataclasses.replace(ABLATE_PRESETS["smoke"], runs_root=str(out / "runs"))
    runs = {v.name: run_dir(v, 0, cfg) for v in make_variants(parse_grid([cfg.default_grid]), [], out)}
    assert runs["loss_agg=seq_mean"].parent.name == "steps=12"  # the preset's own loss_agg: no flag in the name
    for name, row in rows.items():
        run = runs[name]
        assert json.loads((run / "config.json").read_text())["grpo"]["loss_agg"] == name.split("=")[1]
        ev = json.loads((run / "eval_after.json").read_text())["heldout"]
        steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert len(steps) == 12  # the preset's steps
        summary = json.loads((run / "summary.json").read_text())
        assert float(row["pass@1"]) == pytest.approx(ev["all"]["pass@1"])
        assert float(row["length"]) == pytest.approx(ev["all"]["length"])
        assert float(row["zero_spread"]) == pytest.approx(np.mean([s["zero_spread"] for s in steps]))
        assert float(row["kl"]) == pytest.approx(np.mean([s["kl"] for s in steps]))
        assert float(row["seconds"]) == pytest.approx(sum(summary["seconds"].values()))
    # the paired difference to the first variant, over the same held-out questions
    a, b = (json.loads((runs[n] / "eval_after.json").read_text())["heldout"] for n in rows)
    assert a["questions"] == b["questions"]
    d = np.array(b["per_question"]) - np.array(a["per_question"])
    second = rows["loss_agg=constant"]
    assert float(second["diff"]) == pytest.approx(d.mean(), abs=1e-12)
    assert float(second["diff_se"]) == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)), abs=1e-12)
    assert rows["loss_agg=seq_mean"]["diff"] == ""  # the reference
    assert "loss_agg=constant" in stdout and (out / "curves.csv").is_file() and (out / "comparison.md").is_file()


def test_a_finished_ablation_is_reused_not_rerun(smoke_ablation, smoke_base_root):
    out, _ = smoke_ablation
    summary = out / "runs" / "smoke" / "loss_agg=constant,steps=12" / "seed0" / "summary.json"
    stamp = summary.stat().st_mtime
    cmd = [sys.executable, "-m", "r1mini.tools.ablate", "--preset", "smoke", "--out", str(out / "again"),
           "--base-root", str(smoke_base_root), "--runs-root", str(out / "runs")]  # fmt: skip
    r = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert summary.stat().st_mtime == stamp  # the run was reused, and the comparison written again
    assert (out / "again" / "comparison.csv").read_text() == (out / "comparison.csv").read_text()


def test_compare_reads_every_stage_of_an_r1_run(smoke_r1_run):
    run, summary = smoke_r1_run
    runs = load_runs(run)
    names = [r.name.split("/")[-1] for r in runs]
    assert {"r1_zero", "cold_start", "reasoning_rl", "rejection_sft", "r1"} <= set(names)
    for r in runs:
        stage = r.name.split("/")[-1]
        assert r.heldout["all"]["pass@1"] == pytest.approx(summary["stages"][stage]["heldout_pass@1"])
    lines, figs = table({r.name: [r] for r in runs})
    assert len(lines) == 2 + len(runs) and figs[0]["diff"] is None and figs[1]["diff"] is not None


def test_paired_difference_pools_the_seeds_question_by_question():
    from r1mini.tools.compare import Run, group_figures

    def run(name, per_q):
        return Run(name, {"all": {"pass@1": sum(per_q) / len(per_q)}, "per_question": per_q, "questions": ["a", "b"]})

    ref = [run("r0", [1.0, 0.0]), run("r1", [0.5, 0.5])]
    new = [run("n0", [1.0, 1.0]), run("n1", [0.5, 0.0])]
    g = group_figures(new, ref)
    d = [0.0, 1.0, 0.0, -0.5]  # (1-1, 1-0) for seed 0, (0.5-0.5, 0-0.5) for seed 1, by hand
    mean = sum(d) / 4
    sd = (sum((x - mean) ** 2 for x in d) / 3) ** 0.5
    assert g["diff"] == pytest.approx(mean) and g["diff_se"] == pytest.approx(sd / 2)
    assert (g["pass@1"], g["pass@1_min"], g["pass@1_max"]) == (pytest.approx(0.625), 0.25, 1.0)
    with pytest.raises(ConfigError, match="same held-out questions"):
        group_figures([Run("x", {"all": {"pass@1": 1.0}, "per_question": [1.0], "questions": ["c"]})], ref[:1])


def test_grid_and_variants(tmp_path):
    assert parse_grid(["beta=0,0.04", "scale-std=true,false"]) == [
        ("beta", ["0", "0.04"]),
        ("scale_std", ["true", "false"]),
    ]
    for bad in ("beta", "nope=1,2", "beta=", "scale_std=maybe", "grpo=1", "steps=1.5"):
        with pytest.raises(ConfigError):
            parse_grid([bad])
    vs = make_variants(parse_grid(["beta=0,0.04 mu=1,2"]), [], tmp_path)
    assert [v.name for v in vs] == ["beta=0,mu=1", "beta=0,mu=2", "beta=0.04,mu=1", "beta=0.04,mu=2"]
    cmd = command(vs[3], 1, tmp_path / "r", AblateConfig(zero_preset="smoke", steps=7))
    assert cmd[cmd.index("--seed") + 1] == "1" and cmd[cmd.index("--steps") + 1] == "7"
    assert cmd[cmd.index("--beta") + 1] == "0.04" and cmd[cmd.index("--mu") + 1] == "2"
    assert cmd[cmd.index("--preset") + 1] == "smoke"


def test_code_variants_from_a_folder_and_from_a_git_ref(tmp_path):
    checkout = tmp_path / "mine"
    checkout.mkdir()
    (checkout / "train_zero.py").write_text("")
    vs = make_variants([], [f"mine={checkout}"], tmp_path / "out")
    assert [(v.name, v.flags) for v in vs] == [("main", {}), ("mine", {})]
    assert vs[0].script == ROOT / "train_zero.py" and vs[1].script == (checkout / "train_zero.py").resolve()
    vs = make_variants(parse_grid(["beta=0.04"]), [f"mine={checkout}"], tmp_path / "out")  # each checkout, the grid
    assert [(v.name, v.flags, v.script.parent.name) for v in vs] == [
        ("main:beta=0.04", {"beta": "0.04"}, ROOT.name),
        ("mine:beta=0.04", {"beta": "0.04"}, "mine"),
    ]
    # the variant's train_zero.py runs in its own checkout, so its run folder is handed over as an absolute path
    cfg = AblateConfig(zero_preset="smoke", runs_root="runs/ablate/runs")
    cmd = command(vs[1], 0, run_dir(vs[1], 0, cfg), cfg)
    out = Path(cmd[cmd.index("--out") + 1])
    assert out.is_absolute() and out == (Path.cwd() / run_dir(vs[1], 0, cfg)), out
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0:
        script = code_variant("head", "HEAD", tmp_path / "out")  # HEAD's tree, written apart
        assert script == tmp_path / "out" / "code" / "head" / "train_zero.py"
        assert (script.parent / "r1mini" / "grpo.py").is_file()
    with pytest.raises(ConfigError, match="neither a folder"):
        code_variant("x", "no-such-ref-or-folder", tmp_path / "out")
    with pytest.raises(ConfigError, match="NAME=PATH"):
        make_variants([], ["noequals"], tmp_path)


def test_a_failing_run_is_one_line_naming_its_log(tmp_path, smoke_base_root):
    from r1mini.tools.ablate import run_all

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "train_zero.py").write_text("import sys\nprint('boom: the edited equation raised')\nsys.exit(3)\n")
    cfg = AblateConfig(zero_preset="smoke", seeds=1, base_root=str(smoke_base_root), runs_root=str(tmp_path))
    with pytest.raises(ConfigError, match=r"b seed 0 failed \(exit 3\): boom.*log\.txt"):
        run_all([Variant("b", {}, broken / "train_zero.py")], cfg, quiet=True)
