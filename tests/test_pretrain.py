"""r1mini/toy/pretrain.py: a killed pretraining run resumes from ckpt.pt and ends with the weights of an unbroken
run."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from r1mini.toy import pretrain as pt
from r1mini.engine.common import ConfigError

# a tiny run: the nano model on 300 smoke documents, 9 steps, a checkpoint every 3
CFG = dataclasses.replace(
    pt.PRETRAIN_PRESETS["smoke"], n_docs=300, steps=9, batch_size=4, seq_len=32, warmup=2, save_every=3
)


class Killed(Exception):
    pass


def _kill_after(monkeypatch, n_batches: int) -> None:
    """Make the n_batches + 1-th batch draw raise, as a kill between two steps would stop the run."""
    real, calls = pt.get_batch, {"n": 0}

    def get_batch(*a, **k):
        calls["n"] += 1
        if calls["n"] > n_batches:
            raise Killed
        return real(*a, **k)

    monkeypatch.setattr(pt, "get_batch", get_batch)


def test_killed_run_resumes_to_the_unbroken_runs_weights(tmp_path, monkeypatch):
    whole = torch.load(pt.pretrain(CFG, tmp_path / "whole", quiet=True), weights_only=False)["model"]
    assert not (tmp_path / "whole" / "ckpt.pt").exists()  # removed once model.pt is written

    with monkeypatch.context() as m:
        _kill_after(m, 7)  # steps 0-6 done, the checkpoint of step 6 written, step 7 killed
        with pytest.raises(Killed):
            pt.pretrain(CFG, tmp_path / "broken", quiet=True)
    ckpt = torch.load(tmp_path / "broken" / "ckpt.pt", weights_only=False)
    assert ckpt["step"] == 6 and not (tmp_path / "broken" / "model.pt").exists()

    calls = {"n": 0}
    real = pt.get_batch
    monkeypatch.setattr(pt, "get_batch", lambda *a, **k: (calls.__setitem__("n", calls["n"] + 1), real(*a, **k))[1])
    resumed = torch.load(pt.pretrain(CFG, tmp_path / "broken", quiet=True), weights_only=False)["model"]
    assert calls["n"] == 3  # steps 6, 7, 8 only
    assert resumed.keys() == whole.keys()
    for k in whole:
        assert torch.equal(resumed[k], whole[k]), k  # bit for bit: weights, AdamW moments and batch order restored
    stats = (tmp_path / "broken" / "stats.json").read_text()
    assert '"resumed_at_step": 6' in stats


def test_a_checkpoint_of_another_config_is_refused(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        _kill_after(m, 4)
        with pytest.raises(Killed):
            pt.pretrain(CFG, tmp_path / "run", quiet=True)
    with pytest.raises(ConfigError, match="another pretraining config"):
        pt.pretrain(dataclasses.replace(CFG, lr=1e-3), tmp_path / "run", quiet=True)
    # save_every is not part of the result: changing it keeps the checkpoint valid and the base's hash
    assert pt.run_hash(dataclasses.replace(CFG, save_every=50)) == pt.run_hash(CFG)
    with pytest.raises(ConfigError, match="save_every"):
        dataclasses.replace(CFG, save_every=-1).validate()
