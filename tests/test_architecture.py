"""The house rules of docs/architecture.md, checked on the code itself.

- Packages import one way: ``cli -> api -> {documents, scenarios} -> coverage -> optimizer``
  (documents and scenarios never import each other).
- Inside the engine, ``solve -> strategies -> {backends, formulation, instance}``: each module
  imports only modules of lower rank (:data:`ENGINE_RANKS`).
- No module imports a private name (``_name``) of another package.
- ``import optimizer`` loads no template engine, terminal, web or CLI library.

Every import counts, lazy ones inside functions too; only ``if TYPE_CHECKING:`` blocks (types
for the checker, never run) are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGES = ("optimizer", "coverage", "documents", "scenarios", "api", "cli")
#: What each package may import besides itself.
ALLOWED: dict[str, set[str]] = {
    "optimizer": set(),
    "coverage": {"optimizer"},
    "documents": {"coverage", "optimizer"},
    "scenarios": {"coverage", "optimizer"},
    "api": {"documents", "scenarios", "coverage", "optimizer"},
    "cli": {"api", "documents", "scenarios", "coverage", "optimizer"},
}
#: Inside the engine: a module imports only modules of lower rank (a subpackage's modules may
#: import each other).
ENGINE_RANKS: dict[str, int] = {
    "optimizer.units": 0,
    "optimizer.status": 0,
    "optimizer.interrupt": 0,
    "optimizer.issues": 0,
    "optimizer.tables": 1,
    "optimizer.scenario": 2,
    "optimizer.rules": 3,
    "optimizer.instance": 4,
    "optimizer.formulation": 5,
    "optimizer.evaluate": 6,
    "optimizer.backends": 7,
    "optimizer.diagnose": 8,
    "optimizer.recovery": 8,
    "optimizer.plan": 9,
    "optimizer.explain": 10,
    "optimizer.strategies": 11,
    "optimizer.solve": 12,
    "optimizer.placement": 13,
    "optimizer": 14,
}
#: Libraries the engine must not load: templates, terminal output, the web, the CLI.
NOT_IN_ENGINE = (
    "jinja2",
    "markupsafe",
    "rich",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "coverage",
    "documents",
    "scenarios",
    "api",
    "cli",
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported from
    names: tuple[str, ...]  # names taken from it ("from target import a, b")
    line: int


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [Import(module, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            names = tuple(alias.name for alias in node.names)
            out.append(Import(module, target, names, node.lineno))
    return out


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _rank(name: str) -> int:
    for prefix in sorted(ENGINE_RANKS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return ENGINE_RANKS[prefix]
    raise AssertionError(f"{name} has no rank in ENGINE_RANKS: add it")


def _group(name: str) -> str:
    """The engine rank's prefix a module belongs to (its subpackage, or itself)."""
    for prefix in sorted(ENGINE_RANKS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return name


ALL_IMPORTS = [imp for module, path in _modules().items() for imp in _imports(module, path)]


def test_packages_import_one_way() -> None:
    wrong = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in ALL_IMPORTS
        if _ours(imp.target)
        and imp.target.split(".")[0] != imp.module.split(".")[0]
        and imp.target.split(".")[0] not in ALLOWED[imp.module.split(".")[0]]
    ]
    assert wrong == []


def test_the_engine_imports_downwards() -> None:
    wrong = []
    for imp in ALL_IMPORTS:
        if not imp.module.startswith("optimizer") or not imp.target.startswith("optimizer"):
            continue
        targets = [imp.target]
        if imp.target == "optimizer" or imp.target in ENGINE_RANKS:
            # "from optimizer.explain import reasons": the submodules named, when they are.
            targets = [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in _modules()]
            targets = targets or [imp.target]
        for target in targets:
            same_group = _group(target) == _group(imp.module)
            if not same_group and _rank(target) >= _rank(imp.module):
                wrong.append(f"{imp.module}:{imp.line} imports {target}")
    assert wrong == []


def test_no_private_name_of_another_package_is_imported() -> None:
    modules = _modules()
    wrong = []
    for imp in ALL_IMPORTS:
        if not _ours(imp.target):
            continue
        own = (
            imp.module
            if modules[imp.module].name == "__init__.py"
            else imp.module.rpartition(".")[0]
        )
        theirs = (
            imp.target
            if imp.target in modules and modules[imp.target].name == "__init__.py"
            else imp.target.rpartition(".")[0]
        )
        if own == theirs:
            continue
        private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if private:
            wrong.append(f"{imp.module}:{imp.line} imports {private} from {imp.target}")
    assert wrong == []


def test_the_checks_see_a_wrong_import(tmp_path: Path) -> None:
    # The parser above must catch what it is there to catch: an upward and a private import.
    path = tmp_path / "probe.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..solve import solve\n"
        "from documents.report import _esc\n"
        "if TYPE_CHECKING:\n"
        "    from cli import main\n",
        encoding="utf-8",
    )
    found = _imports("optimizer.strategies.probe", path)
    assert [(i.target, i.names) for i in found] == [
        ("typing", ("TYPE_CHECKING",)),
        ("optimizer.solve", ("solve",)),
        ("documents.report", ("_esc",)),
    ]
    assert _rank("optimizer.solve") > _rank("optimizer.strategies.probe")


@pytest.mark.parametrize("statement", ["import optimizer", "from optimizer import solve, evaluate"])
def test_the_engine_loads_no_ui_web_or_template_library(statement: str) -> None:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    loaded = {
        line.rsplit("|", 1)[-1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "optimizer.solve" in loaded  # the report is read as intended
    assert sorted(m for m in loaded if m.split(".")[0] in NOT_IN_ENGINE) == []
