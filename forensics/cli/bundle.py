"""``forensics export``, ``verify``, ``keygen`` and ``custody``: the evidence bundle commands."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from forensics.cli.common import err, out, print_json_line, shown
from forensics.cli.guard import output_path, say, warn
from forensics.cli.progress import bars
from forensics.errors import ForensicsError

VERIFY_FAILED_EXIT = 5  # see forensics/cli/__init__.py
VERIFY_UNVERIFIED_EXIT = 6  # every check passed, but the signer's key was not pinned


def register(app: typer.Typer) -> None:
    """Add ``export``, ``verify``, ``keygen`` and the ``custody`` group."""
    app.command(
        "export",
        help=(
            "Write the evidence bundle of a case: records, findings, timeline, report, s.63/s.65B certificate, "
            "CERT-In report, provenance, custody log, MANIFEST.json, hash lists and a signature.\n\n"
            "Example: forensics export cases/hosp --out hosp.zip --case-file fir.yaml --key signer.pem"
        ),
    )(export)
    app.command(
        "verify",
        help=(
            "Check an evidence bundle: signature, manifest hashes, members, custody chain, records, timestamps, "
            "hash lists; with --sources also re-hash the originals, with --reproduce re-run the hunt.\n\n"
            "Give the signer's fingerprint (--fingerprint, or their public key with --key), obtained out of band: "
            "the signed certificate carries it. Without it a valid signature proves nothing about who signed, "
            "since a forger can re-sign an edited bundle with their own key.\n\n"
            "Exit codes: 0 every check passed and the signer is the one expected; 5 a check failed; "
            "6 every check passed but the signer was not pinned (UNVERIFIED); 1 error.\n\n"
            "Example: forensics verify hosp.zip --fingerprint sha256:ab12... --sources /evidence"
        ),
    )(verify)
    app.command(
        "keygen",
        help="Write an Ed25519 signing key: KEY (PEM, mode 0600) and KEY.pub.\n\nExample: forensics keygen -o signer.pem",
    )(keygen)
    app.add_typer(_custody_app(), name="custody")


def _fail(exc: Exception) -> typer.Exit:
    say(str(exc))
    return typer.Exit(1)


def export(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Bundle zip to write.")],
    case_file: Annotated[
        Path | None, typer.Option(help="YAML/JSON/TOML file with the case details below.")
    ] = None,
    fir: Annotated[str | None, typer.Option("--fir", help="FIR number.")] = None,
    police_station: Annotated[str | None, typer.Option(help="Police station.")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency (state cyber cell, CBI, ...).")] = None,
    sections: Annotated[str | None, typer.Option(help="Sections of law, comma-separated.")] = None,
    proceeding_date: Annotated[
        str | None, typer.Option(help="Date the proceeding began (YYYY-MM-DD): picks s.63 or s.65B.")
    ] = None,
    operator: Annotated[str | None, typer.Option(help="Who makes the export.")] = None,
    organisation: Annotated[str | None, typer.Option(help="Affected organisation (CERT-In report).")] = None,
    incident_type: Annotated[str | None, typer.Option(help="Incident type for the CERT-In report.")] = None,
    tlp: Annotated[
        str | None, typer.Option(help="TLP of the bundle (CLEAR, GREEN, AMBER, AMBER+STRICT, RED).")
    ] = None,
    key: Annotated[Path | None, typer.Option(help="Ed25519 private key (PEM) to sign MANIFEST.json.")] = None,
    created: Annotated[
        str | None, typer.Option(help="Pin the creation time (ISO-8601 with zone); default now.")
    ] = None,
    sources: Annotated[
        list[Path] | None, typer.Option("--sources", help="Folder to find originals in when they moved.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    run: Annotated[
        str | None,
        typer.Option("--run", help="Hunt run the bundle pins (forensics runs; default: the latest)."),
    ] = None,
) -> None:
    """Write the evidence bundle."""
    from forensics.bundle.casefile import CaseDetails, load_case_file
    from forensics.bundle.export import export_bundle
    from forensics.timeutil import parse_iso_utc

    output_path(out_path, "--out")  # before any work: a bundle that cannot be written is a usage error

    try:
        base = load_case_file(case_file) if case_file else CaseDetails()
        details = base.merged(
            fir_number=fir, police_station=police_station, agency=agency,
            sections=[s.strip() for s in sections.split(",") if s.strip()] if sections else None,
            proceeding_date=proceeding_date, operator=operator, organisation=organisation,
            incident_type=incident_type, tlp=tlp,
        )  # fmt: skip
        when: datetime | None = None
        if created:
            when = parse_iso_utc(created)
            if when is None:
                raise ForensicsError(f"--created {created!r} is not an ISO-8601 time")
        if key is None:
            warn("no --key: the bundle is not signed and `verify` will fail its signature check")
        with bars() as steps:
            res = export_bundle(
                case,
                out_path,
                details,
                created=when,
                key_path=key,
                search=sources or [],
                run=run,
                progress=steps,
            )
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if json:
        print_json_line({"path": str(res.path), "sha256": res.sha256, "manifest_sha256": res.manifest_sha256,
                         "bundle_id": res.bundle_id, "fingerprint": res.fingerprint, "files": res.files,
                         "records": res.records, "findings": res.findings,
                         "withheld_findings": res.withheld_findings, "notes": res.notes, "run": res.run})  # fmt: skip
        return
    out.print(f"bundle {shown(res.bundle_id)}: {shown(res.path)}")
    out.print(
        f"  findings of hunt run {shown(res.run)}" if res.run else "  no hunt run: the case was never hunted"
    )
    out.print(f"  sha256 {res.sha256}")
    out.print(
        f"  {res.files} files, {res.findings} findings, {res.records} records; signer {shown(res.fingerprint or 'none')}"
    )
    if res.withheld_findings:
        out.print(f"  {res.withheld_findings} TLP:RED finding(s) withheld")
    for note in res.notes:
        err.print(f"note: {shown(note)}")


def verify(
    bundle: Annotated[Path, typer.Argument(help="Bundle zip.")],
    fingerprint: Annotated[str | None, typer.Option(help="Expected signer fingerprint (sha256:...).")] = None,
    key: Annotated[Path | None, typer.Option(help="Expected signer public key (PEM).")] = None,
    sources: Annotated[Path | None, typer.Option(help="Folder with the original evidence files.")] = None,
    reproduce: Annotated[bool, typer.Option(help="Re-run the recorded hunt and compare findings.")] = False,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per check.")] = False,
) -> None:
    """Check a bundle; exit 5 when any check fails."""
    from forensics.bundle.verify import FAILED, Check, open_bundle, outcome, verify_bundle

    if bundle.is_file():
        try:
            open_bundle(bundle)
        except ForensicsError as exc:
            # a bundle that is not a readable zip is a failed verification, not a usage error
            checks = [Check("bundle", FAILED, str(exc))]
            _print_checks(checks, json)
            raise typer.Exit(VERIFY_FAILED_EXIT) from exc
    try:
        with bars() as steps:
            checks = verify_bundle(
                bundle, expected_fingerprint=fingerprint, key=key, sources=sources, reproduce=reproduce,
                progress=steps,
            )  # fmt: skip
    except ForensicsError as exc:
        raise _fail(exc) from exc
    _print_checks(checks, json)
    result = outcome(checks)
    if result == "failed":
        if not json:
            err.print(f"verification FAILED: exit {VERIFY_FAILED_EXIT}")
        raise typer.Exit(VERIFY_FAILED_EXIT)
    if result == "unverified":
        if json:  # the signature line says it; the exit code tells scripts
            raise typer.Exit(VERIFY_UNVERIFIED_EXIT)
        err.print(
            f"every check passed, but the signer is UNVERIFIED (no --fingerprint or --key): exit "
            f"{VERIFY_UNVERIFIED_EXIT}. Anyone can re-sign an edited bundle; get the signer's fingerprint "
            "out of band (the signed certificate carries it) and verify again with --fingerprint."
        )
        raise typer.Exit(VERIFY_UNVERIFIED_EXIT)


def _print_checks(checks: list[Any], as_json: bool) -> None:
    for c in checks:
        if as_json:
            print_json_line(c.to_dict())
        else:
            colour = {"passed": "green", "failed": "red", "skipped": "yellow", "unverified": "magenta"}[
                c.status
            ]
            out.print(
                f"[{colour}]{c.status.upper():10}[/{colour}] {shown(c.name):<11} {shown(c.detail)}",
                highlight=False,
            )


def keygen(
    key: Annotated[
        Path | None, typer.Argument(help="Private key file to write (the public key goes to KEY.pub).")
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="The same as KEY.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing key.")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="The key files and fingerprint as one JSON object.")
    ] = False,
) -> None:
    """Write a new Ed25519 key pair."""
    from forensics.bundle.signing import keygen as make_key

    if (key is None) == (out_path is None):
        say("give the key file once: KEY or -o/--out KEY")
        raise typer.Exit(2)
    key = key or out_path
    assert key is not None
    output_path(key, "KEY")
    try:
        priv, pub, fp = make_key(key, overwrite=force)
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if json:
        print_json_line({"private_key": str(priv), "public_key": str(pub), "fingerprint": fp})
        return
    out.print(f"private key {shown(priv)} (mode 0600)\npublic key  {shown(pub)}\nfingerprint {shown(fp)}")


def _custody_app() -> typer.Typer:
    sub = typer.Typer(
        help="Chain of custody of a case: `custody add CASE ...`, `custody show CASE`.", no_args_is_help=True
    )
    sub.command(
        "add",
        help=(
            "Record a custody event (hash-chained to the one before).\n\nExample: forensics custody add "
            'cases/dims --action received --person "SI Rao" --place "Cyber PS" --purpose analysis'
        ),
    )(custody_add)
    sub.command(
        "show",
        help="List the custody log and check its chain (exit 1 when broken).\n\nExample: forensics custody show cases/dims",
    )(custody_show)
    return sub


CASE_ARG = Annotated[Path, typer.Argument(help="Case directory.")]


def _custody_case(case: Path, create: bool = False) -> Path:
    """The case a custody command works on; exit 1, writing nothing, when the folder is not a case."""
    from forensics.store import DB_NAME, Case

    if (case / DB_NAME).is_file():
        return case
    fresh = not case.exists() or (case.is_dir() and not any(case.iterdir()))
    if create and fresh:
        Case.open(case, create=True).close()
        err.print(f"started case {case}", markup=False, highlight=False)
        return case
    if fresh:
        say(f"{case} is not a case (no {DB_NAME}); `forensics custody add CASE --create` starts one there, "
            "e.g. to record the collection before ingest")  # fmt: skip
    else:
        say(f"{case} is not a case (no {DB_NAME}): custody is kept inside a case; nothing was written")
    raise typer.Exit(1)


def custody_add(
    case: CASE_ARG,
    action: Annotated[
        str,
        typer.Option(
            help="collected | received | hashed | analysed | exported | sealed | verified | transferred"
        ),
    ],
    person: Annotated[str, typer.Option(help="Who did it.")],
    place: Annotated[str, typer.Option(help="Where (location).")],
    purpose: Annotated[str, typer.Option(help="Why.")],
    from_person: Annotated[
        str | None, typer.Option("--from", help="Handed over by (received / transferred).")
    ] = None,
    to_person: Annotated[str | None, typer.Option("--to", help="Handed over to.")] = None,
    storage: Annotated[str | None, typer.Option(help="Where the evidence is kept now.")] = None,
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="Evidence id (repeatable).")
    ] = None,
    item_hash: Annotated[
        list[str] | None, typer.Option("--hash", help="ITEM=SHA256 of an item handled (repeatable).")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free text.")] = None,
    create: Annotated[
        bool,
        typer.Option(help="Start the case if the folder does not exist or is empty (custody before ingest)."),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="The entry as one JSON object.")] = False,
) -> None:
    """Append one entry to the case's custody log."""
    from forensics.custody import append_entry

    hashes = {}
    for h in item_hash or []:
        item, sep, digest = h.partition("=")
        digest = digest.strip().lower()
        if not sep or not item or not re.fullmatch(r"[0-9a-f]{64}", digest):
            say(f"--hash {h!r} is not ITEM=SHA256 (64 hex digits)")
            raise typer.Exit(2)
        hashes[item] = digest
    case = _custody_case(case, create=create)
    try:
        entry = append_entry(
            case, action, person=person, location=place, purpose=purpose, from_person=from_person,
            to_person=to_person, storage=storage, evidence_ids=evidence or [], item_hashes=hashes, notes=notes,
            command=sys.argv,
        )  # fmt: skip
    except (ValueError, ForensicsError) as exc:
        raise _fail(exc) from exc
    if json:
        print_json_line(entry)
        return
    out.print(
        shown(f"custody entry {entry['seq']} ({entry['action']}) {entry['time_utc']} / {entry['time_ist']}")
    )
    out.print(f"  entry_sha256 {entry['entry_sha256']}")


def custody_show(
    case: CASE_ARG,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per entry.")] = False,
) -> None:
    """Print the custody log; exit 1 when its chain is broken."""
    from forensics.custody import read_chain, verify_chain

    try:
        entries = read_chain(_custody_case(case))
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if json:
        for e in entries:
            print_json_line(e)
    else:
        t = Table("seq", "UTC", "IST", "action", "person", "place", "purpose", "entry")
        for e in entries:
            t.add_row(shown(e.get("seq")), shown(e.get("time_utc")), shown(e.get("time_ist")), shown(e.get("action")),
                      shown(e.get("person")), shown(e.get("location")), shown(e.get("purpose")),
                      shown(str(e.get("entry_sha256"))[:16]))  # fmt: skip
        out.print(t)
    problems = verify_chain(entries)
    for p in problems:
        err.print(f"broken: {shown(p)}")
    if problems:
        raise typer.Exit(1)
    err.print(f"{len(entries)} entries, chain intact")
