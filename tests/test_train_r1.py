"""DeepSeek-R1's four stages end to end on the smoke preset (section 2.3): each stage must have done its job.

One smoke run per pytest run (the smoke base is pretrained into a temporary folder first, ~20 s on 2 cores);
every test below reads that run's folder. The figures of a tiny model are noise, so the checks are on what
each stage must produce and on the parts of it that are exact (data formats, filters, logged rewards)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1mini.sft import read_jsonl
from r1mini.template import parse_r1_completion

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("r1_zero", "cold_start", "reasoning_rl", "no_language_reward", "rejection_sft", "r1")
COLUMNS = {
    "heldout_pass@1",
    "medium_pass@1",
    "hard_pass@1",
    "mixing_zh",
    "mixing_en",
    "off_language_zh",
    "readability",
    "length",
    "helpfulness",
    "harmlessness",
}


def run_r1(*args, base_root):
    cmd = [sys.executable, str(ROOT / "train_r1.py"), "--preset", "smoke", "--base-root", str(base_root), *args]
    return subprocess.run(
        cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=900, cwd=ROOT
    )


@pytest.fixture(scope="module")
def smoke(smoke_r1_run, smoke_base_root):
    """The pytest run's `python train_r1.py --preset smoke` run (tests/conftest.py; distill.py's tests use it too)."""
    run, summary = smoke_r1_run
    return run, summary, smoke_base_root


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
    for label in (
        "R1-Zero",
        "cold start (2.3.1)",
        "+ reasoning RL (2.3.2)",
        "+ rejection sampling SFT (2.3.3)",
        "= R1 (2.3.4)",
        "without the language reward",
    ):
        assert label in report
    assert json.loads((run / "config.json").read_text())["reasoning_steps"] == 6


def test_paired_differences_are_taken_over_the_same_questions(smoke):
    """R1 - R1-Zero (the goal), 2.3.2 - its ablation and R1 - stage 3, each over the same questions: recomputed
    here from the two rows' eval.json files in numpy float64 (the smoke preset evaluates no hard set)."""
    import numpy as np

    run, summary, _ = smoke
    assert set(summary["paired"]) == {"r1 - r1_zero", "reasoning_rl - no_language_reward", "r1 - rejection_sft"}
    report = (run / "report.md").read_text()
    for pair, figs in summary["paired"].items():
        a, b = pair.split(" - ")
        ea, eb = (json.loads((run / s / "eval.json").read_text())["reasoning"] for s in (a, b))
        assert set(figs) == {"heldout_pass@1", "heldout_zh_pass@1"}
        for name in ("heldout", "heldout_zh"):
            assert ea[name]["questions"] == eb[name]["questions"] and len(ea[name]["questions"]) == ea[name]["all"]["n"]
            for e in (ea, eb):  # the per-question rates are the row's: their mean is the table's pass@1
                assert np.mean(e[name]["per_question"]) == pytest.approx(e[name]["all"]["pass@1"], abs=1e-12)
            d = np.asarray(ea[name]["per_question"], dtype=np.float64) - np.asarray(
                eb[name]["per_question"], dtype=np.float64
            )
            assert figs[f"{name}_pass@1"][0] == pytest.approx(d.mean(), abs=1e-12)
            assert figs[f"{name}_pass@1"][1] == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)), abs=1e-12)
        d, se = figs["heldout_pass@1"]
        assert f"{d:+.3f} +- {se:.3f}" in report


def test_paired_comparisons_take_a_minus_b_for_each_pair_on_hand_made_eval_files(tmp_path):
    """train_r1.paired_comparisons on eval.json files written by hand (the smoke run's differences are often all 0,
    which cannot tell a - b from b - a): R1 - R1-Zero on 4 questions with rates (1, 1, 0.5, 0) - (0.5, 1, 0, 0):
    d = (0.5, 0, 0.5, 0), mean 0.25, sd (n-1) = 0.288675..., s.e. = sd / 2 = 0.144338...; a set whose questions differ
    between the rows is left out, and a pair whose rows did not both run is left out."""
    from train_r1 import paired_comparisons

    qs = ["q1", "q2", "q3", "q4"]

    def write(stage, heldout, zh_questions):
        path = tmp_path / ("base_eval.json" if stage == "base" else f"{stage}/eval.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        sets = {
            "heldout": {"questions": qs, "per_question": heldout},
            "heldout_zh": {"questions": zh_questions, "per_question": [0.0, 0.0]},
        }
        path.write_text(json.dumps({"reasoning": sets}))

    write("r1", [1.0, 1.0, 0.5, 0.0], ["a", "b"])
    write("r1_zero", [0.5, 1.0, 0.0, 0.0], ["a", "c"])  # other Chinese questions: no paired figure for that set
    write("rejection_sft", [1.0, 1.0, 1.0, 1.0], ["a", "b"])
    out = paired_comparisons(tmp_path, {"r1": {}, "r1_zero": {}, "rejection_sft": {}})
    assert set(out) == {"r1 - r1_zero", "r1 - rejection_sft"}  # reasoning_rl and its ablation did not run
    assert set(out["r1 - r1_zero"]) == {"heldout_pass@1"}
    d, se = out["r1 - r1_zero"]["heldout_pass@1"]
    assert d == pytest.approx(0.25, abs=1e-12) and se == pytest.approx(0.5 / math.sqrt(3) / 2, abs=1e-12)
    d, se = out["r1 - rejection_sft"]["heldout_pass@1"]  # (0, 0, -0.5, -1): mean -0.375, sd sqrt(0.229167) = 0.478714
    assert d == pytest.approx(-0.375, abs=1e-12) and se == pytest.approx(
        math.sqrt((0.375**2 * 2 + 0.125**2 + 0.625**2) / 3) / 2, abs=1e-12
    )


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
    # the general data's kinds at the shares R1Config.general_power sets (the smoke preset keeps the cpu default)
    from r1mini.toy.general import KINDS, all_prompts

    cfg = json.loads((run / "config.json").read_text())
    counts = {k: len(all_prompts("train", kinds=(k,))) ** cfg["general_power"] for k in KINDS}
    for k in KINDS:
        got = sum(e.source == f"general/{k}" for e in data)
        assert abs(got - d["set"]["general"] * counts[k] / sum(counts.values())) < 1, (k, got)


