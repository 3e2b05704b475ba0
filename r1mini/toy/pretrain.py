"""Pretraining the base model: our stand-in for DeepSeek-V3-Base (the starting point of section 2.2).

R1-Zero is RL on top of a *pretrained* model: whatever RL "discovers" must already be possible for the
base. Ours is a small Llama (r1mini/engine/model.py) trained by next-token prediction on the synthetic arithmetic
"web" of r1mini/toy/corpus.py (direct answers, worked solutions, self-corrections, two languages, template
shapes). Plain nanoGPT-style loop: random windows of a packed token stream, AdamW, warmup + cosine decay,
gradient clipping, bf16 autocast on a GPU, a tqdm bar with loss and tokens/s.

    python -m r1mini.toy.pretrain --preset cpu        # ~7 minutes on 2 CPU cores (bf16) -> runs/base/cpu-<hash>/
    python -m r1mini.toy.pretrain --preset smoke      # < 1 minute, for tests
    torchrun --nproc_per_node=8 -m r1mini.toy.pretrain --preset gpu   # data parallel: each GPU 1/8 of every batch

Under torchrun (r1mini/engine/dist.py) every rank draws the same windows and trains its rows of them, and
DistributedDataParallel averages the gradients: with equal shares that is the whole batch's mean loss, so
N processes make the updates one process makes (tests/test_distributed.py); rank 0 writes the files.

Writes `model.pt` (atomically) and `config.json` (the resolved config) into the run folder. The folder
name carries a hash of everything that determines the result (this config, the corpus config, the
tokenizer), so `ensure_base()` reuses a cached base only when it was built the same way. Every `save_every`
steps it also writes `ckpt.pt` (weights, AdamW moments, the batch sampler's state, the step): a killed run,
started again with the same command, goes on from there and ends with the weights an unbroken run has
(tests/test_pretrain.py); `ckpt.pt` is removed once `model.pt` is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from r1mini.engine import dist
from r1mini.engine.common import (
    ConfigError,
    add_config_args,
    atomic_save,
    autocast,
    check_precision,
    cli_main,
    config_from_args,
    get_device,
    key_hash,
    load_checkpoint,
    pick_preset,
    set_seed,
    write_json,
)
from r1mini.engine.model import ModelConfig, Transformer, model_state


@dataclass
class PretrainConfig:
    model: str = "tiny"  # model preset (r1mini/engine/model.py)
    corpus: str = "cpu"  # corpus preset (r1mini/toy/corpus.py)
    n_docs: int = 0  # documents to generate (0 = the corpus preset's)
    steps: int = 2000  # optimizer steps
    batch_size: int = 32  # sequences per step
    seq_len: int = 256  # tokens per sequence
    lr: float = 3e-3  # AdamW peak learning rate
    min_lr_ratio: float = 0.1  # the cosine decays to min_lr_ratio * lr
    warmup: int = 100  # steps of linear warmup
    weight_decay: float = 0.1  # AdamW weight decay
    grad_clip: float = 1.0  # the gradient's global norm is clipped to this
    seed: int = 0  # seeds the initial weights and the batches (the corpus has its own seed)
    device: str = "auto"  # cuda, mps or cpu; auto = the first there
    precision: str = "auto"  # "bf16": bf16 autocast on a CPU with native bf16 too (common.autocast, docs/toy_world.md)
    out_root: str = "runs/base"  # cached bases go to out_root/<preset>-<hash>/
    compile: bool = (
        False  # torch.compile the training model (fewer GPU kernel launches, minutes of compiling; docs/engine.md)
    )
    save_every: int = 100  # steps between resumable checkpoints (ckpt.pt); 0 = none

    def validate(self) -> None:
        for name in ("steps", "batch_size", "seq_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain {name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr < 1:
            raise ConfigError(f"pretrain lr must be in (0, 1), got {self.lr}")
        check_precision(self.precision)
        if self.save_every < 0:
            raise ConfigError(f"pretrain save_every must be >= 0, got {self.save_every}")


PRETRAIN_PRESETS = {
    "smoke": PretrainConfig(
        model="nano", corpus="smoke", n_docs=10_000, steps=300, batch_size=16, seq_len=128, warmup=50
    ),
    "cpu": PretrainConfig(
        model="tiny", corpus="cpu", steps=950, batch_size=32, seq_len=256, warmup=50, precision="bf16"
    ),
    # distill.py's students (2.4): the cpu base's corpus and token budget at smaller sizes; fp32 ("auto")
    "micro": PretrainConfig(model="micro", corpus="cpu", steps=950, batch_size=32, seq_len=256, warmup=50),
    "mini": PretrainConfig(model="mini", corpus="cpu", steps=950, batch_size=32, seq_len=256, warmup=50),
    # the "aha" (2.2.4, Table 3): the cpu base's size on the aha corpora (behaviours; none; ending wrong), 6.6M tokens
    # (800 x 32 x 256 of a 100k-document corpus), float32 (docs/toy_world.md)
    "aha": PretrainConfig(model="tiny", corpus="aha", steps=800, batch_size=32, seq_len=256, warmup=50),
    "aha_plain": PretrainConfig(model="tiny", corpus="aha_plain", steps=800, batch_size=32, seq_len=256, warmup=50),
    "aha_wrong": PretrainConfig(model="tiny", corpus="aha_wrong", steps=800, batch_size=32, seq_len=256, warmup=50),
    # the gpu model (~24M) on 197M tokens (~4.8 epochs of the gpu corpus): 8 tokens per parameter, as the cpu base;
    # ~8 minutes of `python train_zero.py`'s <= 30 on one H100 (docs/gpu.md)
    "gpu": PretrainConfig(model="gpu", corpus="gpu", steps=3000, batch_size=128, seq_len=512, lr=1.5e-3, warmup=200),
}


# ----------------------------------------------------------------------------- data


def corpus_config(cfg: PretrainConfig):
    from r1mini.toy.corpus import CORPUS_PRESETS

    ccfg = pick_preset(CORPUS_PRESETS, cfg.corpus, "corpus preset")
    return dataclasses.replace(ccfg, n_docs=cfg.n_docs) if cfg.n_docs else ccfg


def build_token_stream(cfg: PretrainConfig, tok) -> np.ndarray:
    """All documents, tokenized (special tokens allowed) and joined by <|endoftext|>: one uint16 array."""
    from r1mini.toy.corpus import generate_documents

    ccfg = corpus_config(cfg)
    ids: list[int] = []
    for doc in tqdm(
        generate_documents(ccfg), total=ccfg.n_docs, desc="corpus", unit="doc", leave=False, disable=not dist.is_main()
    ):
        ids.extend(tok.encode(doc, allow_special=True))
        ids.append(tok.eot_id)
    return np.asarray(ids, dtype=np.uint16)


def get_batch(data: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator, device, rows=None):
    """Random windows: x [B, T] and the next-token targets y [B, T]. rows = (lo, hi): only those rows of the
    batch (one rank's share under torchrun; the windows are drawn for the whole batch, so rng stays in step)."""
    starts = rng.integers(0, len(data) - seq_len - 1, size=batch_size)
    starts = starts if rows is None else starts[rows[0] : rows[1]]
    chunk = np.stack([data[s : s + seq_len + 1] for s in starts]).astype(np.int64)
    chunk = torch.from_numpy(chunk).to(device)
    return chunk[:, :-1], chunk[:, 1:]


def lr_at(step: int, cfg: PretrainConfig) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float, device) -> torch.optim.AdamW:
    """AdamW with decay on matrices only (not on norms)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=device.type == "cuda")


# ----------------------------------------------------------------------------- run folder + cache


NOT_HASHED = ("device", "out_root", "compile", "save_every")  # fields that do not change the trained weights


def run_hash(cfg: PretrainConfig) -> str:
    """Everything that determines the trained weights: this config, the corpus config, the tokenizer."""
    from r1mini.toy.corpus import corpus_key
    from r1mini.engine.tokenizer import RANKS_PATH, get_tokenizer

    tok = get_tokenizer()
    key = {
        "pretrain": _hashed(cfg),
        "corpus": corpus_key(corpus_config(cfg)),
        "model": dataclasses.asdict(ModelConfig.preset(cfg.model, vocab_size=tok.vocab_size)),
        "tokenizer": hashlib.sha256(Path(RANKS_PATH).read_bytes()).hexdigest(),
    }
    return key_hash(key)


def base_dir(cfg: PretrainConfig, preset: str) -> Path:
    return Path(cfg.out_root) / f"{preset}-{run_hash(cfg)}"


def cached_base(preset: str) -> str:
    """The checkpoint `python -m r1mini.toy.pretrain --preset PRESET` writes, if it is there."""
    path = base_dir(pick_preset(PRETRAIN_PRESETS, preset, "pretrain preset"), preset) / "model.pt"
    if not path.is_file():
        raise ConfigError(
            f"no cached {preset!r} base model at {path}: make it with `python -m r1mini.toy.pretrain --preset {preset}`"
        )
    return str(path)


def train_step(forward, model, opt, x, y, cfg: PretrainConfig, device) -> torch.Tensor:
    """One optimizer step of next-token prediction on x -> y ([B, T] each): the mean cross-entropy (returned),
    backward, the gradient's global norm clipped to cfg.grad_clip, AdamW. forward: the model, or its DDP wrapper."""
    with autocast(device, cfg.precision):
        logits = forward(x)  # [B, T, vocab]
    loss = torch.nn.functional.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return loss


