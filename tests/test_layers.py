"""Plain checks of the layering (issue 13): who may import whom, read from the source, not run."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "forensics"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _modules(under: str) -> list[Path]:
    return sorted((PKG / under).rglob("*.py")) if (PKG / under).is_dir() else [PKG / under]


def test_only_the_bundle_and_its_commands_import_the_bundle() -> None:
    offenders = {
        str(p.relative_to(PKG)): sorted(m for m in _imports(p) if m.startswith("forensics.bundle"))
        for p in PKG.rglob("*.py")
        if p.relative_to(PKG).parts[0] not in ("bundle",) and p.relative_to(PKG).as_posix() != "cli/bundle.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_hunt_does_not_import_integrity() -> None:
    offenders = {
        str(p.relative_to(PKG)): sorted(m for m in _imports(p) if m.startswith("forensics.integrity"))
        for p in _modules("hunt")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_findings_cross_layers_only_through_read_findings() -> None:
    """No module above the hunt reads the findings files or views itself (the CLI may name the
    views to the user)."""
    allowed = {"hunt/findings.py", "store.py"}
    readers = []
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG).as_posix()
        text = p.read_text(encoding="utf-8")
        if (
            rel not in allowed
            and rel.split("/")[0] not in ("hunt", "cli")
            and ("FROM findings" in text or "FROM finding_records" in text or "findings.parquet" in text)
        ):
            readers.append(rel)
    assert readers == []