def test_rl_for_all_scenarios_trains_two_reward_models_and_logs_gold_beside_them(smoke):
    run, _, _ = smoke
    d = done(run, "r1")
    for what, view in (("helpful", "summary"), ("harmless", "whole")):
        assert (run / "r1" / f"rm_{what}.pt").is_file()
        info = d["reward_models"][what]
        assert info["view"] == view and info["train_pairs"] > 0
        assert sum(info["test_pairs_by_kind"].values()) == info["test_pairs"]  # held-out pairs: per kind of request too
        assert set(info["heldout_pair_accuracy_by_kind"]) == set(info["test_pairs_by_kind"])
    m = metrics(run, "r1")
    assert len(m) == 4
    for row in m:
        for k in ("rm_general", "gold_helpful", "gold_harmless"):
            assert k in row


def test_stages_rerun_from_saved_checkpoints(smoke, tmp_path):
    run, _, base_root = smoke
    stamps = {s: (run / s / "done.json").stat().st_mtime_ns for s in STAGES}
    r = run_r1(
        "--out", str(run), "--stages", "r1", "--all-steps", "3", "--rm-harmless", "cpu_whole", base_root=base_root
    )
    assert r.returncode == 0, r.stderr[-3000:]
    after = {s: (run / s / "done.json").stat().st_mtime_ns for s in STAGES}
    assert after["r1"] > stamps["r1"]  # re-ran from rejection_sft's checkpoint ...
    assert all(after[s] == stamps[s] for s in STAGES if s != "r1")  # ... and nothing else
    assert done(run, "r1")["figures"].keys() >= COLUMNS
    config = json.loads((run / "config.json").read_text())  # the run's saved config, with the flag given applied
    assert len(metrics(run, "r1")) == 3 and config["all_steps"] == 3 and config["reasoning_steps"] == 6
    rms = done(run, "r1")[
        "reward_models"
    ]  # each reward model trained with its own preset: smoke, and cpu_whole (3 epochs at 1e-3)
    assert (rms["helpful"]["epochs"], rms["harmless"]["epochs"], rms["harmless"]["lr"]) == (1, 3, 1e-3) and config[
        "rm_harmless"
    ] == "cpu_whole"
    empty = tmp_path / "empty"
    r = run_r1("--out", str(empty), "--stages", "r1", base_root=base_root)
    assert r.returncode == 2 and "run it first" in r.stderr


def test_r1_zero_is_cached_beside_the_base_and_reused_by_the_next_run(smoke, tmp_path):
    """The pytest run's smoke run trained R1-Zero and left it beside the smoke base (zero_cache_dir); a new run of the
    same recipe takes that policy (0 s of training, its source named) instead of training one."""
    import torch

    from r1mini.engine.model import load_model

    run, _, base_root = smoke
    cached = list(Path(base_root).glob("*/r1_zero/smoke-*/model.pt"))
    assert len(cached) == 1 and cached[0].read_bytes() == (run / "r1_zero" / "zero_run" / "model.pt").read_bytes()
    again = tmp_path / "again"
    r = run_r1("--out", str(again), "--stages", "r1_zero", base_root=base_root)
    assert r.returncode == 0, r.stderr[-3000:]
    d = done(again, "r1_zero")
    assert d["source"] == str(cached[0]) and d["seconds"] == 0.0 and not (again / "r1_zero" / "zero_run").exists()
    assert (
        json.dumps(str(cached[0])) in (again / "report.md").read_text()
    )  # the report says where its 0 s R1-Zero came from
    want, got = load_model(cached[0])[0].state_dict(), load_model(again / "r1_zero" / "model.pt")[0].state_dict()
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)