def pretrain(cfg: PretrainConfig, out_dir: Path, quiet: bool = False) -> Path:
    """Train a base model; returns the checkpoint path."""
    from r1mini.engine.tokenizer import get_tokenizer

    cfg.validate()
    W = dist.world_size()  # under torchrun: each rank trains batch_size / W rows of every batch (r1mini/engine/dist.py)
    if cfg.batch_size % W:
        raise ConfigError(f"pretrain batch_size={cfg.batch_size} must be a multiple of the {W} processes")
    quiet = quiet or not dist.is_main()  # rank 0 alone prints, shows the bar and writes files
    set_seed(cfg.seed)
    device = dist.device(cfg.device)
    tok = get_tokenizer()
    out_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_main():
        write_json(
            dataclasses.asdict(cfg) | {"corpus_config": dataclasses.asdict(corpus_config(cfg))}, out_dir / "config.json"
        )

    t0 = time.time()
    data = build_token_stream(cfg, tok)
    if len(data) < cfg.seq_len + 2:
        raise ConfigError(f"the corpus has only {len(data)} tokens; raise n_docs or lower seq_len")
    t_data = time.time() - t0

    model = Transformer(ModelConfig.preset(cfg.model, vocab_size=tok.vocab_size)).to(device)
    opt = make_optimizer(model, cfg.lr, cfg.weight_decay, device)
    ddp_model = dist.ddp(model)  # under torchrun: DDP averages the ranks' gradients = the whole batch's mean loss
    ddp_model = torch.compile(ddp_model) if cfg.compile else ddp_model  # compiled after DDP wraps it, as torch advises
    rows = dist.shard_range(cfg.batch_size)  # this rank's rows of every batch (all of them in one process)
    rng = np.random.default_rng(cfg.seed)
    if not quiet:
        print(
            f"base model: {model.num_params() / 1e6:.2f}M parameters, corpus {len(data) / 1e6:.2f}M tokens, "
            f"device {device}"
        )

    start, ema = _resume(out_dir / "ckpt.pt", cfg, model, opt, rng, quiet)
    bar = tqdm(range(start, cfg.steps), desc="pretrain", disable=quiet, initial=start, total=cfg.steps)
    t1 = time.time()
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        x, y = get_batch(data, cfg.batch_size, cfg.seq_len, rng, device, rows)
        loss = train_step(ddp_model, model, opt, x, y, cfg, device)
        loss_all = float(dist.gather([loss.item()]).mean())  # the whole batch's mean (equal shares)
        ema = loss_all if ema is None else 0.95 * ema + 0.05 * loss_all
        if step % 10 == 0:
            tps = (step + 1 - start) * cfg.batch_size * cfg.seq_len / (time.time() - t1)
            bar.set_postfix(loss=f"{ema:.3f}", tok_s=f"{tps:,.0f}", lr=f"{lr_at(step, cfg):.1e}")
        if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps and dist.is_main():
            atomic_save({"step": step + 1, "ema": ema, "model": model.state_dict(), "opt": opt.state_dict(),
                         "rng": rng.bit_generator.state, "config": _hashed(cfg)}, out_dir / "ckpt.pt")  # fmt: skip

    path = out_dir / "model.pt"
    if not dist.is_main():
        dist.barrier()  # wait for rank 0's model.pt: the caller loads it next
        return path
    atomic_save(model_state(model) | {"pretrain_config": dataclasses.asdict(cfg)}, path)
    stats = {
        "final_loss_ema": ema,
        "corpus_tokens": int(len(data)),
        "params": model.num_params(),
        "seconds_corpus": round(t_data, 1),
        "seconds_train": round(time.time() - t1, 1),
        "tokens_per_s": round((cfg.steps - start) * cfg.batch_size * cfg.seq_len / (time.time() - t1)),
        "resumed_at_step": start,
    }
    write_json(stats, out_dir / "stats.json")
    if (out_dir / "ckpt.pt").exists():  # model.pt is written: the resumable checkpoint is not needed
        (out_dir / "ckpt.pt").unlink()
    if not quiet:
        print(f"wrote {path}  ({stats})")
    dist.barrier()  # the other ranks wait above until model.pt is there
    return path


