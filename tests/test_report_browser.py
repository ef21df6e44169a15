"""The report in headless Chromium: the XSS payload stays inert, no console errors, no outside requests,
and the screenshot holds the timeline chart and the lateral-movement graph.

Needs the Debian ``chromium`` package. Skipped with a reason when it is absent, except under CI=true.
Outside requests are read from Chromium's net log: a request the page made carries the page's
``file://`` network-isolation key, which tells it apart from the browser's own background traffic.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from forensics.report import write_report

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib puts no test folder on sys.path
from casekit import attack_case

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
)  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of the chromium binary (skip when absent, fail under CI=true)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); browser checks skipped")
    return exe


def _run(exe: str, tmp: Path, page: Path, *extra: str) -> tuple[str, str, list[str]]:
    """Load ``page``; returns (stdout, stderr, URLs the page itself requested)."""
    netlog = tmp / f"net-{len(list(tmp.glob('net-*')))}.json"
    proc = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={netlog}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr, _page_requests(netlog)


def _page_requests(netlog: Path) -> list[str]:
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):  # Chromium may leave the events array open when it exits
        text += "]}"
    log = json.loads(text)
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for ev in log.get("events", []):
        p = ev.get("params") or {}
        from_page = "file://" in str(p.get("network_isolation_key", ""))
        if ev.get("type") == start and from_page and not str(p.get("url", "")).startswith("file:"):
            urls.append(p["url"])
    return urls


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _png_size(png: Path) -> tuple[int, int]:
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    case, _ = attack_case(tmp / "case")
    out = write_report(case, tmp / "report.html")
    case.close()
    return out


def test_detectors_catch_a_bad_page(chromium: str, tmp_path: Path) -> None:
    """Control: the checks below do see a page that errors, fetches and runs injected script."""
    bad = tmp_path / "bad.html"
    bad.write_text('<html><head><title>t</title></head><body><img src="http://127.0.0.1:9/x.png">'
                   "<script>document.title='pwned'; missing();</script></body></html>")  # fmt: skip
    dom, err, urls = _run(chromium, tmp_path, bad, "--dump-dom")
    assert "http://127.0.0.1:9/x.png" in urls
    assert any("Uncaught" in line for line in _console(err))
    assert "<title>pwned</title>" in dom


def test_xss_payload_is_inert_and_page_is_clean(chromium: str, report: Path, tmp_path: Path) -> None:
    dom, err, urls = _run(chromium, tmp_path, report, "--dump-dom")
    assert "<title>Incident report: case</title>" in dom  # the payload would have set it to 'pwned'
    assert "<xss-ran" not in dom  # ... and added this element
    assert "&lt;script&gt;document.title='pwned'" in dom  # shown as text instead
    assert _console(err) == []  # no errors, no CSP violations, nothing logged
    assert urls == []  # no request left the page
    # both drawings are in the live DOM
    assert 'id="timeline-chart"' in dom and 'class="finding-dot"' in dom
    assert 'id="lateral-graph"' in dom and 'class="edge"' in dom


def test_screenshot_shows_chart_and_graph(chromium: str, report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    _, err, urls = _run(chromium, tmp_path, report, f"--screenshot={png}", "--window-size=1400,2400")
    assert png.exists() and png.stat().st_size > 50_000  # a drawn page, not a blank one
    assert _png_size(png) == (1400, 2400)
    assert _console(err) == [] and urls == []