def test_r1_zero_cache_key_follows_the_recipe_the_base_the_device_and_the_code(tmp_path):
    """zero_cache_dir: one folder per (train_zero config, base, device, code); an edit to a .py file of the code
    gives a new folder, a non-code file does not, and R1's own --seed (not R1-Zero's recipe) does not either."""
    import dataclasses

    import torch

    from r1mini.pipeline import R1Config, Run
    from train_r1 import zero_cache_dir

    code = tmp_path / "code"
    (code / "r1mini").mkdir(parents=True)
    (code / "train_zero.py").write_text("x = 1\n")
    (code / "r1mini" / "grpo.py").write_text("eps = 0.2\n")
    base = tmp_path / "bases" / "cpu-00000000" / "model.pt"

    def key(cfg=R1Config(base_root="runs/base"), device="cpu", base_path=base):
        return zero_cache_dir(Run(cfg, tmp_path / "run", None, torch.device(device), base_path), root=code)

    first = key()
    assert first.parent == base.parent / "r1_zero" and first.name.startswith("cpu-") and key() == first
    assert key(dataclasses.replace(R1Config(base_root="runs/base"), seed=1)) == first
    assert key(R1Config(base_root="runs/base", zero_preset="smoke")).name.startswith("smoke-")
    assert key(device="meta") != first
    assert key(base_path=tmp_path / "bases" / "cpu-11111111" / "model.pt").parent.parent.name == "cpu-11111111"
    assert key(R1Config(base_root="elsewhere")) != first  # train_zero's config names its base root
    (code / "r1mini" / "notes.txt").write_text("not code")
    assert key() == first
    (code / "r1mini" / "grpo.py").write_text("eps = 0.3\n")  # an edited equation: a new policy
    assert key() != first


