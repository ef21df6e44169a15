"""Every EVTX under ../shared/data: every record the evtx package reads is a row, and rows +
rejects cover what the file's headers claim, or the shortfall is recorded and reported."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from evtx import PyEvtxParser

from forensics.ingest.runner import ingest_paths
from forensics.store import Case


def evtx_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".evtx")


def count_with_evtx(path: Path) -> int:
    """Records the evtx package reads from the whole file (its errors not counted)."""
    n = 0
    try:
        it = PyEvtxParser(str(path)).records_json()
    except (OSError, RuntimeError):
        return 0
    while True:
        try:
            next(it)
        except StopIteration:
            return n
        except (OSError, RuntimeError):
            continue
        n += 1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def corpus_case(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    files = evtx_files(shared_data)
    case = tmp_path_factory.mktemp("corpus") / "case"
    ingest_paths(case, files)
    return case, files


def test_every_evtx_record_is_a_row_or_a_reject(corpus_case: tuple[Path, list[Path]]) -> None:
    case_dir, files = corpus_case
    assert len(files) > 400
    with Case.open(case_dir, read_only=True) as case:
        rows = dict(case.con.execute("SELECT input_sha256, count(*) FROM events GROUP BY 1").fetchall())
        rejects = dict(case.con.execute("SELECT input_sha256, count(*) FROM rejects GROUP BY 1").fetchall())
        failed = case.con.execute("SELECT path, error FROM inputs WHERE status = 'failed'").fetchall()
        counts = {
            r[0]: r[1:]
            for r in case.con.execute(
                "SELECT sha256, rows, rejects, records_claimed, records_shortfall, status FROM inputs "
                "WHERE status <> 'duplicate'"
            ).fetchall()
        }
    short = []
    for f in files:
        digest = sha256(f)
        got = rows.get(digest, 0) + rejects.get(digest, 0)
        if got < count_with_evtx(f):
            short.append((str(f), count_with_evtx(f), got))
        n_rows, n_rejects, claimed, shortfall, status = counts[digest]
        assert (n_rows, n_rejects) == (rows.get(digest, 0), rejects.get(digest, 0)), f
        # never ok with fewer records than the headers claim: covered, or the shortfall reported
        assert n_rows + n_rejects + shortfall >= claimed, f
        assert shortfall == 0 or status in ("truncated", "damaged"), f
    assert short == [], "every record the evtx package reads must be a row or a reject"
    assert failed == [], "no EVTX file may fail as a whole when the parser can open it"


def test_corrupt_samples_keep_recoverable_records_and_count_rejects(
    corpus_case: tuple[Path, list[Path]],
) -> None:
    case_dir, _ = corpus_case
    with Case.open(case_dir, read_only=True) as case:
        bad = case.con.execute(
            "SELECT path, rows, rejects FROM inputs WHERE path LIKE '%bad_chunk_magic%'"
        ).fetchall()
        reasons = case.con.execute("SELECT DISTINCT reason FROM rejects").fetchall()
        offsets = case.con.execute(
            "SELECT count(*) FROM rejects WHERE rec_offset IS NULL AND record_id IS NULL"
        ).fetchall()
    assert bad and bad[0][1] > 0 and bad[0][2] > 0
    assert all(r[0] for r in reasons)
    assert offsets == [(0,)], "every EVTX reject says where in its file it is"


def test_timestamps_are_utc_aware_and_raw_is_kept(corpus_case: tuple[Path, list[Path]]) -> None:
    case_dir, _ = corpus_case
    with Case.open(case_dir, read_only=True) as case:
        types = dict((r[0], r[1]) for r in case.con.execute("DESCRIBE events").fetchall())
        missing_raw = case.con.execute(
            "SELECT count(*) FROM events WHERE ts IS NOT NULL AND ts_raw IS NULL"
        ).fetchone()
        sample = case.con.execute(
            "SELECT ts_raw, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') FROM events "
            "WHERE ts_raw LIKE '%Z' LIMIT 50"
        ).fetchall()
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert missing_raw == (0,)
    for raw, utc in sample:
        assert raw.startswith(utc)


def test_reingesting_the_corpus_adds_nothing(corpus_case: tuple[Path, list[Path]]) -> None:
    case_dir, files = corpus_case
    with Case.open(case_dir, read_only=True) as case:
        before = case.con.execute("SELECT count(*) FROM events").fetchone()
    summary = ingest_paths(case_dir, files)
    assert summary.rows == 0 and summary.files_parsed == 0
    with Case.open(case_dir, read_only=True) as case:
        after = case.con.execute("SELECT count(*) FROM events").fetchone()
        dupes = case.con.execute(
            "SELECT count(*) FROM (SELECT input_sha256, rec_index FROM events GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
    assert before == after
    assert dupes == (0,)


def test_sigma_fields_are_columns(corpus_case: tuple[Path, list[Path]]) -> None:
    case_dir, _ = corpus_case
    with Case.open(case_dir, read_only=True) as case:
        cols = {r[0].lower() for r in case.con.execute("DESCRIBE events").fetchall()}
        lsass = case.con.execute(
            "SELECT count(*) FROM events WHERE event_id = 10 AND channel = 'Microsoft-Windows-Sysmon/Operational' "
            "AND TargetImage ILIKE '%lsass.exe' AND GrantedAccess IS NOT NULL"
        ).fetchone()
    for name in (
        "commandline",
        "targetusername",
        "grantedaccess",
        "image",
        "parentimage",
        "execution_processid",
    ):
        assert name in cols
    assert lsass[0] > 0
