"""The rule supply: `rules update` fetches SigmaHQ's release package, verifies it and pins it;
`--from DIR|ZIP` installs a local copy; `rules list` shows them; nothing installed is overwritten.

The download path is tested against a local stand-in for GitHub's release API on 127.0.0.1 (the
archives it serves are built here from rules in ../shared/data/sigma/rules); no test reaches the
internet. Cost: a few seconds (small rule subsets; the full 2,617-rule install is in
tests/test_rule_supply_e2e.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forensics import rulesets
from forensics.cli import app
from forensics.rulesets import RuleSupplyError

SUBSET = "windows/builtin/security/account_management"  # a few dozen rules


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test installs into its own data folder."""
    folder = tmp_path / "data"
    monkeypatch.setenv(rulesets.DATA_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def subset(shared_data: Path) -> Path:
    folder = shared_data / "sigma" / "rules" / SUBSET
    assert len(list(folder.rglob("*.yml"))) >= 10
    return folder


def _release_zip(rules: Path, prefix: str = "rules/windows/builtin/security/account_management") -> bytes:
    """A zip laid out as SigmaHQ's release packages are (rules/<category>/...)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(rules.rglob("*.yml")):
            zf.writestr(f"{prefix}/{f.relative_to(rules).as_posix()}", f.read_bytes())
        zf.writestr("LICENSE.Detection.Rules.md", "Detection Rule License (DRL) 1.1\n")
    return buf.getvalue()


@dataclass
class FakeGitHub:
    """A stand-in for api.github.com's release endpoints and the asset downloads."""

    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> release JSON
    blobs: dict[str, bytes] = field(default_factory=dict)  # path -> asset bytes
    hits: list[str] = field(default_factory=list)
    root: str = ""

    def release(self, tag: str, assets: dict[str, bytes], *, latest: bool = False, digest: bool = True,
                served: dict[str, bytes] | None = None, size: int | None = None) -> None:  # fmt: skip
        """Publish ``assets`` under ``tag``; ``served`` overrides the bytes downloaded (tampering)."""
        listed = []
        for name, data in assets.items():
            path = f"/download/{tag}/{name}"
            self.blobs[path] = (served or {}).get(name, data)
            item = {"name": name, "size": size if size is not None else len(data),
                    "browser_download_url": self.root + path}  # fmt: skip
            if digest:
                item["digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
            listed.append(item)
        body = {"tag_name": tag, "assets": listed}
        self.releases[f"/repos/SigmaHQ/sigma/releases/tags/{tag}"] = body
        if latest:
            self.releases["/repos/SigmaHQ/sigma/releases/latest"] = body


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.hits.append(self.path)
            if self.path in fake.releases:
                body, kind = json.dumps(fake.releases[self.path]).encode(), "application/json"
            elif self.path in fake.blobs:
                body, kind = fake.blobs[self.path], "application/zip"
            else:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.root = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(rulesets.GITHUB_API_ENV, fake.root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["rules", *args])


def test_update_downloads_the_latest_package_checks_githubs_digest_and_pins_it(
    github: FakeGitHub, subset: Path, _data_dir: Path
) -> None:
    data = _release_zip(subset)
    github.release("r2099-01-01", {"sigma_core.zip": data, "sigma_all_rules.zip": data}, latest=True)
    res = _cli("update", "--package", "core")
    assert res.exit_code == 0, res.output
    assert "SHA-256 matches GitHub's published digest" in res.output
    s = rulesets.current()
    assert s is not None
    rules = sorted(subset.rglob("*.yml"))
    assert (s.version, s.package, s.digest) == ("r2099-01-01", "sigma_core.zip", "github")
    assert s.archive_sha256 == s.sha256 == hashlib.sha256(data).hexdigest()
    assert s.files == s.rules == len(rules) and s.converted + s.skipped + s.failed == s.rules
    assert s.path == _data_dir / "rules" / "sigmahq" / f"r2099-01-01-{s.sha256[:12]}"
    installed = s.rules_dir / "rules" / "windows" / "builtin" / "security" / "account_management"
    assert (installed / rules[0].name).read_bytes() == rules[0].read_bytes()
    assert (s.path / "LICENSE.Detection.Rules.md").is_file()  # the licence travels with the rules
    pinned = json.loads((s.path / "ruleset.json").read_text())
    assert pinned["sha256"] == s.sha256 and pinned["tree_sha256"] == s.tree_sha256

    again = _cli("update", "--package", "core")  # the same release: no second download
    assert again.exit_code == 0 and "already installed" in again.output
    assert sum(h.startswith("/download/") for h in github.hits) == 1


def test_a_tampered_download_is_refused_and_nothing_changes(github: FakeGitHub, subset: Path) -> None:
    good = _release_zip(subset)
    github.release("r2099-01-01", {"sigma_all_rules.zip": good}, latest=True)
    assert _cli("update").exit_code == 0
    before = rulesets.installed()
    evil = good.replace(b"account", b"acc0unt", 1)
    github.release("r2099-02-01", {"sigma_all_rules.zip": good}, latest=True, served={"sigma_all_rules.zip": evil})
    res = _cli("update")
    assert res.exit_code == 1
    assert "differs from GitHub's digest" in res.output and "not installed" in res.output
    assert rulesets.installed() == before and rulesets.current() == before[0]
    assert not list((rulesets.data_dir() / "rules" / "sigmahq").glob(".staging-*"))  # no half install


def test_a_short_download_is_refused(github: FakeGitHub, subset: Path) -> None:
    data = _release_zip(subset)
    github.release("r2099-01-01", {"sigma_all_rules.zip": data}, latest=True, size=len(data) + 10)
    res = _cli("update")
    assert res.exit_code == 1 and f"got {len(data)} bytes, the release says {len(data) + 10}" in res.output
    assert rulesets.installed() == []


def test_an_older_release_without_a_digest_is_pinned_by_the_sha256_given(github: FakeGitHub, subset: Path) -> None:
    data = _release_zip(subset)
    sha = hashlib.sha256(data).hexdigest()
    github.release("r2023-06-01", {"sigma_core+.zip": data}, digest=False)
    wrong = _cli("update", "--package", "core+", "--version", "r2023-06-01", "--sha256", "0" * 64)
    assert wrong.exit_code == 1 and "differs from --sha256" in wrong.output
    res = _cli("update", "--package", "core+", "--version", "r2023-06-01", "--sha256", sha.upper())
    assert res.exit_code == 0, res.output
    s = rulesets.current()
    assert s is not None and (s.version, s.digest, s.sha256) == ("r2023-06-01", "given", sha)
    assert "/repos/SigmaHQ/sigma/releases/tags/r2023-06-01" in github.hits


def test_without_any_digest_the_install_says_nothing_checked_the_hash(github: FakeGitHub, subset: Path) -> None:
    github.release("r2023-06-01", {"sigma_all_rules.zip": _release_zip(subset)}, latest=True, digest=False)
    res = _cli("update")
    assert res.exit_code == 0 and "no published digest" in res.output
    assert rulesets.current() is not None and rulesets.current().digest == "none"  # type: ignore[union-attr]


def test_missing_package_and_unreachable_api_are_errors_that_say_what_to_do(
    github: FakeGitHub, subset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.release("r2099-01-01", {"sigma_core.zip": _release_zip(subset)}, latest=True)
    res = _cli("update", "--package", "core++")
    assert res.exit_code == 1 and "has no sigma_core++.zip (its assets: sigma_core.zip)" in res.output
    assert _cli("update", "--version", "r1999-01-01").exit_code == 1
    monkeypatch.setenv(rulesets.GITHUB_API_ENV, "http://127.0.0.1:9")  # nothing listens on discard
    res = _cli("update")
    assert res.exit_code == 1 and "cannot reach" in res.output and "--from DIR|ZIP" in res.output
    assert _cli("update", "--package", "everything").exit_code == 2


@pytest.mark.parametrize(
    ("member", "why"),
    [("../escape.yml", "points outside the set"), ("/etc/cron.d/x.yml", "points outside the set")],
)
def test_an_archive_with_a_member_outside_the_set_is_refused(tmp_path: Path, member: str, why: str) -> None:
    archive = tmp_path / "sigma_all_rules.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("rules/windows/ok.yml", "title: ok\n")
        zf.writestr(member, "title: bad\n")
    with pytest.raises(RuleSupplyError, match=why):
        rulesets.install_local(archive)
    assert rulesets.installed() == [] and not (tmp_path / "escape.yml").exists()


def test_a_damaged_archive_is_refused(tmp_path: Path, subset: Path) -> None:
    data = bytearray(_release_zip(subset))
    data[200:260] = bytes(60)  # inside the first member's compressed bytes
    archive = tmp_path / "sigma_all_rules.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(RuleSupplyError, match=r"damaged|not a readable zip"):
        rulesets.install_local(archive)
    assert rulesets.installed() == []


def test_from_zip_and_from_folder_install_side_by_side_and_list_shows_them(tmp_path: Path, subset: Path) -> None:
    archive = tmp_path / "sigma_core.zip"
    archive.write_bytes(_release_zip(subset))
    first = _cli("update", "--from", str(archive), "--version", "r2099-03-01")
    assert first.exit_code == 0, first.output
    second = _cli("update", "--from", str(subset))
    assert second.exit_code == 0, second.output
    zipped, folder = rulesets.installed()
    assert (zipped.package, zipped.digest, zipped.version) == ("sigma_core.zip", "none", "r2099-03-01")
    assert (folder.package, folder.digest, folder.version, folder.archive_sha256) == (None, "folder", "local", None)
    assert folder.sha256 == folder.tree_sha256 and folder.files == zipped.files
    assert rulesets.current() == folder  # the newest install is current
    listed = [json.loads(line) for line in _cli("list", "--json").stdout.splitlines()]
    assert [(d["set_id"], d["current"]) for d in listed] == [(zipped.set_id, False), (folder.set_id, True)]
    table = _cli("list").stdout
    assert zipped.set_id[:20] in table and "(folder)" in table
    assert _cli("use", "r2099-03-01").exit_code == 0 and rulesets.current() == zipped
    assert _cli("use", "r1990").exit_code == 1


def test_a_sigmahq_checkout_installs_its_rules_folders_only(tmp_path: Path, subset: Path) -> None:
    checkout = tmp_path / "sigma"
    for top in ("rules", "rules-emerging-threats", "rules-placeholder", "deprecated", ".github"):
        (checkout / top).mkdir(parents=True)
    rules = sorted(subset.rglob("*.yml"))
    (checkout / "rules" / rules[0].name).write_bytes(rules[0].read_bytes())
    (checkout / "rules-emerging-threats" / rules[1].name).write_bytes(rules[1].read_bytes())
    for skipped in ("rules-placeholder", "deprecated", ".github"):
        (checkout / skipped / "x.yml").write_text("title: not installed\n")
    done = rulesets.install_local(checkout)
    got = sorted(p.relative_to(done.rule_set.rules_dir).as_posix() for p in done.rule_set.rules_dir.rglob("*.yml"))
    assert got == [f"rules-emerging-threats/{rules[1].name}", f"rules/{rules[0].name}"]


def test_an_installed_set_is_never_overwritten(tmp_path: Path, subset: Path) -> None:
    one = rulesets.install_local(subset).rule_set
    before = {p: p.read_bytes() for p in one.path.rglob("*") if p.is_file()}
    again = rulesets.install_local(subset)
    assert not again.new and again.rule_set == one
    assert {p: p.read_bytes() for p in one.path.rglob("*") if p.is_file()} == before


def test_list_with_nothing_installed_says_how_to_get_a_set() -> None:
    res = _cli("list")
    assert res.exit_code == 0 and "no rule set installed" in res.output and "forensics rules update" in res.output