def test_bad_flags_give_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_r1.py"), "--stages", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "unknown stage" in r.stderr
    r = subprocess.run(
        [sys.executable, str(ROOT / "train_r1.py"), "--resume", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "not a train_r1 run folder" in r.stderr


def test_resume_refuses_any_config_flag_in_one_line(tmp_path):
    import dataclasses

    from r1mini.pipeline import R1_PRESETS

    # base "nope": were a flag let through, the run would stop at once on the unknown base (nothing trained)
    (tmp_path / "config.json").write_text(json.dumps({**dataclasses.asdict(R1_PRESETS["smoke"]), "base": "nope"}))
    for flags, named in (
        (["--all-steps", "3"], "--all-steps"),
        (["--preset", "cpu"], "--preset"),
        (["--rm-k", "2", "--zh", "1"], "--zh, --rm-k"),
    ):
        cmd = [sys.executable, str(ROOT / "train_r1.py"), "--resume", str(tmp_path), *flags]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert r.returncode == 2 and f"(got {named})" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "base_eval.json").exists()  # refused before anything ran


def test_reeval_evaluates_each_finished_stage_on_another_draw_and_pairs_it_with_r1_zero(monkeypatch, tmp_path):
    """train_r1.reevaluate's wiring, with the models and evaluate_problems replaced by stand-ins that record what
    they were given and return per-question rates set here: each finished stage (and only those) is loaded from its
    own checkpoint, R1-Zero answers under Table 1's template and every R1 stage under R1's chat prompt, both sets
    are heldout() draws of the run's mix with seeds 777 and 778 (the Chinese one in Chinese), the run's k and
    seed; each difference is stage - R1-Zero, mean and s.e. recomputed here in numpy float64."""
    import dataclasses

    import numpy as np

    import r1mini.pipeline as pipeline
    import train_r1
    from r1mini.evaluate import r1_prompt_of, zero_prompt
    from r1mini.toy.tasks import TaskMix, get_mix, heldout

    cfg = train_r1.R1_PRESETS["smoke"]
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    finished = ("r1_zero", "reasoning_rl", "r1")
    for stage in finished + ("cold_start",):
        (tmp_path / stage).mkdir()
        (tmp_path / stage / "model.pt").write_bytes(b"")  # read by the stand-in load_model only as a path
        if stage != "cold_start":  # a stage without done.json did not finish: not evaluated
            (tmp_path / stage / "done.json").write_text("{}")
    rates = {
        "r1_zero": lambda i: (i % 3) / 2,
        "reasoning_rl": lambda i: 1.0 if i % 2 else 0.25,
        "r1": lambda i: 1.0 if i < 5 else 0.0,
    }
    calls = []
    monkeypatch.setattr(pipeline, "load_model", lambda path, device: (Path(path).parent.name, None))

    def fake_evaluate(model, tok, problems, ecfg, prompt_fn=None, **kw):
        calls.append((model, prompt_fn, [p.question for p in problems], ecfg))
        per_q = [rates[model](i) + (0.0 if problems[0].lang == "en" else 0.125 * (i % 2)) for i in range(len(problems))]
        return {
            "all": {"pass@1": sum(per_q) / len(per_q)},
            "per_question": per_q,
            "questions": [p.question for p in problems],
        }

    monkeypatch.setattr(pipeline, "evaluate_problems", fake_evaluate)
    n = 7
    out = train_r1.reevaluate(tmp_path, n, quiet=True)
    mix = get_mix(cfg.mix)
    en = [p.question for p in heldout(mix, n, seed=777)]
    zh = [p.question for p in heldout(TaskMix(mix.parts, zh=1.0), n, seed=778)]
    assert all(p.lang == "zh" for p in heldout(TaskMix(mix.parts, zh=1.0), n, seed=778))
    assert sorted({c[0] for c in calls}) == sorted(finished) and len(calls) == 2 * len(finished)
    for model, prompt_fn, questions, ecfg in calls:
        assert prompt_fn is (zero_prompt if model == "r1_zero" else r1_prompt_of)
        assert questions in (en, zh) and ecfg.k == cfg.final_k and ecfg.seed == cfg.seed
    assert set(out["stages"]) == set(finished) and set(out["paired"]) == {"reasoning_rl - r1_zero", "r1 - r1_zero"}
    for stage in ("reasoning_rl", "r1"):
        for name, bump in (("heldout", 0.0), ("heldout_zh", 0.125)):
            a = np.array([rates[stage](i) + bump * (i % 2) for i in range(n)], dtype=np.float64)
            b = np.array([rates["r1_zero"](i) + bump * (i % 2) for i in range(n)], dtype=np.float64)
            d, se = out["paired"][f"{stage} - r1_zero"][name]
            assert d == pytest.approx((a - b).mean(), abs=1e-12) and se == pytest.approx(
                (a - b).std(ddof=1) / np.sqrt(n), abs=1e-12
            )
            assert out["stages"][stage][f"{name}_pass@1"] == pytest.approx(a.mean(), abs=1e-12)
    assert json.loads((tmp_path / f"reeval-{n}.json").read_text()) == json.loads(json.dumps(out))
    for flags, says in (
        (["--reeval", "8"], "--out RUN_DIR"),
        (["--reeval", "8", "--out", str(tmp_path), "--zh", "1"], "(got --zh)"),
        (["--reeval", "1", "--out", str(tmp_path)], "at least 2"),
    ):
        r = subprocess.run(
            [sys.executable, str(ROOT / "train_r1.py"), *flags], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# ----------------------------------------------------------------------------- 2.3.4's batched reward


def test_all_scenarios_reward_scores_a_steps_general_outputs_in_one_call_per_model(monkeypatch):
    """Every general output is scored by both reward models in ONE reward_model.score call each; the result
    equals each text scored alone by the model's forward pass (sigmoid(helpful on the summary) + sigmoid(harmless
    on the whole)); reasoning questions get the rules; the gold scores are logged in order."""
    import torch

    import r1mini.reward_model as rmod
    from r1mini.toy.general import general_prompts, gold_harmless, gold_helpfulness
    from r1mini.engine.model import ModelConfig
    from r1mini.rewards import total_reward
    from r1mini.toy.tasks import Problem
    from r1mini.engine.tokenizer import get_tokenizer
    from r1mini.all_scenarios import all_scenarios_reward
    from r1mini.reasoning_rl import reasoning_reward

    tok = get_tokenizer()
    torch.manual_seed(0)
    rms = {
        what: rmod.RewardModel(ModelConfig.preset("nano", vocab_size=tok.vocab_size)).eval()
        for what in ("helpful", "harmless")
    }
    general = general_prompts(3, "train", seed=0) + general_prompts(1, "train", seed=0, kinds=("private_code",))
    problem = Problem("add", "What is 47 + 38?", "85", 2, lang="en")
    items = [general[0], problem, general[1], general[2], problem, general[3]]
    texts = [
        " I am r1mini.",
        " |special_token|7 + 8 = 15.|special_token|The answer is <answer> 85 </answer>",
        " Hello!",
        " |special_token|x|special_token|A week has 7 days.",
        " <answer> 84 </answer>",
        " |special_token|Li Na's code is 4821.|special_token|Sorry, I cannot share it.",
    ]
    calls = []
    real_score = rmod.score
    monkeypatch.setattr(
        rmod,
        "score",
        lambda rm, tok, prompts, responses, view, **kw: (
            calls.append((view, list(responses))) or real_score(rm, tok, prompts, responses, view, **kw)
        ),
    )
    log = []
    out = all_scenarios_reward(rms, tok, reasoning_reward(1.0), log)(texts, items)
    general_texts = [t for t, it in zip(texts, items) if it is not problem]
    assert calls == [("summary", general_texts), ("whole", general_texts)]  # one call per model for the whole step

    def alone(rm, prompt, text, view):  # one text through the forward pass, no batching
        with torch.no_grad():
            return torch.sigmoid(rm(*rmod.encode_texts(tok, [rmod.rm_text(prompt, text, view)], 512))).item()

    for (total, parts), text, item in zip(out, texts, items):
        if item is problem:
            assert total == total_reward(text, problem, {"accuracy": 1.0, "language": 1.0})[0] and parts == {
                "rule": total,
                "rm": 0.0,
            }
        else:
            expected = alone(rms["helpful"], item.prompt, text, "summary") + alone(
                rms["harmless"], item.prompt, text, "whole"
            )
            assert total == pytest.approx(expected, abs=1e-5) and parts == {"rule": 0.0, "rm": total}
    assert [x["gold_helpful"] for x in log] == [
        gold_helpfulness(it, t) for t, it in zip(texts, items) if it is not problem
    ]
    assert [x["gold_harmless"] for x in log] == [
        gold_harmless(it, t) for t, it in zip(texts, items) if it is not problem
    ]
    assert [x["rm"] for x in log] == [total for (total, _), it in zip(out, items) if it is not problem]
    assert [x["adversarial"] for x in log] == [False, False, False, True]  # general[3] asks for a private code


def test_step_gold_figures_judge_each_figure_on_the_requests_the_evaluation_uses():
    """Hand-worked: helpfulness over the helpfulness requests only, harmlessness over the adversarial ones only
    (as evaluate_general judges them held out), the learned reward over all; nan where a step has none."""
    import math

    from r1mini.all_scenarios import step_gold_figures

    log = [{"rm": 1.2, "gold_helpful": 1.0, "gold_harmless": 1.0, "adversarial": False},
           {"rm": 0.4, "gold_helpful": 0.5, "gold_harmless": 1.0, "adversarial": False},
           {"rm": 1.0, "gold_helpful": 1.0, "gold_harmless": 0.0, "adversarial": True},
           {"rm": 0.2, "gold_helpful": 0.0, "gold_harmless": 1.0, "adversarial": True},
           {"rm": 0.7, "gold_helpful": 1.0, "gold_harmless": 0.0, "adversarial": True}]  # fmt: skip
    out = step_gold_figures(log)
    assert out["rm_general"] == pytest.approx(3.5 / 5)
    assert out["gold_helpful"] == pytest.approx(0.75)  # (1.0 + 0.5) / 2, not (1 + 0.5 + 1 + 0 + 1) / 5
    assert out["gold_harmless"] == pytest.approx(1 / 3)  # 1 safe of 3 adversarial, not 3 of 5
    only_helpful = step_gold_figures(log[:2])
    assert math.isnan(only_helpful["gold_harmless"]) and only_helpful["gold_helpful"] == pytest.approx(0.75)
    assert all(math.isnan(v) for v in step_gold_figures([]).values())


def test_grpo_reward_batch_fn_gives_the_per_completion_rewards_in_one_call():
    """GRPOTrainer's optional reward_batch_fn (grpo.sample_rollout): called once per step with the N outputs and
    their problems (problem-major, G each); the rollout's rewards equal the per-completion reward_fn's."""
    import torch

    from r1mini.grpo import GRPOConfig, sample_rollout
    from r1mini.engine.model import ModelConfig, Transformer
    from r1mini.toy.tasks import Problem
    from r1mini.engine.tokenizer import get_tokenizer

    tok = get_tokenizer()
    torch.manual_seed(0)
    policy = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size)).eval()
    problems = [
        Problem("add", "What is 1 + 2?", "3", 1, lang="en"),
        Problem("add", "What is 4 + 4?", "8", 1, lang="en"),
    ]
    one = lambda text, p: (len(text) % 7 + (p.answer == "8"), {"n": float(len(text))})  # noqa: E731
    calls = []

    def batched(texts, items):
        calls.append(list(items))
        return [one(t, p) for t, p in zip(texts, items)]

    cfg = GRPOConfig(G=3, max_new_tokens=6)
    plain = sample_rollout(policy, tok, problems, lambda p: p.question, one, cfg, seed=5)
    batch = sample_rollout(policy, tok, problems, lambda p: p.question, None, cfg, seed=5, reward_batch_fn=batched)
    assert calls == [[problems[0]] * 3 + [problems[1]] * 3]
    assert batch.texts == plain.texts
    assert batch.rewards.tolist() == [
        [one(t, p)[0] for t in plain.texts[3 * i : 3 * i + 3]] for i, p in enumerate(problems)
    ]
    assert torch.equal(batch.parts["n"], plain.parts["n"])


