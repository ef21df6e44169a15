"""``verify --reproduce`` on a bundle whose sources were read from a disk image: the re-ingest of
the image parses every file with the context recorded for it and the hunt gives the same findings.

Cost: one small Linux E01 (built once per session by conftest) ingested three times and hunted
with one SQL query: ~10 s on 2 busy cores.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.signing import keygen
from forensics.bundle.verify import PASSED, verify_bundle
from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.hunt.findings import read_findings
from forensics.ingest.base import ParseContext
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

PINNED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)

# rows of the yearless, zone-less logs (OpenSSH auth.log, syslog): their UTC times depend on the
# zone and year decided for each file
SQL = """-- id: first-lines-of-var-log
-- title: First lines of each log under /var/log
-- level: low
SELECT input_sha256, rec_index, host, ts, input_member AS group_key, 'first lines of ' || input_member AS note
FROM events
WHERE input_member IN ('p1:/var/log/auth.log', 'p1:/var/log/syslog') AND rec_index < 3
"""


def _hunt(case: Path, queries: Path) -> None:
    options = HuntOptions(queries=[queries], default_queries=False, default_iocs=False)
    with Case.open(case) as c:
        run_hunt(c, options, argv=["forensics", "hunt", str(case), "--queries", str(queries)])


def _first_times(case: Path) -> list[tuple[str, str]]:
    with Case.open(case, read_only=True) as c:
        return sorted((f.summary, str(f.first_ts)) for f in read_findings(c))


def test_verify_reproduce_reingests_the_image_with_each_files_recorded_context(
    built: dict, tmp_path: Path
) -> None:
    image = built["linux"].images["e01"]
    sources = tmp_path / "originals"
    sources.mkdir()
    (sources / image.name).symlink_to(image)
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "first_lines.sql").write_text(SQL, encoding="utf-8")

    # ingested with a zone the user gave (over the image's own Asia/Kolkata): recorded per file;
    # the re-ingest is not told it and must take it from the bundle
    case = tmp_path / "case"
    ingest_paths(case, [sources / image.name], ParseContext(tz="Europe/Paris"), workers=1)
    _hunt(case, queries)
    with Case.open(case, read_only=True) as c:
        contexts = [
            json.loads(x)
            for (x,) in c.con.execute(
                "SELECT context FROM inputs WHERE member IN ('p1:/var/log/auth.log', 'p1:/var/log/syslog')"
            ).fetchall()
        ]
    assert len(contexts) == 2
    assert all(
        x["tz"] == "Europe/Paris" and x["tz_from"] == "--tz" and x["host"] == "lnx-img01" for x in contexts
    )
    assert all(x["year"] and x["year_from"] == "image's logs" for x in contexts)

    key, pub, _fp = keygen(tmp_path / "keys" / "signer.pem")
    details = CaseDetails(
        fir_number="0016/2025", police_station="Cyber Crime PS", agency="CERT-In", sections=["66 IT Act"],
        proceeding_date="2025-01-15", operator="Analyst Rao", organisation="City Hospital",
    )  # fmt: skip
    bundle = tmp_path / "bundle.zip"
    export_bundle(case, bundle, details, created=PINNED, key_path=key)

    checks = {c.name: c for c in verify_bundle(bundle, key=pub, sources=sources, reproduce=True)}
    for name in ("signature", "manifest", "records", "sources", "reproduce"):
        assert checks[name].status == PASSED, (name, checks[name].detail)  # sources: found inside the image
    assert "2 findings reproduced identically" in checks["reproduce"].detail

    # the control: the same image ingested as the image states it (its own zone) gives other
    # times, so the reproduction above did use the recorded context
    plain = tmp_path / "plain"
    ingest_paths(plain, [sources / image.name], workers=1)
    _hunt(plain, queries)
    assert _first_times(plain) != _first_times(case)
