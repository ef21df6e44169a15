"""The Sigma log-source and field mapping is data: two pySigma processing pipelines.

pySigma loads them (its own loader) and decides which items apply to a log source; these tests
check that what our planner gets is what pySigma's own application of the pipelines says, for
every log source of the SigmaHQ rules, and pin the predicates of the common log sources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from forensics.hunt.sigma import pipeline as pl
from forensics.hunt.sigma.cache import CODE_STAMP
from forensics.hunt.sigma.pipeline import field_candidates, load_pipeline, map_logsource

WIN = "source IN ('evtx', 'winxml', 'evtxjson', 'hayabusa', 'winbeats')"
LINUX_CH = "channel IN ('auditd', 'auth', 'syslog', 'journal', 'cron', 'secure', 'messages', 'kern')"


def test_pipelines_are_pysigma_pipelines() -> None:
    for name in ("logsources", "fields"):
        p = load_pipeline(name)
        assert isinstance(p, ProcessingPipeline) and p.items
        assert all(item.identifier for item in p.items)  # every item named, for reports and edits
        ids = [item.identifier for item in p.items]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("logsource", "predicate"),
    [
        (
            ("windows", "process_creation", None),
            f"category IN ('process_creation') AND ({WIN} OR NOT {LINUX_CH})",
        ),
        (("windows", None, "security"), "channel IN ('Security')"),
        ((None, None, "sysmon"), "channel IN ('Microsoft-Windows-Sysmon/Operational')"),
        (
            ("windows", None, "powershell"),
            "channel IN ('Microsoft-Windows-PowerShell/Operational', 'PowerShellCore/Operational')",
        ),
        (("linux", None, "sshd"), "(provider IN ('sshd'))"),
        (("linux", None, "auditd"), "(channel IN ('auditd'))"),
        (("linux", "process_creation", None), f"category IN ('process_creation') AND NOT {WIN}"),
        (
            ("windows", "registry_event", None),
            "category IN ('registry_add', 'registry_delete', 'registry_set', 'registry_rename') "
            f"AND ({WIN} OR NOT {LINUX_CH})",
        ),
        (
            ("windows", "antivirus", None),
            "(category = 'antivirus' OR (channel IN ('Microsoft-Windows-Windows Defender/Operational') AND "
            f"event_id IN (1006, 1007, 1008, 1009, 1010, 1116, 1117, 1118, 1119))) AND ({WIN} OR NOT {LINUX_CH})",
        ),
    ],
)
def test_common_log_sources_keep_their_predicates(
    logsource: tuple[str | None, str | None, str | None], predicate: str
) -> None:
    got = map_logsource(*logsource)
    assert got.predicate == predicate and got.reason is None


def test_registry_delete_and_add_split_by_event_type() -> None:
    assert map_logsource("windows", "registry_delete", None).field_prefixes == (
        ("EventType", "delete", True),
    )
    assert map_logsource("windows", "registry_add", None).field_prefixes == (("EventType", "delete", False),)
    assert map_logsource("windows", "registry_set", None).field_prefixes == ()


@pytest.mark.parametrize(
    ("logsource", "reason"),
    [
        (
            ("windows", None, "nosuchservice"),
            "log source service 'nosuchservice' of product 'windows' is not mapped",
        ),
        (("macos", None, "security"), "log source service 'security' of product 'macos' is not mapped"),
        (("linux", None, "security"), "log source service 'security' of product 'linux' is not mapped"),
        (("macos", None, None), "log source product 'macos' is not collected by any parser"),
    ],
)
def test_unmapped_log_sources_say_why(
    logsource: tuple[str | None, str | None, str | None], reason: str
) -> None:
    got = map_logsource(*logsource)
    assert got.predicate is None and got.reason == reason


def test_field_names_map_by_category() -> None:
    assert field_candidates("EventID", None) == ("event_id",)
    assert field_candidates("computername", "network_connection") == ("host", "ComputerName")
    assert field_candidates("Image", "process_creation") == ("Image", "NewProcessName", "process_image")
    assert field_candidates("image", "image_load") == ("image",)  # elsewhere Image is what the event says
    assert field_candidates("TargetFilename", "file_event") == ("TargetFilename",)


def test_a_pipeline_edit_we_cannot_carry_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("logsources", "fields"):
        (tmp_path / f"{name}.yml").write_text((pl.PIPELINES / f"{name}.yml").read_text())
    with (tmp_path / "logsources.yml").open("a") as fh:
        fh.write(
            "  - id: bad\n    type: add_condition\n    conditions:\n      Image|contains: x\n"
            "    rule_conditions:\n      - type: logsource\n        category: odd_category\n"
        )
    monkeypatch.setattr(pl, "PIPELINES", tmp_path)
    for f in (pl.load_pipeline, pl._added, pl._field_maps):
        f.cache_clear()
    try:
        with pytest.raises(ValueError, match="pipeline item bad"):
            map_logsource("windows", "odd_category", None)
        assert map_logsource("windows", "process_creation", None).predicate  # the rest still maps
    finally:
        for f in (pl.load_pipeline, pl._added, pl._field_maps):
            f.cache_clear()


def test_the_pipelines_are_part_of_the_rule_cache_stamp() -> None:
    import hashlib

    here = Path(pl.__file__).parent
    files = sorted([*here.glob("*.py"), *here.glob("pipelines/*.yml")])
    assert any(f.suffix == ".yml" for f in files)
    assert hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16] == CODE_STAMP


Added = set[tuple[str, tuple[str, ...], bool]]  # (field with modifiers, values, negated)


def _norm(fld: str, values: list[str], negated: bool) -> tuple[str, tuple[str, ...], bool]:
    if "|" in fld:  # a modifier's value compares case-insensitively
        values = [v.lower() for v in values]
    return fld, tuple(sorted(values)), negated


def _applied_by_pysigma(product: str | None, category: str | None, service: str | None) -> Added:
    """What pySigma's own ``ProcessingPipeline.apply`` adds to a rule of this log source."""
    ls = {k: v for k, v in (("product", product), ("category", category), ("service", service)) if v}
    rule = SigmaRule.from_dict(
        {"title": "t", "logsource": ls, "detection": {"x": {"x": 1}, "condition": "x"}}
    )
    path = pl.PIPELINES / "logsources.yml"  # a fresh pipeline: apply() keeps state
    pipeline = ProcessingPipeline.from_yaml(path.read_text(encoding="utf-8"), source_path=str(path))
    pipeline.apply(rule)
    cond = rule.detection.parsed_condition[0].condition  # pySigma rewrites the parsed condition
    out: Added = set()
    for name, det in rule.detection.detections.items():
        if name == "x":
            continue
        for item in det.detection_items:
            mods = "".join(
                "|" + m.__name__.removeprefix("Sigma").removesuffix("Modifier").lower()
                for m in item.modifiers
            )
            # a startswith value reads with the wildcard the modifier appended
            vals = [
                str(v.to_plain()).removesuffix("*") if hasattr(v, "to_plain") else str(v.number)
                for v in item.value
            ]
            out.add(_norm(f"{item.field}{mods}", vals, f"not {name}" in cond))
    return out


