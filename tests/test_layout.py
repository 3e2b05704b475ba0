"""The layout a reader relies on: lines of at most 120 characters, and imports that run with the architecture.

r1mini/ holds the paper's files; r1mini/engine the model and how it runs (no task, no paper); r1mini/toy our stand-in
for DeepSeek-V3-Base and its data; r1mini/tools what serves the runs (benchmarks, cost model, export, walkthrough).
The scripts (train_zero.py, train_r1.py, distill.py) sit on top: no library module imports one.
"""

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"train_zero", "train_r1", "distill"}
TEXT = (".py", ".md", ".ini", ".txt", ".toml", ".cfg", ".sh")


def project_files() -> list[Path]:
    """The files git tracks (and the untracked ones it does not ignore): what a clone holds."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, text=True,
                         capture_output=True)  # fmt: skip
    if out.returncode != 0:  # not a git checkout (a copy of the tree): every file but the ignored folders
        return [p for p in ROOT.rglob("*") if p.is_file() and not {".git", "runs", "__pycache__"} & set(p.parts)]
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def test_no_line_is_longer_than_120_characters():
    files = [p for p in project_files() if p.suffix in TEXT or p.name == "run"]
    assert len(files) > 50
    long = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(line.encode("utf-8")) > 120:  # UTF-8 bytes: a Chinese character counts 3
                long.append(f"{path.relative_to(ROOT)}:{n} ({len(line.encode('utf-8'))} bytes)")
    assert not long, "lines over 120 characters (UTF-8 bytes):\n" + "\n".join(long[:40])


def imports_of(path: Path) -> set[str]:
    """The modules a file imports (absolute names; `from r1mini import dist` gives r1mini.dist)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names if node.module == "r1mini"}
    return names


def library_modules() -> dict[str, set[str]]:
    return {p.relative_to(ROOT).with_suffix("").as_posix().replace("/", "."): imports_of(p)
            for p in (ROOT / "r1mini").rglob("*.py")}  # fmt: skip


def test_the_engine_knows_no_task_no_paper_and_no_toy():
    for module, names in library_modules().items():
        if module.startswith("r1mini.engine"):
            bad = {n for n in names if n.startswith("r1mini") and not n.startswith("r1mini.engine")}
            assert not bad, f"{module} (engine) imports {sorted(bad)}"


def test_the_toy_world_imports_only_the_engine_and_the_text_formats():
    allowed = ("r1mini.engine", "r1mini.toy", "r1mini.template", "r1mini.rewards")  # formats and word counts
    for module, names in library_modules().items():
        if module.startswith("r1mini.toy"):
            bad = {n for n in names if n.startswith("r1mini") and not n.startswith(allowed)}
            assert not bad, f"{module} (toy world) imports {sorted(bad)}"


def test_no_library_module_imports_tools_or_a_script():
    for module, names in library_modules().items():
        scripts = {n for n in names if n.split(".")[0] in SCRIPTS}
        assert not scripts, f"{module} imports the script(s) {sorted(scripts)}"
        if not module.startswith("r1mini.tools"):
            tools = {n for n in names if n.startswith("r1mini.tools")}
            assert not tools, f"{module} imports plumbing {sorted(tools)}"


def test_evaluation_does_not_reach_into_training():
    for name in ("r1mini.evaluate", "r1mini.metrics"):
        names = library_modules()[name]
        assert not {n for n in names if n.startswith(("r1mini.toy.pretrain", "r1mini.sft", "r1mini.grpo"))}, name
