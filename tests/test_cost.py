"""The cost model (r1mini/tools/cost.py): its counts against torch's own FLOP counter and against counts worked out by
hand for a tiny model; the seconds a device gives; the estimate tables of the scripts."""

import math
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from r1mini.tools.cost import (
    H100,
    Assumptions,
    Device,
    Phase,
    count_ops,
    decode_bytes,
    flops,
    grpo_update_phase,
    kv_elements,
    matmul_params,
    pretrain_phase,
    sampling_phase,
)
from r1mini.engine.model import ModelConfig, Transformer

# one layer, two query heads sharing one kv head (head_dim 4), SwiGLU width 16, 64 tokens
TINY = ModelConfig(vocab_size=64, n_layer=1, n_head=2, n_kv_head=1, n_embd=8, intermediate_size=16, max_seq_len=64)
OPS = count_ops(TINY)


def test_matmul_params_by_hand_and_from_the_model():
    # q: 8 x 8, k: 8 x 4, v: 8 x 4, o: 8 x 8 (= 192); gate, up, down: 3 x 8 x 16 (= 384); lm_head 64 x 8 (= 512)
    assert matmul_params(TINY) == 192 + 384 + 512 == 1088
    model = Transformer(TINY)  # every matrix the model holds (the tied embedding is the lm_head, counted once)
    assert matmul_params(TINY) == sum(p.numel() for p in model.parameters() if p.dim() == 2)
    assert kv_elements(TINY) == 2 * 1 * 1 * 4


def test_matmul_flops_equal_torchs_flop_counter():
    """6 N per trained token and 2 N per forward token are what torch counts for the matmuls (its counter does not
    see the CPU's attention kernel, so the keys are left out here and checked by hand below)."""
    model = Transformer(TINY)
    x = torch.randint(0, 64, (3, 5))
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    assert fc.get_total_flops() == flops(Phase("", TINY, trained_tokens=15))
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(x)
    assert fc.get_total_flops() == flops(Phase("", TINY, forward_tokens=15))


def test_pretraining_flops_by_hand():
    """2 steps x 3 sequences x 4 tokens, causal: position t attends t keys, 1 + 2 + 3 + 4 = 10 per sequence.
    Per key, QK^T and AV are 2 x (H x hd = 8) multiply-adds = 32 FLOPs forward, x 3 with the backward."""
    keys = 2 * 3 * sum(range(1, 5))
    want = 6 * 1088 * 24 + 3 * (2 * 2 * 8) * keys
    ph = pretrain_phase(TINY, steps=2, batch=3, seq_len=4, ops=OPS)
    assert ph.trained_tokens == 24 and ph.trained_keys == keys == 60
    assert flops(ph) == want == 162432
    assert ph.host_ops == 2 * OPS.causal_step


def test_sampling_phase_by_hand():
    """2 prompts of 5 tokens, k = 3 rows each, max_new_tokens 4, one call; responses of half the budget (2 tokens)."""
    a = Assumptions(mean=0.5, longest=1.0)
    ph = sampling_phase("s", TINY, prompts=2, k=3, prompt_len=5, max_new_tokens=4, batch=2, ops=OPS, a=a)
    assert (ph.forward_tokens, ph.forward_keys) == (10, 2 * 5 * 5)  # the prefill: a padding mask, every key computed
    assert ph.sampled_tokens == 2 * 3 * 2
    assert ph.sampled_keys == 12 * (5 + 2 / 2)  # the prompt + on average half of the row's own tokens
    assert ph.decode_steps == 4 and ph.steps == 1
    # each of the 4 steps reads the 2 prompts once (shared by their rows) + the rows' own keys
    assert ph.kv_read == (4 * 2 * 5 + 12 * 1) * kv_elements(TINY)
    assert decode_bytes(ph, 2) == (4 * 1088 + ph.kv_read) * 2
    assert ph.host_ops == OPS.sampler_call + 3 * OPS.decode_step
    want = 2 * 1088 * 10 + 32 * 50 + 2 * 1088 * 12 + 32 * 72
    assert flops(ph) == want
    # 3 calls of at most 2 prompts
    three = sampling_phase("s", TINY, prompts=5, k=3, prompt_len=5, max_new_tokens=4, batch=2, ops=OPS, a=a)
    assert three.steps == 3 and three.decode_steps == 12 and three.sampled_tokens == 5 * 3 * 2


