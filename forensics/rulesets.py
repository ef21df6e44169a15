"""The rule supply: SigmaHQ's release archives fetched, verified and pinned in the user's data folder.

A responder expects the tool to come with its rules, as Hayabusa (``update-rules``) and Chainsaw
(bundled rules) do. ``forensics rules update`` downloads one of the rule packages SigmaHQ attaches
to every GitHub release (``sigma_core.zip``, ``sigma_core+.zip``, ``sigma_core++.zip``,
``sigma_emerging_threats_addon.zip``, ``sigma_all_rules.zip``), checks its size and SHA-256
against the digest GitHub publishes for the asset (and against ``--sha256`` when given), checks
every member, converts the rules once to count what converts, and installs the set under
``<data>/rules/sigmahq/<version>-<sha12>/`` with a ``ruleset.json`` that pins it. ``--from DIR|ZIP``
installs a local copy the same way (no network). Installed sets are never overwritten or
removed: a newer one is installed beside them and becomes the current set, named in
``<data>/rules/current.json``.

``<data>`` is ``$FORENSICS_DATA_DIR``, else ``$XDG_DATA_HOME/forensics``, else
``~/.local/share/forensics``.

Why not a library: the only client SigmaHQ offers is ``sigma-cli``'s converter, which does not
install or pin rule packages; downloading one asset and checking it is a few stdlib calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from forensics import __version__
from forensics.errors import ForensicsError
from forensics.timeutil import iso_utc, now_utc

DATA_ENV = "FORENSICS_DATA_DIR"
GITHUB_API_ENV = "FORENSICS_GITHUB_API"  # another API root (a mirror; the tests' local server)
GITHUB_API = "https://api.github.com"
SIGMAHQ_REPO = "SigmaHQ/sigma"
SOURCE = "sigmahq"
SET_FILE = "ruleset.json"
CURRENT_FILE = "current.json"
RULE_SUFFIXES = (".yml", ".yaml")
# SigmaHQ's release packages (see Releases.md in its repository): name -> asset file name
PACKAGES: dict[str, str] = {
    "core": "sigma_core.zip",  # test/stable, high/critical
    "core+": "sigma_core+.zip",  # test/stable, medium and up
    "core++": "sigma_core++.zip",  # experimental and up, medium and up
    "emerging-threats": "sigma_emerging_threats_addon.zip",
    "all": "sigma_all_rules.zip",  # core++ and the emerging-threats rules
}
DEFAULT_PACKAGE = "all"  # a forensic hunt wants every rule worth reading, not only alerting-grade ones
# Folders of a SigmaHQ checkout that hold detection rules; rules-placeholder needs a placeholder config
CHECKOUT_FOLDERS = re.compile(r"^rules(-[a-z-]+)?$")
SKIPPED_CHECKOUT_FOLDERS = ("rules-placeholder",)
MAX_ARCHIVE = 256 << 20  # bytes: the all-rules package is a few MB
MAX_UNPACKED = 1 << 30  # bytes of rule files in one set
MAX_MEMBERS = 100_000
TIMEOUT = 60  # seconds per network read

Digest = Literal["github", "given", "github+given", "none", "folder"]
Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


class RuleSupplyError(ForensicsError):
    """A rule set cannot be fetched, verified or installed."""


@dataclass(frozen=True)
class RuleSet:
    """One installed rule set, as pinned in its ``ruleset.json``."""

    source: str  # "sigmahq"
    version: str  # the release tag (r2025-01-01), or "local" for a local copy given no --version
    package: str | None  # the release asset's file name, or None for a folder
    origin: str  # the URL it was downloaded from, or the local path given
    archive_sha256: str | None  # of the archive as downloaded or given (None for a folder)
    digest: Digest  # what the archive hash was checked against
    tree_sha256: str  # over the installed rule files: sorted (path, SHA-256) pairs
    files: int  # rule files installed
    rules: int  # rule documents in them
    converted: int
    skipped: int
    failed: int
    installed_utc: str
    tool_version: str
    path: Path  # the folder holding the set (ruleset.json and rules/)

    @property
    def set_id(self) -> str:
        """The set's folder name: version and the first 12 hex digits of its pinned SHA-256."""
        return f"{_safe(self.version)}-{self.sha256[:12]}"

    @property
    def sha256(self) -> str:
        """The SHA-256 the set is pinned by: the archive's when it came as one, else the rule files'."""
        return self.archive_sha256 or self.tree_sha256

    @property
    def rules_dir(self) -> Path:
        """The folder to hunt with (``--sigma`` would be given this)."""
        return self.path / "rules"

    def label(self) -> str:
        """One line for people: source, version, package and SHA-256."""
        pkg = f" {self.package}" if self.package else ""
        return f"SigmaHQ {self.version}{pkg} (sha256 {self.sha256[:16]}…)"

    def to_record(self) -> dict[str, Any]:
        """The set as recorded in ``ruleset.json`` and in a hunt's run record."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["set_id"] = self.set_id
        d["sha256"] = self.sha256
        return d

    @classmethod
    def from_record(cls, d: dict[str, Any], path: Path) -> RuleSet:
        """Read a ``ruleset.json`` (the folder it is in is the set's path)."""
        names = {f for f in cls.__dataclass_fields__ if f != "path"}
        return cls(**{k: d[k] for k in names}, path=path)


def data_dir() -> Path:
    """The user's data folder for this tool (rule sets live under ``rules/``)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "forensics"


def _sets_root() -> Path:
    return data_dir() / "rules"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)[:80] or "set"


# --- listing -------------------------------------------------------------------------------------


def installed() -> list[RuleSet]:
    """Every installed set, oldest first (a folder whose ``ruleset.json`` is unreadable is an error)."""
    root = _sets_root() / SOURCE
    if not root.is_dir():
        return []
    sets = []
    for folder in sorted(root.iterdir()):
        marker = folder / SET_FILE
        if folder.is_dir() and marker.is_file():
            try:
                sets.append(RuleSet.from_record(json.loads(marker.read_text(encoding="utf-8")), folder))
            except (ValueError, KeyError, TypeError) as exc:
                raise RuleSupplyError(f"damaged rule set record {marker}: {exc}") from exc
    return sorted(sets, key=lambda s: (s.installed_utc, s.set_id))


def current() -> RuleSet | None:
    """The set ``hunt`` uses when no ``--sigma`` is given, or None when none is installed."""
    pointer = _sets_root() / CURRENT_FILE
    if not pointer.is_file():
        return None
    try:
        set_id = json.loads(pointer.read_text(encoding="utf-8"))[SOURCE]
    except (ValueError, KeyError, TypeError) as exc:
        raise RuleSupplyError(f"damaged {pointer}: {exc}") from exc
    for s in installed():
        if s.set_id == set_id:
            if not s.rules_dir.is_dir():
                raise RuleSupplyError(f"the current rule set {s.set_id} has no rules folder at {s.rules_dir}")
            return s
    raise RuleSupplyError(f"{pointer} names {set_id!r}, which is not installed under {_sets_root() / SOURCE}")


def use(name: str) -> RuleSet:
    """Make an installed set current, named by its set id or its version."""
    matches = [s for s in installed() if name in (s.set_id, s.version)]
    if not matches:
        raise RuleSupplyError(f"no installed rule set is called {name!r} (forensics rules list shows them)")
    chosen = matches[-1]  # the newest install of that version
    _set_current(chosen)
    return chosen


def _set_current(s: RuleSet) -> None:
    pointer = _sets_root() / CURRENT_FILE
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_name(pointer.name + ".tmp")
    tmp.write_text(json.dumps({SOURCE: s.set_id}, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, pointer)


# --- fetching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseAsset:
    """One downloadable package of a release, as GitHub describes it."""

    version: str  # the release tag
    name: str
    url: str
    size: int
    sha256: str | None  # GitHub's digest for the asset ("sha256:<hex>"), when it has one


def _api_root() -> str:
    return os.environ.get(GITHUB_API_ENV, GITHUB_API).rstrip("/")


def _get(url: str, accept: str) -> Any:
    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": f"forensics/{__version__}"})
    try:
        return urllib.request.urlopen(req, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        raise RuleSupplyError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuleSupplyError(
            f"cannot reach {url}: {reason} (offline? install a copy with --from DIR|ZIP)"
        ) from exc


def find_release(version: str | None, package: str) -> ReleaseAsset:
    """The release asset of ``package`` in SigmaHQ's release ``version`` (None: the latest release)."""
    if package not in PACKAGES:
        raise RuleSupplyError(f"unknown package {package!r}; one of: {', '.join(PACKAGES)}")
    which = "latest" if version is None else f"tags/{urllib.parse.quote(version, safe='')}"
    url = f"{_api_root()}/repos/{SIGMAHQ_REPO}/releases/{which}"
    with _get(url, "application/vnd.github+json") as resp:
        try:
            release = json.loads(resp.read(8 << 20))
        except ValueError as exc:
            raise RuleSupplyError(f"{url}: not a JSON release description") from exc
    wanted = PACKAGES[package]
    for asset in release.get("assets") or []:
        if asset.get("name") == wanted:
            digest = asset.get("digest") or ""
            sha = digest.split(":", 1)[1].lower() if digest.startswith("sha256:") else None
            return ReleaseAsset(
                version=str(release.get("tag_name") or version or "unknown"),
                name=wanted,
                url=str(asset["browser_download_url"]),
                size=int(asset.get("size") or 0),
                sha256=sha,
            )
    names = ", ".join(str(a.get("name")) for a in release.get("assets") or []) or "none"
    raise RuleSupplyError(f"release {release.get('tag_name')} has no {wanted} (its assets: {names})")


def download(asset: ReleaseAsset, dest: Path, progress: Progress = _noop) -> str:
    """Download an asset into ``dest``; its SHA-256, hashed while reading. Size is checked here."""
    h = hashlib.sha256()
    total = 0
    with _get(asset.url, "application/octet-stream") as resp, dest.open("wb") as out:
        while block := resp.read(1 << 16):
            total += len(block)
            if total > MAX_ARCHIVE:
                raise RuleSupplyError(f"{asset.url}: larger than {MAX_ARCHIVE >> 20} MiB; refused")
            h.update(block)
            out.write(block)
    if asset.size and total != asset.size:
        raise RuleSupplyError(f"{asset.url}: got {total} bytes, the release says {asset.size}")
    progress(f"downloaded {asset.name}: {total} bytes")
    return h.hexdigest()


def _check_digest(actual: str, published: str | None, given: str | None, what: str) -> Digest:
    """How the archive's SHA-256 was confirmed; a mismatch is an error."""
    if published is not None and actual != published:
        raise RuleSupplyError(
            f"{what}: SHA-256 {actual} differs from GitHub's digest {published}; not installed"
        )
    if given is not None and actual != given.lower():
        raise RuleSupplyError(f"{what}: SHA-256 {actual} differs from --sha256 {given}; not installed")
    if published and given:
        return "github+given"
    return "github" if published else "given" if given else "none"


# --- installing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """What an update did."""

    rule_set: RuleSet
    new: bool  # False: the same set was installed already (made current again)
    others: int  # files in the source that are not rule files (README, LICENSE, ...) and not installed
    digest_note: str


def _member_path(name: str) -> PurePosixPath | None:
    """A zip member's path when it is safe to write under the set's folder, else None."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts or ":" in p.parts[0]:
        return None
    return p


def _zip_rules(archive: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    """(path, bytes) of every rule file in a SigmaHQ archive; unsafe or damaged members are errors."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RuleSupplyError(f"{archive}: not a readable zip archive: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise RuleSupplyError(f"{archive}: {len(infos)} members; more than {MAX_MEMBERS} refused")
        if sum(i.file_size for i in infos) > MAX_UNPACKED:
            raise RuleSupplyError(f"{archive}: unpacks to more than {MAX_UNPACKED >> 20} MiB; refused")
        for info in infos:
            if info.is_dir():
                continue
            p = _member_path(info.filename)
            if p is None:
                raise RuleSupplyError(f"{archive}: member {info.filename!r} points outside the set; refused")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise RuleSupplyError(f"{archive}: member {info.filename!r} is a link; refused")
            try:
                data = zf.read(info)  # checks the member's CRC
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise RuleSupplyError(f"{archive}: member {info.filename!r} is damaged: {exc}") from exc
            yield p, data


def _dir_rules(folder: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    """(path, bytes) of every file of a rule folder or a SigmaHQ checkout (its ``rules*`` folders)."""
    tops = [
        d
        for d in sorted(folder.iterdir())
        if d.is_dir() and CHECKOUT_FOLDERS.match(d.name) and d.name not in SKIPPED_CHECKOUT_FOLDERS
    ]
    roots = tops if (folder / "rules").is_dir() else [folder]  # a checkout, or a folder of rules
    for root in roots:
        for f in sorted(root.rglob("*")):
            rel = PurePosixPath(f.relative_to(folder).as_posix())
            if any(part.startswith(".") for part in rel.parts) or not f.is_file() or f.is_symlink():
                continue
            yield rel, f.read_bytes() if _is_rule(rel) or _is_license(rel) else b""  # others only counted


def _is_rule(p: PurePosixPath) -> bool:
    return p.suffix.lower() in RULE_SUFFIXES


def _is_license(p: PurePosixPath) -> bool:
    return p.name.upper().startswith(("LICENSE", "LICENCE"))


def _tree_sha256(files: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over sorted ``path\\0sha256\\n`` lines: the identity of a set of rule files."""
    h = hashlib.sha256()
    for rel, sha in sorted(files):
        h.update(f"{rel}\0{sha}\n".encode())
    return h.hexdigest()


def _count(rules_dir: Path, progress: Progress) -> tuple[int, int, int, int]:
    """(rule documents, converted, skipped, failed): the set converted once, as a hunt would."""
    from collections import Counter

    from forensics.hunt.sigma import check_rules

    progress("converting the rules once to count what converts")
    report = check_rules([rules_dir])
    counts = Counter(str(r.status) for r in report)
    return len(report), counts["converted"], counts["skipped"], counts["failed"]


def install(
    members: Iterable[tuple[PurePosixPath, bytes]],
    *,
    version: str | None,
    package: str | None,
    origin: str,
    archive_sha256: str | None,
    digest: Digest,
    progress: Progress = _noop,
) -> Installed:
    """Install rule files as a new set (or find the same set installed) and make it current."""
    root = _sets_root() / SOURCE
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        hashes: list[tuple[str, str]] = []
        others = 0
        license_files = []
        for rel, data in members:
            if not _is_rule(rel):
                others += 1
                if _is_license(rel):
                    license_files.append((rel, data))  # the Detection Rule License travels with the rules
                continue
            dest = staging / "rules" / Path(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            hashes.append((rel.as_posix(), hashlib.sha256(data).hexdigest()))
        if not hashes:
            raise RuleSupplyError(f"{origin}: no Sigma rule files (*.yml, *.yaml) in it; nothing installed")
        for rel, data in license_files:
            (staging / rel.name).write_bytes(data)
        tree = _tree_sha256(hashes)
        name = version or "local"  # an unnamed local copy: its SHA-256 tells copies apart
        probe = f"{_safe(name)}-{(archive_sha256 or tree)[:12]}"
        existing = next((s for s in installed() if s.set_id == probe and s.tree_sha256 == tree), None)
        if existing is not None:
            _set_current(existing)
            return Installed(existing, False, others, _digest_note(digest))
        rules, converted, skipped, failed = _count(staging / "rules", progress)
        target = root / probe
        made = RuleSet(
            source=SOURCE, version=name, package=package, origin=origin, archive_sha256=archive_sha256,
            digest=digest, tree_sha256=tree, files=len(hashes), rules=rules, converted=converted,
            skipped=skipped, failed=failed, installed_utc=iso_utc(now_utc()), tool_version=__version__,
            path=target,
        )  # fmt: skip
        if target.exists():  # same folder name, different files: never overwrite an installed set
            raise RuleSupplyError(f"{target} exists and holds other rule files; not overwritten")
        (staging / SET_FILE).write_text(json.dumps(made.to_record(), sort_keys=True, indent=1) + "\n")
        os.replace(staging, target)
        _set_current(made)
        return Installed(made, True, others, _digest_note(digest))
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _digest_note(digest: Digest) -> str:
    return {
        "github": "SHA-256 matches GitHub's published digest for the asset",
        "given": "SHA-256 matches the --sha256 given",
        "github+given": "SHA-256 matches GitHub's published digest and the --sha256 given",
        "none": "no published digest to check the archive's SHA-256 against (pin it with --sha256 next time)",
        "folder": "a local folder: pinned by its rule files' SHA-256 (no archive to check)",
    }[digest]


def update(
    *,
    package: str = DEFAULT_PACKAGE,
    version: str | None = None,
    sha256: str | None = None,
    progress: Progress = _noop,
) -> Installed:
    """Download SigmaHQ's ``package`` of release ``version`` (None: latest), verify it and install it."""
    asset = find_release(version, package)
    progress(f"SigmaHQ release {asset.version}: {asset.name} ({asset.size} bytes)")
    for s in installed():  # the same archive installed before: no download needed
        if (
            s.version == asset.version
            and s.package == asset.name
            and asset.sha256
            and s.archive_sha256 == asset.sha256
        ):
            _check_digest(asset.sha256, asset.sha256, sha256, asset.name)
            _set_current(s)
            return Installed(s, False, 0, "already installed; SHA-256 matches GitHub's published digest")
    with tempfile.TemporaryDirectory(prefix="forensics-rules-") as tmp:
        archive = Path(tmp) / asset.name
        actual = download(asset, archive, progress)
        digest = _check_digest(actual, asset.sha256, sha256, asset.name)
        return install(
            _zip_rules(archive), version=asset.version, package=asset.name, origin=asset.url,
            archive_sha256=actual, digest=digest, progress=progress,
        )  # fmt: skip


def install_local(
    source: Path, *, version: str | None = None, sha256: str | None = None, progress: Progress = _noop
) -> Installed:
    """Install a local copy: a SigmaHQ release zip, a folder of rules or a SigmaHQ checkout."""
    if source.is_dir():
        if sha256 is not None:
            raise RuleSupplyError("--sha256 checks an archive; a folder is pinned by its rule files' SHA-256")
        return install(
            _dir_rules(source), version=version, package=None, origin=str(source.resolve()),
            archive_sha256=None, digest="folder", progress=progress,
        )  # fmt: skip
    if not source.is_file():
        raise RuleSupplyError(f"no such rule folder or archive: {source}")
    with source.open("rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    digest = _check_digest(actual, None, sha256, str(source))
    package = source.name if source.name in PACKAGES.values() else None
    return install(
        _zip_rules(source), version=version, package=package, origin=str(source.resolve()),
        archive_sha256=actual, digest=digest, progress=progress,
    )  # fmt: skip