def _hashed(cfg: PretrainConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_HASHED}


def _resume(
    path: Path, cfg: PretrainConfig, model, opt, rng: np.random.Generator, quiet: bool
) -> tuple[int, float | None]:
    """Load a killed run's ckpt.pt into model, opt and rng: (the step to go on from, the loss EMA); (0, None)
    without one."""
    if not path.is_file():
        return 0, None
    ckpt = load_checkpoint(path, keys=("step", "model", "opt", "rng", "config"), what="a pretraining checkpoint")
    if ckpt["config"] != _hashed(cfg):
        raise ConfigError(f"{path} was written by another pretraining config; delete it to start again")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["opt"])
    rng.bit_generator.state = ckpt["rng"]
    if not quiet:
        print(f"resuming from {path} at step {ckpt['step']}")
    return ckpt["step"], ckpt["ema"]


def ensure_base(preset: str = "cpu", quiet: bool = False, **overrides) -> Path:
    """The cached base checkpoint for a preset, pretraining it first if it is not there yet."""
    cfg = dataclasses.replace(pick_preset(PRETRAIN_PRESETS, preset, "pretrain preset"), **overrides)
    out = base_dir(cfg, preset)
    if dist.broadcast((out / "model.pt").is_file()):  # rank 0's answer: every rank reuses, or all pretrain together
        if not quiet and dist.is_main():
            print(f"reusing cached base model {out / 'model.pt'}")
        return out / "model.pt"
    return pretrain(cfg, out, quiet=quiet)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default=None, help=f"one of {list(PRETRAIN_PRESETS)} (default: gpu on a GPU, else cpu)")
    p.add_argument("--out", default=None, help="run folder (default: runs/base/<preset>-<hash>)")
    p.add_argument("--force", action="store_true", help="retrain even if a cached base exists")
    add_config_args(p, PretrainConfig)
    args = p.parse_args()
    dist.init()  # under torchrun: join the other processes (nothing otherwise)
    preset = args.preset or ("gpu" if get_device().type == "cuda" else "cpu")
    cfg = config_from_args(pick_preset(PRETRAIN_PRESETS, preset, "pretrain preset"), args)
    out = Path(args.out) if args.out else base_dir(cfg, preset)
    if (out / "model.pt").is_file() and not args.force:
        if dist.is_main():
            print(f"{out / 'model.pt'} exists (use --force to retrain)")
        return
    pretrain(cfg, out)
    dist.close()


if __name__ == "__main__":
    cli_main(main)
