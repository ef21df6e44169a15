"""What a case records about its images: the ``images`` and ``image_files`` tables.

``images`` has one row per image of any batch or ingest: where it is, its hashes and their
check against the acquisition's, the host and zone it states (and where each was read), the
year used for its yearless logs, its state (``queued`` → ``listed`` → ``done``, or
``failed``) and its counts. ``image_files`` has one row per file found in an image: volume,
path, inode / MFT entry, size, times, SHA-256, deleted / damaged flags and the unreadable
ranges. An event row leads to both: ``events.input_path`` is the image, ``input_member`` the
file's member name (``image_files.member``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from forensics import __version__
from forensics.batch.units import FileItem, ImageDigest, ImageSpec, Listing
from forensics.store import Case, _insert_arrow
from forensics.timeutil import now_utc

DDL = """
CREATE TABLE IF NOT EXISTS images (
    path VARCHAR PRIMARY KEY,
    position BIGINT,
    kind VARCHAR,
    status VARCHAR NOT NULL,
    error VARCHAR,
    file_size BIGINT,
    file_sha256 VARCHAR,
    segments VARCHAR,
    media_size BIGINT,
    media_md5 VARCHAR,
    media_sha1 VARCHAR,
    media_sha256 VARCHAR,
    acquisition_md5 VARCHAR,
    acquisition_sha1 VARCHAR,
    acquisition_source VARCHAR,
    verification VARCHAR,
    verification_detail VARCHAR,
    volumes VARCHAR,
    host VARCHAR,
    host_source VARCHAR,
    tz VARCHAR,
    tz_source VARCHAR,
    reference_year BIGINT,
    reference_year_source VARCHAR,
    host_hint VARCHAR,
    tz_hint VARCHAR,
    collector VARCHAR,
    collected_at VARCHAR,
    expected_hash VARCHAR,
    files BIGINT,
    rows BIGINT,
    rejects BIGINT,
    deleted_files BIGINT,
    damaged_files BIGINT,
    seconds DOUBLE,
    listed_at TIMESTAMPTZ,
    hashed_at TIMESTAMPTZ,
    done_at TIMESTAMPTZ,
    tool_version VARCHAR
);
CREATE TABLE IF NOT EXISTS image_files (
    image_path VARCHAR NOT NULL,
    member VARCHAR NOT NULL,
    volume VARCHAR,
    fs_type VARCHAR,
    fs_path VARCHAR,
    inode BIGINT,
    size BIGINT,
    mtime TIMESTAMPTZ,
    deleted BOOLEAN,
    damaged BOOLEAN,
    bad_ranges VARCHAR,
    sha256 VARCHAR,
    md5 VARCHAR,
    parser VARCHAR,
    note VARCHAR
);
"""

_FILE_SCHEMA = pa.schema(
    [
        ("image_path", pa.string()), ("member", pa.string()), ("volume", pa.string()), ("fs_type", pa.string()),
        ("fs_path", pa.string()), ("inode", pa.int64()), ("size", pa.int64()), ("mtime", pa.timestamp("us", tz="UTC")),
        ("deleted", pa.bool_()), ("damaged", pa.bool_()), ("bad_ranges", pa.string()), ("sha256", pa.string()),
        ("md5", pa.string()), ("parser", pa.string()), ("note", pa.string()),
    ]
)  # fmt: skip


def ensure_tables(case: Case) -> None:
    """Create the image tables when the case has none yet."""
    case.con.execute(DDL)


def register(case: Case, specs: Iterable[ImageSpec]) -> None:
    """Queue images not yet known to the case (a re-run keeps their state)."""
    for pos, s in enumerate(specs):
        case.con.execute(
            "INSERT INTO images (path, position, status, host_hint, tz_hint, collector, collected_at, "
            "expected_hash, seconds, tool_version) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (path) DO UPDATE SET position = excluded.position",
            [s.path, pos, s.host_hint, s.tz_hint, s.collector, s.collected_at, s.expected_hash, __version__],
        )


def states(case: Case) -> dict[str, dict[str, Any]]:
    """Every image row by path."""
    cur = case.con.execute("SELECT * FROM images")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def commit_listing(case: Case, listing: Listing, host_hint: str | None, tz_hint: str | None) -> None:
    """Record what an image holds and the context it states, in one transaction."""
    con = case.con
    ctx = listing.context
    host = ctx.host.value if ctx.host else host_hint
    host_source = ctx.host.source if ctx.host else ("manifest host hint" if host_hint else None)
    tz = ctx.tz.value if ctx.tz else tz_hint
    tz_source = ctx.tz.source if ctx.tz else ("manifest zone hint" if tz_hint else None)
    volumes = json.dumps([v.__dict__ for v in listing.volumes], sort_keys=True)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM image_files WHERE image_path = ?", [listing.image])
        if listing.files:
            _insert_arrow(con, "INSERT INTO image_files", _files_table(listing.image, listing.files))
        con.execute(
            "UPDATE images SET kind = ?, status = ?, error = ?, media_size = ?, volumes = ?, host = ?, "
            "host_source = ?, tz = ?, tz_source = ?, listed_at = ?, seconds = seconds + ? WHERE path = ?",
            [listing.kind, "failed" if listing.error else "listed", listing.error, listing.media_size, volumes,
             host, host_source, tz, tz_source, now_utc(), listing.seconds, listing.image],
        )  # fmt: skip
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _files_table(image: str, files: Iterable[FileItem]) -> pa.Table:
    rows = [
        {
            "image_path": image,
            "member": f.member,
            "volume": f.volume,
            "fs_type": f.fs_type,
            "fs_path": f.fs_path,
            "inode": f.inode,
            "size": f.size,
            "mtime": f.mtime,
            "deleted": f.deleted,
            "damaged": f.damaged,
            "bad_ranges": json.dumps(f.bad_ranges) if f.bad_ranges else None,
            "sha256": f.sha256,
            "md5": f.md5,
            "parser": f.parser,
            "note": f.note,
        }
        for f in files
    ]
    return pa.Table.from_pylist(rows, schema=_FILE_SCHEMA)


def load_files(case: Case, image: str) -> tuple[FileItem, ...]:
    """The listing of an image committed by an earlier run."""
    rows = case.con.execute(
        "SELECT member, volume, fs_type, fs_path, inode, size, mtime, deleted, sha256, md5, parser, "
        "bad_ranges, note FROM image_files WHERE image_path = ? ORDER BY member",
        [image],
    ).fetchall()
    return tuple(
        FileItem(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            bool(r[7]),
            r[8],
            r[9],
            r[10],
            tuple(tuple(x) for x in json.loads(r[11])) if r[11] else (),
            r[12],
        )
        for r in rows
    )


def commit_digest(case: Case, d: ImageDigest) -> None:
    """Record the image's hashes and their check."""
    files = d.files
    acq = d.acquisition
    sources = sorted(set(acq.sources.values()))
    case.con.execute(
        "UPDATE images SET file_size = ?, file_sha256 = ?, segments = ?, media_md5 = ?, media_sha1 = ?, "
        "media_sha256 = ?, acquisition_md5 = ?, acquisition_sha1 = ?, acquisition_source = ?, verification = ?, "
        "verification_detail = ?, hashed_at = ?, seconds = seconds + ?, "
        "status = CASE WHEN ? IS NULL THEN status ELSE 'failed' END, error = coalesce(?, error) WHERE path = ?",
        [files.size if files else None, files.sha256 if files else None,
         json.dumps(files.files) if files else None, d.media.get("md5"), d.media.get("sha1"),
         d.media.get("sha256"), acq.hashes.get("md5"), acq.hashes.get("sha1"), "; ".join(sources) or None,
         d.verification.status if d.verification else None, d.verification.detail if d.verification else None,
         now_utc(), d.seconds, d.error, d.error, d.image],
    )  # fmt: skip