def test_grpo_update_by_hand():
    """B = 2 questions, G = 3, prompts of 5, completions padded to the longest (4): the prompt once per question,
    every completion token attends prompt + completion (a padding mask); pi_ref adds one forward when beta > 0."""
    a = Assumptions(mean=0.5, longest=1.0)
    ph = grpo_update_phase(TINY, steps=1, B=2, G=3, prompt_len=5, max_new_tokens=4, ops=OPS, mu=2, beta=0.0, a=a)
    per = {"tokens": 2 * 5 + 6 * 4, "keys": 2 * 5 * 5 + 6 * 4 * 9}
    assert ph.trained_tokens == 2 * per["tokens"] and ph.trained_keys == 2 * per["keys"] and ph.forward_tokens == 0
    assert ph.fused_tokens == 2 * 24
    assert flops(ph) == 6 * 1088 * 68 + 96 * 2 * per["keys"] + 2 * 64 * 8 * 48
    ref = grpo_update_phase(TINY, steps=1, B=2, G=3, prompt_len=5, max_new_tokens=4, ops=OPS, mu=2, beta=0.04, a=a)
    assert ref.forward_tokens == per["tokens"] and ref.forward_keys == per["keys"]
    half = grpo_update_phase(
        TINY, steps=1, B=2, G=3, prompt_len=5, max_new_tokens=4, ops=OPS, beta=0.0, a=Assumptions(trained=0.5)
    )
    assert half.trained_tokens == per["tokens"] / 2  # beta = 0: groups of equal rewards skip the update


def test_device_seconds_by_hand():
    dev = Device(
        "d", {"causal": 1e9, "masked": 2e9, "decode": 4e9}, bandwidth=1e6, op_seconds=1e-5, bytes_per_element=2
    )
    ph = sampling_phase("s", TINY, prompts=2, k=3, prompt_len=5, max_new_tokens=4, batch=2, ops=OPS)
    prefill, decode = 2 * 1088 * 10 + 32 * 50, 2 * 1088 * 12 + 32 * 72
    want = prefill / 2e9 + max(decode / 4e9, decode_bytes(ph, 2) / 1e6) + ph.host_ops * 1e-5
    assert math.isclose(dev.seconds(ph), want)
    assert decode_bytes(ph, 2) / 1e6 > decode / 4e9  # here the reads bind, not the FLOPs
    slow = pretrain_phase(TINY, 1, 1, 4, OPS, host_seconds=3.0)
    assert math.isclose(dev.seconds(slow), flops(slow) / 1e9 + slow.host_ops * 1e-5 + 3.0)


def test_phases_add_and_repeat():
    a = pretrain_phase(TINY, 1, 2, 4, OPS)
    b = a + a
    assert b.trained_tokens == 16 and b.host_ops == 2 * a.host_ops and b.name == a.name
    assert (a * 3).trained_keys == 3 * a.trained_keys
    with pytest.raises(ValueError):
        a + sampling_phase("s", TINY, 1, 1, 2, 2, 1, OPS)  # a different kind: different rates


def test_host_ops_grow_with_the_layers():
    """A decode step's ops are a fixed part (sampling, bookkeeping) plus the same number per layer."""
    counts = [
        count_ops(ModelConfig(vocab_size=64, n_layer=n, n_head=2, n_kv_head=1, n_embd=8, max_seq_len=64))
        for n in (1, 2, 3)
    ]
    steps = [c.decode_step for c in counts]
    assert steps[2] - steps[1] == steps[1] - steps[0] > 20
    assert all(c.causal_step > c.decode_step and c.masked_microbatch > c.masked_forward for c in counts)


def test_h100_figures_are_the_datasheets():
    assert math.isclose(H100.flops["causal"], 989e12 * 0.30) and math.isclose(H100.bandwidth, 3.35e12 * 0.60)
    assert H100.bytes_per_element == 2


def test_train_zero_estimate_prints_every_phase():
    r = subprocess.run(
        [sys.executable, "train_zero.py", "--preset", "smoke", "--estimate"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "## train_zero.py --preset smoke: cost model" in r.stdout
    for phase in ("base pretraining", "eval before", "GRPO sampling", "GRPO update", "eval after", "**total**"):
        assert f"| {phase} |" in r.stdout, phase
    assert "- H100: H100 SXM: 989 TFLOP/s" in r.stdout and "- this CPU: measured" in r.stdout


@pytest.mark.slow
def test_bench_estimate_prints_the_table_of_every_script():
    r = subprocess.run(
        [sys.executable, "-m", "r1mini.tools.bench", "--estimate", "smoke"], capture_output=True, text=True, timeout=900
    )
    assert r.returncode == 0, r.stderr
    for script in ("train_zero.py", "train_r1.py"):
        assert f"## {script} --preset smoke: cost model" in r.stdout
    for phase in ("| eval before |", "| 2.3.1 cold-start SFT |", "| 2.3.3 SFT |", "| 2.3.4 reward models (x2) |"):
        assert phase in r.stdout, phase
    bad = subprocess.run(
        [sys.executable, "-m", "r1mini.tools.bench", "--estimate", "nope"], capture_output=True, text=True, timeout=600
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "nope" in bad.stderr
