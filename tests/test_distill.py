"""distill.py (sections 2.4 and 4.1): the student presets, one smoke run on a smoke R1 teacher, the report against
the eval files it is built from, the compute rule of 4.1, and the errors on a missing teacher or a bad data file.

The smoke run's figures are noise (a 0.06M model); the checks are on what must hold exactly: which data each
student was trained on, how many tokens that is (recounted here with the tokenizer), the table's cells against
eval.json, RL's compute >= distillation's."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from r1mini.engine.model import MODEL_PRESETS, ModelConfig
from r1mini.toy.pretrain import PRETRAIN_PRESETS
from r1mini.template import parse_r1_completion
from r1mini.engine.tokenizer import get_tokenizer

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("teacher", "smoke/base", "smoke/rl", "smoke/distilled", "smoke/distilled_rl", "smoke/distilled_r1")
JSON_KEYS = {"params", "heldout_pass@1", "medium_pass@1", "hard_pass@1", "mixing", "readability", "cpu_seconds"}


def run_distill(*args, cwd=ROOT):
    cmd = [sys.executable, str(ROOT / "distill.py"), *args]
    return subprocess.run(
        cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=900, cwd=cwd
    )


def params_by_hand(n_layer, n_embd, n_head, n_kv_head, inter, vocab):
    """Llama block, tied embeddings: q and o are d x d, k and v d x (kv heads * head dim), a SwiGLU MLP of three
    d x inter matrices, two RMSNorm weights per block and one at the end."""
    hd = n_embd // n_head
    attn = 2 * n_embd * n_embd + 2 * n_embd * n_kv_head * hd
    return vocab * n_embd + n_layer * (attn + 3 * n_embd * inter + 2 * n_embd) + n_embd


@pytest.mark.parametrize("name, expected", [("micro", 172_352), ("mini", 430_752)])
def test_student_presets_are_smaller_than_the_teacher_and_pretrain_like_it(name, expected):
    from r1mini.engine.model import Transformer

    cfg = ModelConfig.preset(name, vocab_size=get_tokenizer().vocab_size)
    n = Transformer(cfg).num_params()
    assert (
        n
        == expected
        == params_by_hand(cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.vocab_size)
    )
    teacher = Transformer(ModelConfig.preset(PRETRAIN_PRESETS["cpu"].model, vocab_size=cfg.vocab_size)).num_params()
    assert n < teacher / 2
    s, t = PRETRAIN_PRESETS[name], PRETRAIN_PRESETS["cpu"]
    assert s.model == name in MODEL_PRESETS
    assert (s.corpus, s.n_docs, s.steps * s.batch_size * s.seq_len) == (
        t.corpus,
        t.n_docs,
        t.steps * t.batch_size * t.seq_len,
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, smoke_r1_run, smoke_base_root):
    teacher, _ = smoke_r1_run
    out = tmp_path_factory.mktemp("distill")
    r = run_distill(
        "--preset",
        "smoke",
        "--r1-run",
        str(teacher),
        "--base-root",
        str(smoke_base_root),
        "--out",
        str(out / "run"),
        "--json",
        str(out / "summary.json"),
    )
    assert r.returncode == 0, r.stderr[-4000:]
    return out / "run", json.loads((out / "summary.json").read_text()), teacher


def done(run: Path, row: str) -> dict:
    return json.loads((run / row / "done.json").read_text())


def test_every_row_has_its_model_eval_and_figures(smoke):
    run, summary, _ = smoke
    assert set(summary["rows"]) == set(ROWS)
    for row in ROWS:
        assert set(summary["rows"][row]) >= JSON_KEYS
        for key in ("heldout_pass@1", "mixing", "readability"):
            assert 0 <= summary["rows"][row][key] <= 1
        assert (run / row / "eval.json").is_file() and (run / row / "done.json").is_file()
        assert (run / row / "model.pt").is_file() == (row not in ("teacher", "smoke/base"))
    for row in ("smoke/rl", "smoke/distilled_rl"):
        assert len((run / row / "metrics.jsonl").read_text().splitlines()) == done(run, row)["compute"]["steps"]
    assert "Table 6 analog" in (run / "report.md").read_text()


def test_report_and_json_figures_are_those_of_the_eval_files(smoke):
    run, summary, _ = smoke
    table = {}
    for line in (run / "report.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| model"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            table[cells[0]] = cells
    for row in ROWS:
        ev = json.loads((run / row / "eval.json").read_text())["reasoning"]
        en, zh = ev["heldout"]["all"], ev["heldout_zh"]["all"]
        zero = row in ("smoke/base", "smoke/rl")
        expect = {
            "heldout_pass@1": en["pass@1"],
            "mixing": (en["mixed_lang"] + zh["mixed_lang"]) / 2,
            "readability": 0.0 if zero else (en["format"] + zh["format"]) / 2,
        }
        for key, value in expect.items():
            assert summary["rows"][row][key] == pytest.approx(value, abs=1e-12), (row, key)
        label = (
            "teacher (R1)"
            if row == "teacher"
            else next(k for k in table if k.startswith("smoke: ") and _row_of(k) == row)
        )
        cells = table[label]
        assert float(cells[2]) == pytest.approx(en["pass@1"], abs=5.01e-4)  # heldout_pass@1 column
        assert float(cells[7]) == pytest.approx(expect["mixing"], abs=5.01e-4)
        assert float(cells[8]) == pytest.approx(expect["readability"], abs=5.01e-4)


def test_the_distilled_minus_rl_gap_carries_its_paired_standard_error(tmp_path):
    """findings() on hand-made rows: the gap distilled - RL over the same 4 held-out questions, d = (0.5, 0.25, 0,
    0.25), mean 0.25, sample sd sqrt(0.125 / 3), s.e. = sd / 2 = 0.102; the base row (different rates) plays no part."""
    from distill import DistillConfig, findings

    rates = {"base": [0.0, 0.0, 0.25, 0.0], "rl": [0.25, 0.5, 0.75, 0.25], "distilled": [0.75, 0.75, 0.75, 0.5]}
    done = {}
    for row, r in rates.items():
        (tmp_path / "micro" / row).mkdir(parents=True)
        ev = {"reasoning": {"heldout": {"questions": ["q1", "q2", "q3", "q4"], "per_question": r}}}
        (tmp_path / "micro" / row / "eval.json").write_text(json.dumps(ev))
        done[f"micro/{row}"] = {
            "params": 1,
            "figures": {"heldout_pass@1": sum(r) / 4, "readability": 1.0, "mixing": 0.0},
        }
    line = findings(DistillConfig(students="micro", regen=""), done, tmp_path)[0]
    se = (0.125 / 3) ** 0.5 / 2
    assert f"(gap +0.250 +- {se:.3f} s.e.;" in line and f"{se:.3f}" == "0.102", line


def _row_of(label: str) -> str:
    names = {"base": "base", "+ RL (R1-Zero recipe)": "rl", "distilled (SFT on R1's stage-3 set)": "distilled",
             "distilled + RL": "distilled_rl", "distilled on the final R1's own samples": "distilled_r1"}  # fmt: skip
    student, rest = label.split(": ", 1)
    return f"{student}/{names[rest]}"


def test_the_distilled_student_trained_on_exactly_the_teachers_stage3_set(smoke):
    run, _, teacher = smoke
    tok = get_tokenizer()
    lines = [
        json.loads(x) for x in (teacher / "rejection_sft" / "sft_data.jsonl").read_text().splitlines() if x.strip()
    ]
    lengths = [
        len(tok.encode(x["prompt"], allow_special=True)) + len(tok.encode(x["response"], allow_special=True)) + 1
        for x in lines
    ]
    d = done(run, "smoke/distilled")
    max_len = 256  # SFT_PRESETS["smoke"].max_len, one epoch
    assert d["examples"] == len(lines)
    assert d["sft"]["examples"] == sum(n <= max_len for n in lengths)
    assert d["compute"]["tokens"] == sum(n for n in lengths if n <= max_len)


def test_rl_on_the_student_had_at_least_the_distillations_compute(smoke):
    run, _, _ = smoke
    rl, dist = done(run, "smoke/rl")["compute"], done(run, "smoke/distilled")["compute"]
    assert rl["cpu_seconds"] >= dist["cpu_seconds"]
    assert rl["steps"] >= 4  # the preset's rl_steps, extended if that was not enough
    drl = done(run, "smoke/distilled_rl")["compute"]
    assert drl["cpu_seconds"] > dist["cpu_seconds"] and drl["tokens"] > dist["tokens"]  # distillation + its RL


def test_the_regenerated_set_is_the_final_r1s_clean_samples_plus_stage3s_general_data(smoke):
    run, _, teacher = smoke
    regen = [json.loads(x) for x in (run / "regen" / "sft_data.jsonl").read_text().splitlines()]
    stage3 = [json.loads(x) for x in (teacher / "rejection_sft" / "sft_data.jsonl").read_text().splitlines()]
    assert [x for x in regen if x["source"].startswith("general")] == [
        x for x in stage3 if x["source"].startswith("general")
    ]
    for x in regen:
        if x["source"] == "rejection":
            assert parse_r1_completion(x["response"]) is not None
    counts = done(run, "smoke/distilled_r1")["set"]
    assert counts["reasoning"] + counts["general"] == len(regen) == done(run, "smoke/distilled_r1")["examples"]
    assert counts["drops"]["sampled"] == 16 * 2  # regen_problems x regen_k of the smoke preset


def test_resume_of_a_finished_run_keeps_its_rows_and_refuses_config_flags(smoke):
    run, _, _ = smoke
    before = {row: (run / row / "done.json").stat().st_mtime_ns for row in ROWS}
    r = run_distill("--resume", str(run))
    assert r.returncode == 0, r.stderr[-2000:]
    assert {row: (run / row / "done.json").stat().st_mtime_ns for row in ROWS} == before
    r = run_distill("--resume", str(run), "--final-n", "4")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "final" in r.stderr


def test_no_teacher_run_says_how_to_make_one(tmp_path):
    r = run_distill("--preset", "smoke", "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "python train_r1.py --preset smoke" in r.stderr
    r = run_distill(
        "--preset", "smoke", "--r1-run", str(tmp_path / "nothing"), "--out", str(tmp_path / "d"), cwd=tmp_path
    )
    assert r.returncode == 2 and "not a finished train_r1.py run" in r.stderr


def test_a_bad_line_in_the_teachers_set_is_named(smoke, tmp_path):
    _, _, teacher = smoke
    copy = tmp_path / "teacher"
    shutil.copytree(teacher, copy, ignore=shutil.ignore_patterns("ckpt.pt", "zero_run"))
    data = copy / "rejection_sft" / "sft_data.jsonl"
    lines = data.read_text().splitlines()
    lines[2] = '{"prompt": "User: hi\\nAssistant:", "response": 3, "source": "x", "language": "en"}'
    data.write_text("\n".join(lines) + "\n")
    r = run_distill("--preset", "smoke", "--r1-run", str(copy), "--out", str(tmp_path / "d"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert re.search(r"sft_data\.jsonl:3: 'response' must be a string", r.stderr), r.stderr


def test_dry_run_runs_every_phase_of_the_smoke_preset_and_writes_nothing(tmp_path):
    r = run_distill("--preset", "smoke", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    for phase in (
        "eval: teacher",
        "smoke: distillation SFT",
        "smoke: RL (R1-Zero recipe)",
        "smoke: RL on the distilled student",
        "smoke: teacher samples for the regen set",
        "smoke: SFT on the regen set",
    ):
        assert f"| {phase} |" in r.stdout, phase
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rl_match, want_steps", [(True, [100, 385, 742, 953]), (False, [100])])
def test_rl_student_is_extended_until_its_cpu_seconds_reach_distillations(monkeypatch, tmp_path, rl_match, want_steps):
    """4.1's compute rule on stand-ins: every GRPO call costs 10 CPU seconds and distillation took 35, so RL runs
    again with steps x min(4, 1.1 x 35 / cpu so far), rounded up, until it has had 35: 100 -> 385 (x 3.85) -> 742
    (x 1.925) -> 953 (x 1.283), 40 CPU seconds. Without rl_match, one call of rl_steps."""
    import distill

    calls = []
    monkeypatch.setattr(distill, "measured", lambda fn: (fn(), 1.0, 10.0))
    monkeypatch.setattr(distill, "run_grpo", lambda run, name, policy, reward, problems, steps, *a, **k: (
        calls.append(steps) or (policy, None)))  # fmt: skip
    monkeypatch.setattr(distill, "finish_row", lambda run, name, model, compute, extra=None: compute)

    class Run:
        dcfg = distill.DistillConfig(rl_steps=100, rl_match=rl_match)
        dir = tmp_path

        def load(self, name):
            return "base policy"

    compute = distill.rl_student(Run(), "smoke", min_cpu=35.0)
    assert calls == want_steps, f"4.1: RL's steps per call, want {want_steps}, got {calls}"
    assert compute["steps"] == want_steps[-1] and compute["cpu_seconds"] == 10.0 * len(want_steps)



# ----------------------------------------------------------------------------- each row's model, on stand-ins


def test_sec4_1_base_and_rl_rows_under_table_1_the_distilled_rows_under_the_chat_prompt(monkeypatch, tmp_path):
    """Table 6: the student's base and its R1-Zero-recipe RL row answer under Table 1's template (how they were trained:
    train_zero.py's prompt), the teacher and every distilled row under R1's chat prompt; eval_model is a spy."""
    import torch

    import distill
    from r1mini.engine.model import Transformer

    seen = {}

    def fake_eval(run, model, zero, general=True):
        seen[run.row] = (zero, general)
        return {}

    monkeypatch.setattr(distill, "eval_model", fake_eval)
    monkeypatch.setattr(distill, "table_figures", lambda ev, k: dict.fromkeys(("heldout_pass@1", "readability",
                                                                                 "mixing"), 0.0))  # fmt: skip
    torch.manual_seed(0)
    model = Transformer(ModelConfig.preset("nano", vocab_size=get_tokenizer().vocab_size))

    class Run:
        cfg, quiet, dir = distill.R1_PRESETS["smoke"], True, tmp_path

        def stage_dir(self, name):
            self.row = name
            (tmp_path / name).mkdir(parents=True, exist_ok=True)
            return tmp_path / name

        def log(self, msg):
            pass

    rows = ["teacher", "s/base", "s/rl", "s/distilled", "s/distilled_rl", "s/distilled_r1"]
    for name in rows:
        distill.finish_row(Run(), name, model, {})
    want = {name: (name in ("s/base", "s/rl"), False) for name in rows}
    assert seen == want, f"4.1: Table 1's template for base and RL rows only (no general prompts): {seen}"


def test_sec2_4_distilled_rl_starts_from_the_distilled_student_and_adds_to_its_compute(monkeypatch, tmp_path):
    """S/distilled_rl: GRPO on top of S/distilled (its saved model.pt, not the student's base), and its compute is the
    distillation's plus the RL's: 7 + 5 CPU seconds, 3 + 2 wall seconds (stand-ins for run_grpo and the clock)."""
    import distill

    paths, seen = [], {}
    monkeypatch.setattr(distill, "load_model", lambda path, device=None: (paths.append(path) or f"<{path.name} at "
                                                                          f"{path.parent.name}>", {}))  # fmt: skip
    monkeypatch.setattr(distill, "measured", lambda fn: (fn(), 2.0, 5.0))
    monkeypatch.setattr(distill, "run_grpo", lambda run, name, policy, *a, **k: (seen.update(policy=policy) or
                                                                                 (policy, None)))  # fmt: skip
    monkeypatch.setattr(distill, "finish_row", lambda run, name, model, compute, extra=None: (name, model, compute))

    class Run:
        cfg, dcfg, dir, device = distill.R1_PRESETS["smoke"], distill.DISTILL_PRESETS["smoke"], tmp_path, "cpu"

        def load(self, stage):
            return f"<{stage} model>"

    distilled = {"compute": {"seconds": 3.0, "cpu_seconds": 7.0, "tokens": 1000}}
    name, model, compute = distill.rl_on_distilled(Run(), "s", distilled)
    assert paths == [tmp_path / "s" / "distilled" / "model.pt"] and seen["policy"] == model == "<model.pt at distilled>"
    assert name == "s/distilled_rl" and compute == {"seconds": 5.0, "cpu_seconds": 12.0, "tokens": 1000, "steps": 3}, (
        f"2.4 + RL: the distillation's compute plus the RL's, got {compute}"
    )


def _teacher_run(folder: Path) -> Path:
    """A finished train_r1.py run folder as distill.py reads it: config, the stage-3 set, and two checkpoints
    (empty files: load_model is a stand-in)."""
    import dataclasses

    from r1mini.pipeline import R1_PRESETS

    for name in ("rejection_sft/done.json", "r1/done.json", "r1/model.pt", "rejection_sft/model.pt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(R1_PRESETS["smoke"])))
    line = {"prompt": "User: hi\nAssistant:", "response": " Hello!", "source": "general/greeting", "language": "en"}
    (folder / "rejection_sft" / "sft_data.jsonl").write_text(json.dumps(line) + "\n")
    return folder


def test_sec2_4_the_teacher_row_and_the_regenerated_set_come_from_the_final_r1_model(monkeypatch, tmp_path):
    """The teacher row is the final R1 model (stage 2.3.4's r1/model.pt), and S/distilled_r1's set is sampled from it
    (not from the stage-3 model whose set S/distilled learns): load_model is a stand-in that records the paths."""
    import dataclasses

    import distill
    import r1mini.pipeline
    import r1mini.rejection

    teacher = _teacher_run(tmp_path / "teacher")
    loaded, sampled = [], []

    def fake_load(path, device=None):
        loaded.append(Path(path))
        return f"<{Path(path).parent.name} model>", {}

    def fake_sample(model, tok, problems, k, **kw):
        sampled.append(model)
        return [], {"sampled": 0}

    monkeypatch.setattr(distill, "load_model", fake_load)
    monkeypatch.setattr(r1mini.pipeline, "load_model", fake_load)  # Run.load
    monkeypatch.setattr(r1mini.rejection, "rejection_sample", fake_sample)
    monkeypatch.setattr(distill, "ensure_base", lambda preset, **kw: tmp_path / "student_base.pt")
    rows = {}
    monkeypatch.setattr(distill, "finish_row", lambda run, name, model, compute, extra=None: rows.setdefault(
        name, {"model": model, "params": 1, "figures": dict.fromkeys(distill.COLUMNS, 0.0)}))  # fmt: skip
    dcfg = dataclasses.replace(distill.DISTILL_PRESETS["smoke"], r1_run=str(teacher), rows="teacher", device="cpu")
    distill.distill(dcfg, tmp_path / "out", quiet=True)
    assert rows["teacher"]["model"] == "<r1 model>", f"the teacher row is the final R1 model: {rows['teacher']}"

    class Run:
        cfg, dir, device, tok = distill.R1_PRESETS["smoke"], tmp_path / "out", "cpu", None

        def stage_dir(self, name):
            (self.dir / name).mkdir(parents=True, exist_ok=True)
            return self.dir / name

    run = Run()
    run.dcfg = dcfg
    distill.regenerate(run, teacher, [])
    assert sampled == ["<r1 model>"] and loaded[-1] == teacher / "r1" / "model.pt", (
        f"S/distilled_r1's set: the final R1 model's samples, got {sampled}"
    )
