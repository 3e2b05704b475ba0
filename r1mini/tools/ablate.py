"""The reader's workbench: R1-Zero variants from one cached base, on the same seeds and questions, set side by side.

    python -m r1mini.tools.ablate --grid scale_std=true,false --seeds 2          # eq. (3) with and without the std
    python -m r1mini.tools.ablate --grid loss_agg=seq_mean,token_mean,constant --grid beta=0,0.04
    python -m r1mini.tools.ablate --variant mine=../my-r1mini --seeds 2        # your edited checkout against this one
    python -m r1mini.tools.ablate --variant std_off=my-branch                  # a git ref of this repository
    python -m r1mini.tools.ablate --preset smoke                               # a tiny grid in seconds (CI runs it)

Each variant is `python train_zero.py` at one preset (`quick` by default: a short R1-Zero run, about 2 minutes on 2
CPU cores with the cpu base cached) with the variant's flags (any ZeroConfig, GRPOConfig or PPOConfig field), once
per seed 0..seeds-1. The seed fixes the question stream (r1mini/zero.py: problems_for_step), the sampler's draws and the
evaluation's samples, and every variant starts from the same cached base, so seed s of variant A and seed s of
variant B differ only by the variant. Several --grid flags make a product; keys joined by ":" move together
(G:questions=4:32,16:8). A `--variant NAME=PATH` runs the train_zero.py of another checkout (an edited copy of this
repository) beside this checkout's ("main"), each with every combination of the grid; `NAME=REF` checks a git ref of
this repository out into the ablation folder first.

Every run is a train_zero.py run folder (report.md, metrics.jsonl, curves.csv, ...) named by the flags that differ
from the preset, runs/ablate/runs/<preset>/<flags>/seed<s>; a finished one (with its summary.json) is reused, by a
killed ablation that starts again and by every other ablation that needs the same run. Then one comparison in OUT
(r1mini/tools/compare.py): comparison.md and .csv (held-out pass@1 as the mean over seeds with their min and max,
the paired difference to the first variant with its standard error, length, reflection, KL, clip fraction, groups
with no reward spread, wall seconds), curves.csv, and curves.png when matplotlib is installed. `--jobs 2` runs two
variants at once with one thread each (on 2 cores: about as fast, and the seconds column is then per process).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import itertools
import os
import subprocess
import sys
import tarfile
import time
import typing
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from r1mini.engine.common import ConfigError, add_config_args, cli_main, config_from_args, pick_preset
from r1mini.grpo import GRPOConfig
from r1mini.ppo import PPOConfig
from r1mini.tools.compare import load_runs, table, write
from r1mini.toy.pretrain import ensure_base
from r1mini.zero import ZERO_PRESETS, ZeroConfig

ROOT = Path(__file__).resolve().parents[2]  # the checkout whose train_zero.py runs the grid's variants


@dataclass
class AblateConfig:
    zero_preset: str = "quick"  # train_zero.py preset every variant starts from (r1mini/zero.py)
    seeds: int = 2  # runs per variant, with seeds 0 .. seeds - 1
    jobs: int = 1  # runs at once, each with cores / jobs threads
    steps: int = 0  # GRPO steps of every run; 0 = the preset's
    default_grid: str = ""  # variants when no --grid or --variant is given: "key=v1,v2 key2=v3" (a product)
    base_root: str = "runs/base"  # folder of the cached base models (shared by every variant)
    runs_root: str = "runs/ablate/runs"  # folder of the runs, shared by every ablation (a run is named by its flags)

    def validate(self) -> None:
        pick_preset(ZERO_PRESETS, self.zero_preset, "train_zero preset")
        if self.seeds < 1 or self.jobs < 1 or self.steps < 0:
            raise ConfigError("need seeds >= 1, jobs >= 1 and steps >= 0")


ABLATE_PRESETS = {
    # two aggregations of eq. (1) for 12 steps of the smoke preset, one seed: the plumbing, in about a minute
    "smoke": AblateConfig(zero_preset="smoke", seeds=1, steps=12, default_grid="loss_agg=seq_mean,constant"),
    "quick": AblateConfig(),
    "cpu": AblateConfig(zero_preset="cpu"),  # the default R1-Zero run per variant: ~10-25 min each on 2 cores
}


@dataclass
class Variant:
    name: str
    flags: dict  # train_zero.py flag -> value, e.g. {"scale_std": "false"}
    script: Path  # the train_zero.py that runs it


FIELDS = {f.name: f for cls in (ZeroConfig, GRPOConfig, PPOConfig) for f in dataclasses.fields(cls)}
GRPO_FIELDS = {f.name for f in dataclasses.fields(GRPOConfig)}
PPO_FIELDS = {f.name for f in dataclasses.fields(PPOConfig)}
HINTS = {k: v for cls in (ZeroConfig, GRPOConfig, PPOConfig) for k, v in typing.get_type_hints(cls).items()}


def parse_grid(specs: list[str]) -> list[tuple[str, list[str]]]:
    """ "key=v1,v2" strings (several per string, separated by spaces) -> [(key, [v1, v2])], each key a field of
    ZeroConfig, GRPOConfig or PPOConfig and each value one its flag accepts. Keys joined by ":" move together, a
    value per key: G:questions=4:32,8:16 is two variants (G 4 with 32 questions, G 8 with 16), not four.

    >>> parse_grid(["loss_agg=seq_mean,constant beta=0,0.04"])
    [('loss_agg', ['seq_mean', 'constant']), ('beta', ['0', '0.04'])]
    >>> parse_grid(["G:questions=4:32,8:16"])
    [('G:questions', ['4:32', '8:16'])]
    """
    hints = HINTS
    parse = {bool: lambda x: {"true": True, "false": False}[x.lower()], int: int, float: float}
    out = []
    for spec in (s for text in specs for s in text.split()):
        key, sep, values = spec.partition("=")
        keys = key.replace("-", "_").split(":")
        if not sep or not values or any(k not in FIELDS or dataclasses.is_dataclass(hints.get(k)) for k in keys):
            raise ConfigError(f"--grid {spec!r}: want KEY=V1,V2 with KEY a train_zero.py flag (e.g. beta=0,0.04)")
        for v in values.split(","):  # each flag's own parser: "maybe" for a bool fails here, not in the runs
            parts = v.split(":")
            if len(parts) != len(keys):
                raise ConfigError(f"--grid {spec!r}: {v!r} needs one value per key of {':'.join(keys)}")
            for k, part in zip(keys, parts):
                try:
                    parse.get(hints[k], str)(part)
                except (KeyError, ValueError):
                    raise ConfigError(f"--grid {spec!r}: {part!r} is not a {hints[k].__name__} ({k})") from None
        out.append((":".join(keys), values.split(",")))
    return out


def code_variant(name: str, where: str, out: Path) -> Path:
    """The train_zero.py of a variant given as a checkout folder, or as a git ref of this repository (its tree is
    written to out/code/<name> once)."""
    path = Path(where).expanduser()
    if (path / "train_zero.py").is_file():
        return (path / "train_zero.py").resolve()
    dest = out / "code" / name
    if (dest / "train_zero.py").is_file():
        return dest / "train_zero.py"
    ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{where}^{{commit}}"],
                         capture_output=True, text=True)  # fmt: skip
    if ref.returncode != 0:
        raise ConfigError(f"--variant {name}={where}: neither a folder with train_zero.py nor a git ref of {ROOT}")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref.stdout.strip()], capture_output=True, check=True)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "train_zero.py"


def make_variants(grid: list[tuple[str, list[str]]], code: list[str], out: Path) -> list[Variant]:
    """The grid's product, run by this checkout's train_zero.py; with code variants, every checkout runs the whole
    grid, this one ("main") first: `--grid beta=0.04 --variant k1=../edited` is main:beta=0.04, k1:beta=0.04."""
    scripts = [("main", ROOT / "train_zero.py")]
    for spec in code:
        name, sep, where = spec.partition("=")
        if not sep or not name or not where or "/" in name or ":" in name:
            raise ConfigError(f"--variant {spec!r}: want NAME=PATH_TO_A_CHECKOUT or NAME=GIT_REF")
        scripts.append((name, code_variant(name, where, out)))
    keys = [k for k, _ in grid]
    combos = []
    for values in itertools.product(*(vs for _, vs in grid)):
        flags = {k: p for key, v in zip(keys, values) for k, p in zip(key.split(":"), v.split(":"))}
        combos.append((",".join(f"{k}={v}" for k, v in zip(keys, values)), flags))
    variants = []
    for code_name, script in scripts if code else scripts[:1]:
        for combo, flags in combos:
            name = f"{code_name}:{combo}" if code and combo else code_name if code else combo
            variants.append(Variant(name, flags, script))
    if len({v.name for v in variants}) != len(variants):
        raise ConfigError("two variants have the same name")
    return variants if grid or code else []


def run_dir(v: Variant, seed: int, cfg: AblateConfig) -> Path:
    """Where a variant's run with one seed lives: runs_root/<preset>/<the flags that differ from the preset>/seed<s>,
    so that two ablations share the runs they have in common (the preset's own config is "default"); a code
    variant's folder also names a hash of its code."""
    zero = pick_preset(ZERO_PRESETS, cfg.zero_preset, "train_zero preset")
    hints = HINTS
    parse = {bool: lambda x: x.lower() == "true", int: int, float: float}
    changed = {}
    for key, value in v.flags.items():
        default = getattr(zero.grpo if key in GRPO_FIELDS else zero.ppo if key in PPO_FIELDS else zero, key)
        if parse.get(hints[key], str)(value) != default:
            changed[key] = value
    if cfg.steps and cfg.steps != zero.grpo.steps:
        changed["steps"] = str(cfg.steps)
    name = ",".join(f"{k}={changed[k]}" for k in sorted(changed)) or "default"
    if v.script != ROOT / "train_zero.py":
        name = f"code-{v.name}-{code_hash(v.script.parent)},{name}"
    return Path(cfg.runs_root) / cfg.zero_preset / name / f"seed{seed}"


def code_hash(root: Path) -> str:
    """8 hex digits of the code a checkout trains with (its train_zero.py and every r1mini/*.py)."""
    files = sorted([root / "train_zero.py", *(root / "r1mini").rglob("*.py")])
    return hashlib.sha256(
        b"".join(f.relative_to(root).as_posix().encode() + f.read_bytes() for f in files)
    ).hexdigest()[:8]


def command(v: Variant, seed: int, run: Path, cfg: AblateConfig) -> list[str]:
    # absolute paths: a code variant's train_zero.py runs in its own checkout, yet writes its run here
    cmd = [sys.executable, str(v.script), "--preset", cfg.zero_preset, "--out", str(run.resolve()), "--seed", str(seed)]
    cmd += ["--base-root", str(Path(cfg.base_root).resolve())]
    cmd += ["--steps", str(cfg.steps)] if cfg.steps else []
    for key, value in v.flags.items():
        cmd += [f"--{key.replace('_', '-')}", value]
    return cmd


def run_all(variants: list[Variant], cfg: AblateConfig, quiet: bool = False) -> None:
    """Every (variant, seed) run not finished yet, `jobs` at a time; one line naming the log of a run that fails."""
    todo = [(v, s, run_dir(v, s, cfg)) for v in variants for s in range(cfg.seeds)]
    todo = [t for t in todo if not (t[2] / "summary.json").is_file()]
    threads = max(1, (os.cpu_count() or 1) // cfg.jobs)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if cfg.jobs > 1 else dict(os.environ)
    env["PYTHONPATH"] = ""  # each train_zero.py imports the r1mini beside it
    bar = tqdm(total=len(todo), desc="ablation runs", disable=quiet)
    running: list[tuple] = []
    while todo or running:
        while todo and len(running) < cfg.jobs:
            v, seed, run = todo.pop(0)
            run.mkdir(parents=True, exist_ok=True)
            log = open(run / "log.txt", "w")
            proc = subprocess.Popen(command(v, seed, run, cfg), cwd=v.script.parent, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip
            running.append((proc, log, v, seed, run))
        time.sleep(0.2)
        for item in [r for r in running if r[0].poll() is not None]:
            proc, log, v, seed, run = item
            log.close()
            running.remove(item)
            if proc.returncode != 0:
                for other in running:
                    other[0].kill()
                last = (run / "log.txt").read_text(errors="replace").strip().splitlines()[-1:] or [""]
                raise ConfigError(f"{v.name} seed {seed} failed (exit {proc.returncode}): {last[0][:160]} "
                                  f"(log: {run / 'log.txt'})")  # fmt: skip
            bar.update()
            bar.set_postfix(last=f"{v.name} s{seed}")
    bar.close()


def ablate(cfg: AblateConfig, grid: list[str], code: list[str], out: Path, quiet: bool = False) -> str:
    """Run the variants and write the comparison; returns its markdown table."""
    cfg.validate()
    variants = make_variants(parse_grid(grid or ([cfg.default_grid] if cfg.default_grid else [])), code, out)
    if not variants:
        raise ConfigError("nothing to compare: give --grid KEY=V1,V2 and/or --variant NAME=PATH_OR_REF")
    zero = pick_preset(ZERO_PRESETS, cfg.zero_preset, "train_zero preset")
    ensure_base(zero.base, quiet=quiet, out_root=cfg.base_root)  # once, before runs that would each pretrain it
    run_all(variants, cfg, quiet)
    groups = {v.name: [r for s in range(cfg.seeds) for r in load_runs(run_dir(v, s, cfg), v.name)] for v in variants}
    title = f"Ablation: train_zero.py --preset {cfg.zero_preset}, {cfg.seeds} seed(s)"
    write(groups, out, title)
    return "\n".join(table(groups)[0])


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m r1mini.tools.ablate", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="quick", help=f"one of {list(ABLATE_PRESETS)}")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a train_zero.py flag and its values; several --grid make a product")  # fmt: skip
    p.add_argument("--variant", action="append", default=[], metavar="NAME=PATH_OR_REF",
                   help="a checkout of r1mini (or a git ref of this one) to run beside this one")  # fmt: skip
    p.add_argument("--out", default=None, help="folder of the runs and the comparison (default: runs/ablate/...)")
    add_config_args(p, AblateConfig)
    args = p.parse_args()
    cfg = config_from_args(pick_preset(ABLATE_PRESETS, args.preset, "ablate preset"), args)
    label = "_".join(g.split("=")[0] for g in args.grid) or "_".join(v.split("=")[0] for v in args.variant)
    out = Path(args.out) if args.out else Path("runs/ablate") / f"{args.preset}-{label or 'default'}"
    print(ablate(cfg, args.grid, args.variant, out))
    print(f"\nruns and comparison (comparison.md, comparison.csv, curves.csv) in {out}")


if __name__ == "__main__":
    cli_main(main)
