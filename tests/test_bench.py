"""The benchmark at toy sizes: it runs end to end, the report has every figure, and each figure is the
quotient of the raw numbers it comes from (recomputed here). Timings themselves are never asserted."""

import json
import math
import subprocess
import sys

import pytest
import torch

from r1mini.tools.bench import bench_sampler, logprob_inputs, logprob_step, random_prompts
from r1mini.engine.model import ModelConfig, Transformer

TOY = ["--device", "cpu", "--model", "nano", "--prompts", "2", "--G", "2", "--prompt-len", "10", "--new-tokens", "6",
       "--lp-tokens", "256", "--vocab", "8192", "--repeats", "1"]  # fmt: skip
FIGURES = {
    "sampler_kv_speedup", "sampler_tok_s", "sampler_shared_prompt_speedup", "prefix_cache_speedup",
    "logprob_peak_mem_ratio_chunked", "logprob_peak_mem_ratio_fused", "logprob_time_ratio_chunked",
    "logprob_time_ratio_fused",
}  # fmt: skip


def bench_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "r1mini.tools.bench", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "out.json"
    r = bench_cli(*TOY, "--json", str(path))
    assert r.returncode == 0, r.stderr
    return json.loads(path.read_text()), r.stdout


def positive_finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_report_keys_and_figures(report):
    rep, stdout = report
    assert set(rep) == {"figures", "goals", "raw", "config", "machine"}
    assert set(rep["figures"]) == FIGURES
    assert all(positive_finite(v) for v in rep["figures"].values()), rep["figures"]
    assert set(rep["goals"]) == {"sampler_kv_speedup >= 20", "logprob_peak_mem_ratio_fused <= 0.25",
                                 "logprob_time_ratio_fused <= 1.3"}  # fmt: skip
    assert set(rep["goals"].values()) <= {"PASS", "FAIL"}
    assert {"device", "cpu", "cpu_count", "torch", "date"} <= set(rep["machine"])
    assert rep["config"]["model"] == "nano" and rep["config"]["lp_tokens"] == 256
    for name in FIGURES:  # the printed table has a line for every figure
        assert any(line.startswith(name + " ") for line in stdout.splitlines()), name


def test_figures_are_the_quotients_of_the_raw_numbers(report):
    rep, _ = report
    f, s, lp, pc = rep["figures"], rep["raw"]["sampler"], rep["raw"]["logprobs"], rep["raw"]["prefix_cache"]
    assert s["rows"] == 2 * 2 and s["tokens_total"] == 4 * 6  # no stop tokens: every row ran every step
    assert math.isclose(f["sampler_tok_s"], s["tokens_total"] / s["cached_s"])
    assert math.isclose(f["sampler_kv_speedup"], s["recomputed_s"] / s["cached_s"])
    assert math.isclose(f["sampler_shared_prompt_speedup"], s["copied_s"] / s["cached_s"])
    assert math.isclose(f["prefix_cache_speedup"], pc["full_s"] / pc["shared_s"])
    for k in ("chunked", "fused"):
        assert math.isclose(f[f"logprob_peak_mem_ratio_{k}"], lp[k]["peak_bytes"] / lp["naive"]["peak_bytes"])
        assert math.isclose(f[f"logprob_time_ratio_{k}"], lp[k]["seconds"] / lp["naive"]["seconds"])
    # the naive kernel's float32 [N, V] logits alone are N * V * 4 bytes: its measured peak must hold them
    assert lp["naive"]["peak_bytes"] >= 256 * 8192 * 4
    assert pc["loss_abs_diff"] < 1e-5  # shared prompt and full sequences compute the same loss


def test_logprob_step_is_the_masked_mean_loss():
    """The step every kernel is timed on: gradients equal a float64 autograd of the same loss."""
    h, W, o, mask = logprob_inputs(6, 50, 4, "cpu", seed=0)
    for kernel in ("naive", "chunked", "fused"):
        logprob_step(kernel, h, W, o, mask, chunk=4)
        h64, W64 = h.detach().double().requires_grad_(), W.detach().double().requires_grad_()
        lp = torch.log_softmax(h64 @ W64.T, -1).gather(-1, o[..., None])[..., 0]
        (-(lp * mask).sum() / mask.sum()).backward()
        assert torch.allclose(h.grad.double(), h64.grad, atol=1e-6), kernel
        assert torch.allclose(W.grad.double(), W64.grad, atol=1e-6), kernel


def test_sampler_bench_in_process():
    torch.manual_seed(0)
    model = Transformer(ModelConfig.preset("nano")).eval()
    prompts = random_prompts(3, 20, model.cfg.vocab_size, seed=1)
    assert all(18 <= len(p) <= 22 for p in prompts) and len({len(p) for p in prompts}) > 1
    out = bench_sampler(model, prompts, G=2, new_tokens=5, repeats=1, seed=0)
    assert out["tokens_total"] == 3 * 2 * 5 and positive_finite(out["cached_tok_s"])


def test_cli_help_and_bad_size():
    assert bench_cli("--help").returncode == 0
    r = bench_cli(*TOY, "--prompt-len", "500")  # 500 + 6 tokens > nano's max_seq_len 256
    assert r.returncode == 2 and "max_seq_len" in r.stderr and "Traceback" not in r.stderr


def test_compile_figure_is_eager_over_compiled(monkeypatch):
    """The compile row's plumbing (torch.compile itself takes minutes on a CPU: here it hands the model back)."""
    from r1mini.tools import bench

    monkeypatch.setattr(torch, "compile", lambda m: m)
    torch.manual_seed(0)
    out = bench.bench_compile(Transformer(ModelConfig.preset("nano")), batch=2, seq_len=8, repeats=1, seed=0)
    assert out["batch"] == 2 and out["seq_len"] == 8
    assert all(positive_finite(out[k]) for k in ("compile_s", "eager_s", "compiled_s"))
