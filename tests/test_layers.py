"""The package follows its data flow: no module imports from a layer after its own.

load (bench) → prompt (prompts) → engine (engines) → verify → metrics → report, over a base of shared
records and formats (types, modes, config, rundir), with the orchestration (runner, sweep, cli) on top.
Every import counts, also one made inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "harness"
RANKS = {
    "harness.types": 0, "harness.modes": 0, "harness.config": 0, "harness.rundir": 0,
    "harness.bench": 1, "harness.prompts": 2, "harness.engines": 3, "harness.verify": 4,
    "harness.metrics": 5, "harness.report": 6,
    "harness.runner": 7, "harness.sweep": 7, "harness.cli": 8, "harness.__main__": 9, "harness": 9,
}


def rank(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in RANKS:
            return RANKS[".".join(parts[:end])]
    raise AssertionError(f"module {module} has no layer: add it to RANKS")


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("harness"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            found.add(node.module)
    return found


def test_no_module_imports_from_a_later_layer():
    backwards = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for imported in imports(path):
            if imported != "harness" and rank(imported) > rank(importer):
                backwards.append(f"{importer} (layer {rank(importer)}) imports {imported} (layer {rank(imported)})")
    assert not backwards, "\n".join(backwards)


def test_the_package_has_about_a_dozen_top_level_entries():
    entries = [p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and not p.name.startswith(".")]
    assert len(entries) <= 15, sorted(entries)