def set_year(case: Case, image: str, year: int | None, source: str) -> None:
    """Record the year used for the image's yearless logs, and why."""
    case.con.execute(
        "UPDATE images SET reference_year = ?, reference_year_source = ? WHERE path = ?",
        [year, source, image],
    )


def add_seconds(case: Case, image: str, seconds: float) -> None:
    """Add worker time spent on the image."""
    case.con.execute("UPDATE images SET seconds = seconds + ? WHERE path = ?", [seconds, image])


def finish(case: Case, image: str, failed: str | None = None) -> None:
    """Mark an image done (or failed) and store its counts from the inputs table."""
    case.con.execute(
        "UPDATE images SET status = ?, error = coalesce(?, error), done_at = ?, "
        "files = (SELECT count(*) FROM image_files WHERE image_path = ?), "
        "rows = (SELECT coalesce(sum(rows), 0) FROM inputs WHERE path = ?), "
        "rejects = (SELECT coalesce(sum(rejects), 0) FROM inputs WHERE path = ?), "
        "deleted_files = (SELECT count(*) FILTER (WHERE deleted) FROM image_files WHERE image_path = ?), "
        "damaged_files = (SELECT count(*) FILTER (WHERE damaged) FROM image_files WHERE image_path = ?) "
        "WHERE path = ?",
        ["failed" if failed else "done", failed, now_utc(), image, image, image, image, image, image],
    )
