"""Collections in a batch: Velociraptor offline-collection zips, UAC tarballs, other archives and
folders of collected files, beside the disk images.

They are read by the project's own walker (``forensics.ingest``: every member streamed with its
provenance chain; the host from Velociraptor's ``client_info.json`` or UAC's file name, the zone
from the collection's ``etc/timezone``), one ``ingest_paths`` per collection, after the images
(so a file found both in an image and in a collection belongs to the image, whatever the order
of the batch). Each collection is a row of the batch's ``images`` table like an image — kind,
status, size and SHA-256 of the archive, host and zone it stated, files, rows, rejects, seconds —
so the summary, ``--json`` and a resumed batch treat both alike. A collection not marked done is
ingested again by the next run; the ingest skips what the case already holds, so a batch killed
in the middle of one ends with the rows of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Literal

from forensics.archives import zip_names
from forensics.batch.units import ImageSpec
from forensics.ingest.base import ParseContext
from forensics.ingest.runner import IngestSummary, ingest_paths
from forensics.store import Case
from forensics.timeutil import now_utc

CollectionKind = Literal["velociraptor", "uac", "archive", "folder"]
_VELOCIRAPTOR_NAMES = ("client_info.json", "collection_context.json", "uploads.json")
_READ = 1 << 20


def collection_kind(path: Path) -> CollectionKind | None:
    """What collection ``path`` is (None: neither an archive nor a folder)."""
    if path.is_dir():
        return "folder"
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if not _archive_magic(head):
        return None
    name = path.name.lower()
    if name.startswith("uac-") and name.endswith((".tar", ".tar.gz", ".tgz")):
        return "uac"
    if head.startswith(b"PK\x03\x04"):
        names = zip_names(path)
        if names is None:
            return "archive"  # the walker reports what is wrong with it
        if names & set(_VELOCIRAPTOR_NAMES) or any(n.startswith("uploads/") for n in names):
            return "velociraptor"
    return "archive"


def _archive_magic(head: bytes) -> bool:
    """Zip, gzip or tar (ustar): what the walker opens."""
    return head.startswith((b"PK\x03\x04", b"\x1f\x8b")) or head[257:262] == b"ustar"


def ingest_collections(
    case_dir: Path,
    specs: list[ImageSpec],
    ctx: ParseContext,
    summary: IngestSummary,
    *,
    workers: int | None,
    on_problem: Any,
    progress: Any = None,
    executor: Executor | None = None,
) -> None:
    """Ingest every collection of ``specs`` not done yet; record each one's line in ``images``
    (``executor``: where the parse tasks run, see ``ingest_paths``)."""
    with Case.open(case_dir) as case:
        known = {r[0]: r[1] for r in case.con.execute("SELECT path, status FROM images").fetchall()}
    for n, spec in enumerate(specs, 1):
        if known.get(spec.path) != "done":
            _one(case_dir, spec, ctx, summary, workers, on_problem, executor)
        if progress is not None:
            progress(n)


def _one(
    case_dir: Path,
    spec: ImageSpec,
    ctx: ParseContext,
    summary: IngestSummary,
    workers: int | None,
    on_problem: Any,
    executor: Executor | None = None,
) -> None:
    start = time.perf_counter()
    path = Path(spec.path)
    kind = collection_kind(path)
    size, sha, error = _digest(path)
    got: IngestSummary | None = None
    if error is None:
        got = ingest_paths(case_dir, [path], ctx, workers=workers, on_problem=on_problem, executor=executor)
        summary.absorb(got)
        top = [p for p in got.problems if p.get("path") == spec.path and not p.get("member")]
        if top:  # the collection itself could not be read (a member's problem is the member's)
            error = f"{top[0].get('status')}: {top[0].get('error')}"
    elif on_problem is not None:
        problem = {"path": spec.path, "member": None, "status": "unreadable", "error": error}
        summary.problems.append(problem)
        on_problem(problem)
    with Case.open(case_dir) as case:
        _finish(case, spec.path, kind, size, sha, error, time.perf_counter() - start, folder=path.is_dir())


def _digest(path: Path) -> tuple[int | None, str | None, str | None]:
    """(size, SHA-256, error) of an archive as received; a folder's files are hashed one by one by the ingest."""
    if path.is_dir():
        return None, None, None
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(_READ):
                h.update(block)
        return path.stat().st_size, h.hexdigest(), None
    except OSError as exc:
        return None, None, f"cannot read the collection: {exc.strerror or exc}"


def _finish(
    case: Case, path: str, kind: str | None, size: int | None, sha: str | None, error: str | None,
    seconds: float, *, folder: bool,
) -> None:  # fmt: skip
    """The collection's line: counts from its inputs, the host and zone its files were parsed with."""
    where, params = (
        ("(path = ? OR starts_with(path, ? || '/'))", [path, path]) if folder else ("path = ?", [path])
    )
    counts = case.con.execute(
        f"SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(rejects), 0) FROM inputs WHERE {where}",
        params,
    ).fetchone()
    stated = {
        key: case.con.execute(
            f"SELECT json_extract_string(context, '$.{key}') v, any_value(json_extract_string(context, '$.{key}_from')) "
            f"FROM inputs WHERE {where} AND context IS NOT NULL AND v IS NOT NULL "
            "GROUP BY v ORDER BY count(*) DESC, v LIMIT 1",
            params,
        ).fetchone()
        for key in ("host", "tz")
    }
    host, tz = stated["host"] or (None, None), stated["tz"] or (None, None)
    files, rows, rejects = counts if counts else (0, 0, 0)
    case.con.execute(
        "UPDATE images SET kind = ?, status = ?, error = ?, file_size = ?, file_sha256 = ?, host = ?, "
        "host_source = ?, tz = ?, tz_source = ?, files = ?, rows = ?, rejects = ?, deleted_files = 0, "
        "damaged_files = 0, seconds = seconds + ?, done_at = ? WHERE path = ?",
        [kind or ("file" if Path(path).exists() else "missing"), "failed" if error else "done", error, size, sha, host[0],
         f"its files ({host[1]})" if host[0] else None, tz[0], f"its files ({tz[1]})" if tz[0] else None,
         files, rows, rejects, seconds, now_utc(), path],
    )  # fmt: skip