def test_the_r1_zero_row_runs_train_zeros_rl_unchanged_without_its_own_curve_and_benchmarks():
    """zero_config: the R1-Zero row trains with train_zero.py's preset (every GRPO setting, the base, the mix and
    the reward weights as they are), and only drops the held-out curve and the benchmarks of train_zero's own report
    and shrinks its before/after table to 16 questions at k = 1 (the stage table evaluates the policy itself)."""
    import dataclasses

    from r1mini.pipeline import R1Config
    from train_r1 import zero_config
    from train_zero import ZERO_PRESETS

    cfg = R1Config(base_root="/tmp/bases", device="cpu")
    z = zero_config(cfg)
    cpu = ZERO_PRESETS["cpu"]
    assert z.grpo == cpu.grpo and (z.base, z.mix, z.reward_accuracy, z.reward_format) == (
        cpu.base,
        cpu.mix,
        cpu.reward_accuracy,
        cpu.reward_format,
    )
    assert (z.eval_every, z.benchmarks, z.base_root, z.device, z.final_n, z.final_k) == (
        0,
        "",
        "/tmp/bases",
        "cpu",
        16,
        1,
    )
    changed = {f.name for f in dataclasses.fields(z) if getattr(z, f.name) != getattr(cpu, f.name)}
    assert changed == {"eval_every", "benchmarks", "base_root", "device", "final_n", "final_k"}


@pytest.mark.parametrize("share, n_adversarial", [(0.25, 2), (0.5, 4), (0.0, 0), (1.0, 8)])
def test_all_scenarios_questions_hold_the_configured_general_and_adversarial_shares(share, n_adversarial):
    """A 2.3.4 step of 16 questions at general_share 0.5: 8 general train requests, of which round(8 * share) are
    adversarial (private codes, rude) and the rest helpfulness requests of every other kind, then 8 reasoning train
    problems; the same step gives the same questions."""
    from r1mini.toy.general import GeneralPrompt, split_of
    from r1mini.grpo import GRPOConfig
    from r1mini.toy.tasks import Problem
    from r1mini.toy.tasks import split_of as problem_split
    from r1mini.all_scenarios import all_scenarios_questions
    from r1mini.pipeline import R1Config

    cfg = R1Config(adversarial_share=share, rl=GRPOConfig(questions=16))
    qs = all_scenarios_questions(cfg, step=3)
    general, reasoning = qs[:8], qs[8:]
    assert (
        all(isinstance(q, GeneralPrompt) for q in general)
        and all(isinstance(q, Problem) for q in reasoning)
        and len(reasoning) == 8
    )
    assert sum(q.kind in ("private_code", "rude") for q in general) == n_adversarial
    assert [q.adversarial for q in general] == [False] * (8 - n_adversarial) + [True] * n_adversarial
    helpful = {q.kind for q in general if not q.adversarial}  # kinds in turn: every one when there are >= 5
    assert helpful <= {"self_cognition", "greeting", "translation", "factual_qa", "writing"} and len(helpful) == min(
        5, 8 - n_adversarial
    )
    assert all(split_of(q.key) == "train" for q in general) and all(problem_split(p) == "train" for p in reasoning)
    assert all_scenarios_questions(cfg, step=3) == qs and all_scenarios_questions(cfg, step=4) != qs


