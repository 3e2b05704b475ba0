"""r1mini/common.py's precision switch: which dtype a matmul runs in under each setting, and bad values."""

import pytest
import torch

from r1mini.common import ConfigError, autocast, cpu_has_bf16
from r1mini.grpo import GRPOConfig
from r1mini.pretrain import PretrainConfig

CPU = torch.device("cpu")


def matmul_dtype(precision: str) -> torch.dtype:
    a = torch.randn(4, 4)
    with autocast(CPU, precision):
        return (a @ a).dtype


def test_cpu_precision_settings():
    assert matmul_dtype("auto") == torch.float32  # a CPU stays exact unless asked
    assert matmul_dtype("fp32") == torch.float32
    # "bf16" on a CPU: bf16 only where the CPU multiplies it natively, else float32 (never slow emulation)
    assert matmul_dtype("bf16") == (torch.bfloat16 if cpu_has_bf16() else torch.float32)
    x = torch.randn(3, 3, dtype=torch.float64)
    with autocast(CPU, "bf16"):
        assert (x @ x).dtype == torch.float64  # float64 tensors (the tests' reference models) are never cast


def test_bad_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="precision"):
        autocast(CPU, "fp16")
    with pytest.raises(ConfigError, match="precision"):
        PretrainConfig(precision="half").validate()
    with pytest.raises(ConfigError, match="precision"):
        GRPOConfig(precision="bf32").validate()
