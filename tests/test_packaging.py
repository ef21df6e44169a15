"""A wheel install is the whole tool: it ships its SQL hunts and IOC lists and hunts like a checkout.

The wheel test builds the wheel from a copy of the package sources (nothing is written into the
repository), installs it with ``pip --no-deps`` into a fresh venv whose only other path is this
test venv's site-packages (the dependencies; the editable install's finder is not loaded there),
and hunts ``sample_data/`` with both installs through the ``forensics`` command. Cost: about
2 s for the wheel (the C flattener compiled), 2 s for the venv, and two hunts of the demo case
(about 10-20 s each on the shared 2-core machine), hence ``slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from forensics import shipped
from forensics.errors import ForensicsError
from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "README.md", "forensics")


def test_shipped_folders_are_in_the_package_and_named_by_their_place_there() -> None:
    queries, iocs = shipped.queries_dir(), shipped.iocs_dir()
    assert queries.parent == iocs.parent == Path(__import__("forensics").__file__).parent
    sql = sorted(queries.glob("*.sql"))
    assert len(sql) >= 20 and any(iocs.glob("*.yar"))
    assert shipped.shipped_name(sql[0]) == f"forensics/queries/{sql[0].name}"
    assert shipped.locate(f"forensics/queries/{sql[0].name}") == sql[0]
    assert shipped.shipped_name(REPO / "sample_data" / "README.md") is None
    assert shipped.locate("forensics/queries/../store.py") is None
    assert shipped.locate("forensics/store.py") is None  # only the shipped folders


def test_an_install_without_its_queries_refuses_to_hunt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "queries"
    empty.mkdir()
    monkeypatch.setattr(shipped, "QUERIES", empty)
    with (
        Case.open(tmp_path / "case", create=True) as case,
        pytest.raises(ForensicsError, match="lacks its SQL hunts"),
    ):
        run_hunt(case, HuntOptions(default_iocs=False))


def _latest_run(case: Path) -> Path:
    """The folder of the case's latest hunt run."""
    with Case.open(case, read_only=True) as c:
        return c.run_dir(c.runs()[-1])


def _build_wheel(dest: Path) -> Path:
    src = dest / "src"
    src.mkdir()
    for name in SOURCES:
        p = REPO / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(dest / "dist"), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (dest / "dist").glob("forensics-*.whl")
    return wheel


def _wheel_venv(dest: Path, wheel: Path) -> Path:
    venv = dest / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # the dependencies from this test venv (a plain path entry: its .pth files, the editable
    # install's finder among them, are not run)
    (Path(purelib) / "zz_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def _hunt(forensics: list[str], case: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [*forensics, "hunt", str(REPO / "sample_data"), "--case", str(case), "--json", *extra],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    # 0: the demo's collected folders hold files that are not logs: counted, not input problems
    assert res.returncode == 0, res.stderr
    return res


def _findings(case: Path) -> list[tuple[Any, ...]]:
    run = _latest_run(case)
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT f.finding_id, f.kind, f.rule_id, f.title, f.level, f.host, f.rule_path, f.rule_sha256, "
        f"list_sort(list(r.input_sha256 || ':' || r.rec_index)) "
        f"FROM '{run}/findings.parquet' f LEFT JOIN '{run}/finding_records.parquet' r "
        f"USING (finding_id) GROUP BY ALL ORDER BY 1"
    ).fetchall()
    return rows


def _files_read(case: Path) -> list[tuple[str, str, str]]:
    run = json.loads((_latest_run(case) / "run.json").read_text())
    return [(f["kind"], f["path"], f["sha256"]) for f in run["files"]]


@pytest.mark.slow
def test_a_wheel_install_hunts_the_demo_case_as_the_editable_install_does(tmp_path: Path) -> None:
    venv = _wheel_venv(tmp_path, _build_wheel(tmp_path))
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import forensics; print(forensics.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv))  # the wheel's copy, not the checkout

    wheel = _hunt([str(venv / "bin" / "forensics")], tmp_path / "wheel-case", tmp_path)
    editable = _hunt(
        [sys.executable, "-m", "forensics"], tmp_path / "editable-case", tmp_path, "--no-outputs"
    )

    assert "sql hunts: 20 ran" in wheel.stderr and "yara: 2 rule file(s) compiled" in wheel.stderr
    ours, theirs = _findings(tmp_path / "wheel-case"), _findings(tmp_path / "editable-case")
    assert len(ours) == 66 and ours == theirs
    assert wheel.stdout.splitlines() == editable.stdout.splitlines()  # the --json findings, line for line
    files = _files_read(tmp_path / "wheel-case")
    assert files == _files_read(tmp_path / "editable-case")
    sql = [path for kind, path, _ in files if kind == "sql" and path.startswith("forensics/queries/")]
    facts = [p for p in sql if p.startswith("forensics/queries/facts/")]
    assert len(sql) - len(facts) == 20 and len(facts) == 5  # the hunts, and the fact queries they read
    assert (tmp_path / "wheel-case" / "outputs" / "report.html").stat().st_size > 10_000