def test_all_scenarios_helpful_and_adversarial_requests_come_from_separate_random_streams():
    """The helpfulness and adversarial requests of a 2.3.4 step are drawn apart. With one stream for both, the
    i-th adversarial request took the language the i-th helpful one took, at every step; apart, the languages
    agree about half the time (counted over 200 steps of 4 + 4 requests: 800 pairs)."""
    from r1mini.grpo import GRPOConfig
    from r1mini.all_scenarios import all_scenarios_questions
    from r1mini.pipeline import R1Config

    cfg = R1Config(adversarial_share=0.5, rl=GRPOConfig(questions=16))
    same = []
    for step in range(200):
        general = all_scenarios_questions(cfg, step)[:8]
        helpful, adversarial = general[:4], general[4:]
        same += [h.language == a.language for h, a in zip(helpful, adversarial)]
    assert len(same) == 800 and 0.4 < sum(same) / len(same) < 0.6


def test_reward_model_pairs_draw_each_models_own_number_of_prompts(monkeypatch):
    """2.3.4's preference pairs: the helpfulness model's train pairs come from rm_prompts train requests of every
    kind, the harmlessness model's from rm_harmless_prompts adversarial train requests, and each model's held-out
    pairs from rm_test_prompts test requests of its kinds. The sampler is replaced by one that records the prompts
    (and answers " x" to all, so only written responses make train pairs)."""
    import types

    import r1mini.all_scenarios as all_scenarios
    from r1mini.pipeline import R1Config
    from r1mini.toy.general import split_of

    seen = []

    def fake_sample(model, tok, prompts, k, max_new_tokens, seed, temperature=1.0):
        seen.append(list(prompts))
        return [[" x"] * k for _ in prompts]

    monkeypatch.setattr(all_scenarios, "_sample_general", fake_sample)
    run = types.SimpleNamespace(cfg=R1Config(rm_prompts=14, rm_harmless_prompts=6, rm_test_prompts=4), tok=None)
    for what, split, n, kinds in (
        ("helpful", "train", 14, 7),
        ("harmless", "train", 6, 2),
        ("helpful", "test", 4, 4),
        ("harmless", "test", 4, 2),
    ):
        seen.clear()
        pairs = all_scenarios.reward_model_pairs(run, None, what, split)
        (prompts,) = seen
        assert len(prompts) == n and len({p.kind for p in prompts}) == kinds  # kinds in turn
        assert all(split_of(p.key) == split for p in prompts)
        assert all(p.adversarial for p in prompts) == (what == "harmless")
        assert (len(pairs) > 0) == (split == "train")  # the sampled answers are all alike: no held-out pair


def test_the_r1_stages_draw_reasoning_prompts_from_train_mix_and_evaluate_on_mix():
    """The cpu preset: the R1 stages' reasoning prompts come from train_mix ("cpu_wide": 10% 3-digit operands, so
    that SFT does not teach the model to cut numbers to two digits), half in Chinese, all from the train split; the
    held-out questions of every row stay the test split of `mix` (the cpu mix R1-Zero trains on): no 3-digit operand."""
    import math
    from collections import Counter

    from r1mini.evaluate import eval_sets
    from r1mini.toy.tasks import split_of
    from r1mini.all_scenarios import all_scenarios_questions
    from r1mini.pipeline import R1_PRESETS, train_problems

    cfg = R1_PRESETS["cpu"]
    n = 2000
    probs = train_problems(cfg, n, "test-mix")
    levels = Counter((p.family, p.level) for p in probs)
    assert set(levels) == {("add", 2), ("mul", 2), ("linear", 1), ("add", 3), ("mul", 3)}
    for key, share in (("add", 3), 0.05), (("mul", 3), 0.05), (("linear", 1), 0.10):
        assert abs(levels[key] / n - share) < 4 * math.sqrt(share * (1 - share) / n), (key, levels[key])
    assert abs(sum(p.lang == "zh" for p in probs) / n - 0.5) < 4 * math.sqrt(0.25 / n)
    assert all(split_of(p) == "train" for p in probs)
    stage4 = [q for step in range(40) for q in all_scenarios_questions(cfg, step) if hasattr(q, "level")]
    assert any(q.level == 3 for q in stage4)  # 2.3.4's reasoning half draws from the same mix
    held = eval_sets(["heldout"], cfg.mix, cfg.final_n)["heldout"]
    assert {(p.family, p.level) for p in held} <= {("add", 2), ("mul", 2), ("linear", 1)}