def _ours(product: str | None, category: str | None, service: str | None) -> Added:
    got = pl._added(product, category, service)
    out = {_norm(col, [str(v) for v in vals], False) for col, vals in got.columns.items()}
    return out | {
        _norm(f"{fld}|startswith", [prefix], not positive) for fld, prefix, positive in got.prefixes
    }


@pytest.mark.slow
def test_every_sigmahq_log_source_reads_as_pysigma_applies_it(shared_data: Path) -> None:
    """Bounded: one YAML parse per SigmaHQ rule (~2,600, a few seconds) and one pipeline
    application per distinct log source (~70)."""
    seen: set[tuple[str | None, ...]] = set()
    for f in sorted((shared_data / "sigma" / "rules").rglob("*.yml")):
        for doc in yaml.load_all(f.read_text(encoding="utf-8", errors="replace"), Loader=yaml.CSafeLoader):
            ls = doc.get("logsource") if isinstance(doc, dict) else None
            if isinstance(ls, dict):
                seen.add(
                    tuple(
                        str(ls[k]).lower() if ls.get(k) else None for k in ("product", "category", "service")
                    )
                )
    assert len(seen) > 50
    unmapped = []
    for product, category, service in sorted(seen, key=str):
        got = map_logsource(product, category, service)
        if got.predicate is None:
            unmapped.append((product, category, service, got.reason))
        probes = [(None, category, None)] if category else []
        if service:  # a service without a product is a Windows one
            probes.append((product or "windows", None, service))
        for probe in probes:
            assert _ours(*probe) == _applied_by_pysigma(*probe), probe
    assert all(reason for *_, reason in unmapped)
    assert len(unmapped) <= 5, unmapped  # SigmaHQ's log sources map, save a few exotic services
