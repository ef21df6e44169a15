"""The HTML report: self-contained, escaped, deterministic, with every section."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.report import render_report

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib puts no test folder on sys.path
from casekit import XSS, at, attack_case, build_case


class _Tags(HTMLParser):
    """Collects start tags with their attributes, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture
def html(tmp_path: Path) -> str:
    case, _ = attack_case(tmp_path / "case")
    text = render_report(case)
    case.close()
    return text


def test_report_has_every_section(html: str) -> None:
    for anchor in ("summary", "timeline", "lateral", "phases", "attack", "iocs", "findings", "integrity", "logons",
                   "eid-metrics", "inputs", "navigator"):  # fmt: skip
        assert f'<section id="{anchor}">' in html
    assert '<svg id="timeline-chart"' in html and html.count('class="finding-dot"') == 7
    assert (
        '<svg id="lateral-graph"' in html and html.count('<g class="edge">') == 4
    )  # one arrow per host pair
    assert "Patient zero" in html and "DC01</span> held against 25 failed logons" in html
    assert "FS01 +300.4 s" in html  # clock correction shown
    assert "T1490" in html and "Inhibit System Recovery" in html


def test_log_content_is_escaped(html: str) -> None:
    parser = _Tags()
    parser.feed(html)
    # exactly one script element: ours; the payload never becomes a tag
    assert [t for t, _ in parser.tags].count("script") == 1
    assert all(t != "xss-ran" for t, _ in parser.tags)
    assert "document.title" not in "".join(parser.scripts)
    assert XSS not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;" in html  # Jinja2's autoescaping (MarkupSafe)


def test_no_outside_references(html: str) -> None:
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        for name in ("src", "href", "action", "data", "xlink:href"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:|//|ftp:)", value, re.IGNORECASE), (tag, name, value)
    assert not any(t in ("link", "iframe", "img", "object", "embed") for t, _ in parser.tags)
    csp = next(
        a["content"]
        for t, a in parser.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "@import" not in html
    assert not re.search(r"url\((?!#)", html)  # only in-document references such as url(#tl-arrow)


def test_report_is_deterministic(tmp_path: Path) -> None:
    case, _ = attack_case(tmp_path / "a" / "case")
    first = render_report(case)
    assert render_report(case) == first
    case.close()
    case, _ = attack_case(tmp_path / "b" / "case")  # the same content built again elsewhere
    second = render_report(case)
    case.close()
    assert first == second


def test_report_of_a_case_without_findings(tmp_path: Path) -> None:
    case = build_case(tmp_path / "quiet", [{"host": "H1", "ts": at(0), "event_id": 4624, "user_name": "bob"}])
    text = render_report(case)
    case.close()
    assert "No findings: run `forensics hunt` first." in text
    assert "No lateral movement was found" in text


def test_case_whose_parts_lack_core_columns(tmp_path: Path) -> None:
    """Parts leave out core columns they never fill; the ``events`` view still has every one."""
    from forensics.story import build_story
    from forensics.timeline import build_timeline

    drop = ("ts_assumed", "ts_year_inferred", "rec_line", "process_pid", "parent_pid", "user_name", "message")
    case = build_case(tmp_path / "c", [{"host": "H1", "ts": at(0), "event_id": 4624}], drop=drop)
    assert "ts_assumed" in {r[0] for r in case.con.execute("DESCRIBE events").fetchall()}
    assert case.con.execute("SELECT count(ts_assumed) FROM events").fetchone() == (0,)
    assert build_timeline(case, "full").num_rows == 1
    assert build_story(case).span["hosts"] == 1
    assert "<svg" in render_report(case)
    case.close()


def test_cli_report_writes_html_and_layer(tmp_path: Path) -> None:
    case, _ = attack_case(tmp_path / "case")
    case.close()
    out, lay = tmp_path / "out" / "r.html", tmp_path / "out" / "layer.json"
    res = CliRunner().invoke(app, ["report", str(tmp_path / "case"), "--out", str(out), "--layer", str(lay)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert '"techniqueID": "T1490"' in lay.read_text(encoding="utf-8")


def test_drawings_escape_host_and_account_names() -> None:
    from forensics.report.svg import lateral_graph, timeline_chart

    bad = '<img src=x onerror="alert(1)">'
    edge = {"source": bad, "target": "FS01", "account": bad, "method": "RDP", "count": 1,
            "first_utc": "2024-03-05T09:00:00.000000Z", "source_ip": None}  # fmt: skip
    finding = {"host": bad, "level": "high", "title": bad, "first_utc": "2024-03-05T09:00:00.000000Z",
               "last_utc": "2024-03-05T09:01:00.000000Z"}  # fmt: skip
    cov = [
        {"host": bad, "first_utc": "2024-03-05T08:00:00.000000Z", "last_utc": "2024-03-05T10:00:00.000000Z"}
    ]
    for svg in (lateral_graph([edge], bad, {bad}), timeline_chart([finding], cov, [edge], {bad: 5.0})):
        assert "<img" not in svg and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in svg


def test_templates_compiled_once_per_machine_give_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's templates are compiled into the user's cache folder once; a report rendered from
    them is the report compiled afresh gives, and a cache folder that cannot be written (or none at
    all, FORENSICS_CACHE_DIR=) only means compiling again."""
    from forensics.report.templating import ENV, UserBytecodeCache

    case, _ = attack_case(tmp_path / "case")
    monkeypatch.setenv("FORENSICS_CACHE_DIR", "")
    ENV.cache.clear()  # type: ignore[union-attr]
    fresh = render_report(case)
    assert UserBytecodeCache.folder() is None

    monkeypatch.setenv("FORENSICS_CACHE_DIR", str(tmp_path / "cache"))
    ENV.cache.clear()  # type: ignore[union-attr]
    assert render_report(case) == fresh
    folder = UserBytecodeCache.folder()
    assert folder is not None
    kept = sorted(folder.iterdir())
    assert len(kept) == len(ENV.list_templates())  # one compiled entry per template
    ENV.cache.clear()  # type: ignore[union-attr]
    assert render_report(case) == fresh  # rendered from the cache this time
    assert sorted(folder.iterdir()) == kept

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FORENSICS_CACHE_DIR", str(blocker))  # the cache cannot be made under a file
    ENV.cache.clear()  # type: ignore[union-attr]
    assert render_report(case) == fresh
    case.close()