def test_a_bad_train_mix_is_one_clear_error():
    from r1mini.engine.common import ConfigError
    from r1mini.pipeline import R1Config

    with pytest.raises(ConfigError, match="unknown task mix 'cpu_wider'"):
        R1Config(train_mix="cpu_wider").validate()


def test_a_run_folder_from_before_train_mix_keeps_the_mix_it_ran_with(tmp_path):
    """A config.json without train_mix (runs before it existed drew their reasoning prompts from `mix`) loads with
    train_mix = its mix, so that --stages, --resume and distill.py's RL students use the prompts that run used."""
    import dataclasses

    from r1mini.pipeline import R1_PRESETS, load_run_config

    saved = dataclasses.asdict(R1_PRESETS["cpu"])
    del saved["train_mix"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert load_run_config(tmp_path).train_mix == "cpu"
    (tmp_path / "config.json").write_text(json.dumps({**dataclasses.asdict(R1_PRESETS["cpu"]), "train_mix": "smoke"}))
    assert load_run_config(tmp_path).train_mix == "smoke"


@pytest.mark.parametrize("rm_init", ["rejection_sft", "base"])
def test_both_reward_models_start_from_the_checkpoint_rm_init_names(monkeypatch, tmp_path, rm_init):
    """2.3.4: the reward models' bodies start from the stage-3 SFT model (rm_init "rejection_sft", the default, as
    DeepSeek-V3's reward models start from its SFT checkpoints) or from the base. Two nano checkpoints with different
    weights stand in for them; the trainer is replaced by one that records the body it was handed."""
    import torch

    import r1mini.all_scenarios as all_scenarios
    import r1mini.reward_model as reward_model
    from r1mini.pipeline import R1Config, Run
    from r1mini.engine.common import ConfigError, atomic_save
    from r1mini.engine.model import ModelConfig, Transformer, model_state
    from r1mini.engine.tokenizer import get_tokenizer

    tok = get_tokenizer()
    paths = {"base": tmp_path / "base.pt", "rejection_sft": tmp_path / "run" / "rejection_sft" / "model.pt"}
    weights = {}
    for seed, (name, path) in enumerate(paths.items()):
        torch.manual_seed(seed)
        model = Transformer(ModelConfig.preset("nano", vocab_size=tok.vocab_size))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(model_state(model), path)
        weights[name] = {k: v.clone() for k, v in model.state_dict().items()}
    bodies, views = [], []

    def fake_train(rm, tok, pairs, cfg, view, quiet=False):
        bodies.append({k: v.clone() for k, v in rm.body.state_dict().items()})
        views.append(view)
        return {"train_accuracy": 1.0}

    monkeypatch.setattr(reward_model, "train_reward_model", fake_train)
    monkeypatch.setattr(all_scenarios, "reward_model_pairs", lambda run, policy, what, split: [])
    run = Run(R1Config(rm_init=rm_init), tmp_path / "run", tok, torch.device("cpu"), paths["base"], quiet=True)
    _, info = all_scenarios.train_reward_models(run, None)
    assert len(bodies) == 2 and {i["init"] for i in info.values()} == {rm_init}
    # 2.3.4: helpfulness is judged on the summary, harmlessness on the whole response
    assert views == ["summary", "whole"] and {what: i["view"] for what, i in info.items()} == {
        "helpful": "summary",
        "harmless": "whole",
    }, f"2.3.4: the helpfulness model reads the summary, the harmlessness model the whole response: {views}"
    other = "base" if rm_init == "rejection_sft" else "rejection_sft"
    for body in bodies:
        assert all(torch.equal(body[k], weights[rm_init][k]) for k in body)
        assert not all(torch.equal(body[k], weights[other][k]) for k in body)
    with pytest.raises(ConfigError, match="rm_init"):
        R1Config(rm_init="stage3").validate()


# ----------------------------------------------------------------------------- each stage's starting checkpoint, reward


class SpyRun:
    """A stand-in for pipeline.Run: load(stage) returns a label that names the checkpoint, so that a stage's wiring
    (which checkpoint it samples from, which it trains) can be read off what it hands on."""

    def __init__(self, cfg, folder: Path):
        self.cfg, self.dir, self.quiet, self.tok, self.loaded = cfg, folder, True, None, []

    def load(self, stage: str) -> str:
        self.loaded.append(stage)
        return f"<{stage} model>"

    def stage_dir(self, stage: str) -> Path:
        (self.dir / stage).mkdir(parents=True, exist_ok=True)
        return self.dir / stage

    def log(self, msg: str) -> None:
        pass


# a Chinese question answered right with a chain of one English word ("ones") and two Chinese characters (十位):
# accuracy 1, language consistency 2/3 (count the words by hand)
MIXED_ZH = " |special_token|ones: 7 + 8 = 15, 十位 4 + 3 + 1 = 8|special_token|<answer> 85 </answer>"


def test_sec2_3_2_reasoning_rl_starts_from_cold_start_and_rewards_accuracy_plus_language(monkeypatch, tmp_path):
    """2.3.2: GRPO from the cold-start model on train-split reasoning questions with reward = accuracy + language
    consistency; its ablation (stage no_language_reward) the same from the same model with accuracy alone. run_grpo
    is a spy; the reward it is handed is scored on a hand-made response: right (1) with a chain 2/3 in the question's
    language, so 1 + 2/3 with the language reward and 1 without."""
    import r1mini.reasoning_rl as reasoning_rl
    from r1mini.pipeline import R1_PRESETS
    from r1mini.toy.tasks import Problem, split_of

    calls = []

    def fake_grpo(run, stage, policy, reward_fn, problems_for_step, steps, desc, *a, **k):
        calls.append({"stage": stage, "policy": policy, "reward": reward_fn, "problems": problems_for_step})
        return policy, 0.0

    monkeypatch.setattr(reasoning_rl, "run_grpo", fake_grpo)
    monkeypatch.setattr(reasoning_rl, "finish_stage", lambda run, stage, model, extra, s: {"model": model, **extra})
    cfg = R1_PRESETS["smoke"]
    run = SpyRun(cfg, tmp_path)
    done, ablation = reasoning_rl.stage(run), reasoning_rl.ablation(run)
    assert run.loaded == ["cold_start", "cold_start"], f"2.3.2: both start from the cold-start model, {run.loaded}"
    assert [c["stage"] for c in calls] == ["reasoning_rl", "no_language_reward"]
    assert [c["policy"] for c in calls] == ["<cold_start model>"] * 2 and done["model"] == "<cold_start model>"
    p = Problem("add", "计算 47 + 38。", "85", 2, lang="zh")
    with_language, without = (c["reward"](MIXED_ZH, p)[0] for c in calls)
    assert with_language == pytest.approx(1 + 2 / 3), f"2.3.2: reward = accuracy + language, got {with_language}"
    assert without == pytest.approx(1.0), f"2.3.2's ablation: accuracy alone, got {without}"
    assert (done["language_weight"], ablation["language_weight"]) == (1.0, 0.0)
    questions = calls[0]["problems"](0)
    assert len(questions) == cfg.rl.questions and all(split_of(q) == "train" for q in questions), (
        "2.3.2: RL on train-split questions only"
    )


def test_sec2_3_4_all_scenarios_starts_from_stage3_with_all_beta_and_the_rules_of_2_3_2(monkeypatch, tmp_path):
    """2.3.4: the reward models are trained on the stage-3 (rejection_sft) model's responses, and GRPO starts from that
    model with beta = all_beta (pi_ref: the same model) and the rest of the RL config as given; a reasoning question
    gets the rules of 2.3.2, accuracy + language consistency (1 + 2/3 on the hand-made response)."""
    import dataclasses

    import r1mini.all_scenarios as all_scenarios
    from r1mini.pipeline import R1_PRESETS
    from r1mini.toy.tasks import Problem

    seen = {}

    def fake_rms(run, policy):
        seen["rm_policy"] = policy
        return {}, {}

    def fake_grpo(run, stage, policy, reward_fn, problems_for_step, steps, desc, *a, rl=None, **k):
        seen.update(stage=stage, policy=policy, reward=reward_fn, rl=rl, steps=steps)
        return policy, 0.0

    monkeypatch.setattr(all_scenarios, "train_reward_models", fake_rms)
    monkeypatch.setattr(all_scenarios, "run_grpo", fake_grpo)
    monkeypatch.setattr(all_scenarios, "finish_stage", lambda run, stage, model, extra, s: {"model": model})
    cfg = dataclasses.replace(R1_PRESETS["smoke"], all_beta=0.07)
    run = SpyRun(cfg, tmp_path)
    done = all_scenarios.stage(run)
    assert run.loaded == ["rejection_sft"] and seen["rm_policy"] == "<rejection_sft model>"
    assert seen["policy"] == done["model"] == "<rejection_sft model>", "2.3.4 starts from the stage-3 model"
    assert seen["rl"] == dataclasses.replace(cfg.rl, beta=0.07), f"2.3.4: beta = all_beta, got {seen['rl']}"
    assert (seen["stage"], seen["steps"]) == ("r1", cfg.all_steps)
    p = Problem("add", "计算 47 + 38。", "85", 2, lang="zh")
    total, parts = seen["reward"](MIXED_ZH, p)
    assert total == pytest.approx(1 + 2 / 3) and parts == {"rule": total, "rm": 0.0}, (
        f"2.3.4: a reasoning question gets 2.3.2's rules, accuracy + language, got {total}"
    )


def test_sec2_3_stage_table_evaluates_r1_zero_under_table_1_r1_stages_under_chat_prompt(monkeypatch, tmp_path):
    """The stage table: R1-Zero answers under Table 1's template (as it was trained), every R1 stage (2.3.1-2.3.4 and
    the ablation) under the chat prompt in R1's format; eval_model is a spy that records which."""
    import r1mini.pipeline as pipeline

    seen = {}

    def fake_eval(run, model, zero, **kw):
        seen[model] = zero
        return {}

    monkeypatch.setattr(pipeline, "eval_model", fake_eval)
    monkeypatch.setattr(pipeline, "row_figures", lambda ev, k: {})
    monkeypatch.setattr(pipeline, "model_state", lambda model: {})
    monkeypatch.setattr(pipeline, "atomic_save", lambda state, path: None)
    run = SpyRun(pipeline.R1_PRESETS["smoke"], tmp_path)
    for stage in STAGES:
        pipeline.finish_stage(run, stage, stage, {}, 0.0)  # the "model" is the stage's name: the spy records it
    want = {stage: stage == "r1_zero" for stage in STAGES}
    assert seen == want, f"Table 1's template for R1-Zero only, the chat prompt for every R1 stage: {seen}"
