"""The packages of `rag` show the data flow, and imports run one way along it: a module may
import its own package and the layers below it, never one above (ingest never imports
retrieval or the composer). Every import is read, module-level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# Lowest first. The top-level modules below the line are the base every layer may use.
LAYERS = [
    {"rag.errors", "rag.types", "rag.formats", "rag.config"},
    {"rag.nlp"},
    {"rag.llm"},
    {"rag.ingest"},
    {"rag.retrieve"},
    {"rag.compose"},
    {"rag.engine"},
    {"rag.http", "rag.evaluation", "rag.api"},
    {"rag.cli", "rag"},
]


def layer_of(module: str) -> int:
    """The layer of a module: that of the longest package or module name it starts with."""
    best, found = "", -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, found = name, i
    assert found >= 0, f"{module} is in no layer"
    return found


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imports(root: Path = ROOT) -> list[tuple[str, str]]:
    """(importing module, imported rag module) for every import in `root`/rag/."""
    found = []
    for path in sorted((root / "rag").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                names = [t for t in targets if _is_module(root, t)] or [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found += [(module, name) for name in names if name.split(".")[0] == "rag"]
    return found


def _is_module(root: Path, name: str) -> bool:
    path = root / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def upward(found: list[tuple[str, str]]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, name in found
        if layer_of(name) > layer_of(module) and package_of(name) != package_of(module)
    ]


def test_imports_run_down_the_layers_only() -> None:
    assert upward(imports()) == []


def test_ingest_never_imports_retrieval_or_the_composer() -> None:
    forbidden = ("rag.retrieve", "rag.compose", "rag.llm", "rag.engine", "rag.http")
    wrong = [
        (module, name)
        for module, name in imports()
        if module.startswith("rag.ingest") and name.startswith(forbidden)
    ]
    assert wrong == []


def test_the_earlier_import_path_of_the_http_api_still_works() -> None:
    from rag.api import create_app
    from rag.http import create_app as current

    assert create_app is current


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    for package in ("rag", "rag/ingest", "rag/compose"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "rag/compose/reader.py").write_text("")
    (tmp_path / "rag/ingest/lexical.py").write_text(
        "def later():\n    from rag.compose.reader import Reader\n"
    )
    assert upward(imports(tmp_path)) == ["rag.ingest.lexical imports rag.compose.reader"]
