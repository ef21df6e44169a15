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
            out.update(f"{node.module}.{a.name}" for a in node.names)  # from forensics import ingest
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


def test_hunt_imports_neither_integrity_nor_ingest() -> None:
    """The hunt reads the case store, not the ingest's internals nor the investigator's view."""
    offenders = {
        str(p.relative_to(PKG)): sorted(
            m for m in _imports(p) if m.startswith(("forensics.integrity", "forensics.ingest"))
        )
        for p in _modules("hunt")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    # YARA walks archives with the ingest's walker until the shared archive module
    # (forensics/archives.py, ingest lane) lands; from then on nothing is allowed
    yara = offenders.get("hunt/yara_scan.py", [])
    if (
        not (PKG / "archives.py").exists()
        and yara
        and all(m.startswith("forensics.ingest.archives") for m in yara)
    ):
        del offenders["hunt/yara_scan.py"]
    assert offenders == {}


# Numbers the story still decides by, each with where it belongs; anything else is a new
# threshold and fails. (Issue 13: the story is assembled from findings and fact queries.)
STORY_PENDING = {
    "BRUTE_MIN_FAILURES = 10": "the brute-force threshold lives in queries/brute_force_failed.sql (outputs lane)",
    "before['accounts'] > 3": "password spray vs brute force belongs to the brute-force query's result",
}


def _numeric_decisions(path: Path) -> list[str]:
    """Comparisons with a number and module-level numeric constants, as source text; comparisons
    of a finding's level rank (which findings the story tells) are not detection."""
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            numeric = any(
                isinstance(c, ast.Constant) and type(c.value) in (int, float) and c.value not in (0, 1)
                for c in sides
            )
            ranks = any(isinstance(c, ast.Attribute) and c.attr == "rank" for c in sides)
            if numeric and not ranks:
                out.append(ast.unparse(node))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) in (int, float)
        ):
            out.append(ast.unparse(node))
    return sorted(out)


def test_story_holds_no_detection_thresholds() -> None:
    found = _numeric_decisions(PKG / "story.py")
    assert [d for d in found if d not in STORY_PENDING] == []


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
