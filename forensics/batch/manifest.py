"""What a batch covers: a folder of images and collections, or a manifest (CSV or YAML) naming them.

Manifest columns / keys: ``path`` (required; relative paths are relative to the manifest),
``host`` (host hint), ``tz`` (zone hint, IANA), ``collector`` (who acquired it), ``collected``
(when), ``hash`` (expected hash: MD5, SHA-1 or SHA-256 of the media or SHA-256 of the file).
A YAML manifest is a list of such mappings, or a mapping with an ``images`` list.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from forensics.batch.units import ImageSpec
from forensics.errors import ForensicsError
from forensics.images.detect import image_kind
from forensics.images.reader import folder_extents, image_segments

_ALIASES = {
    "path": ("path", "image", "image_path", "file"),
    "host_hint": ("host", "host_hint", "hostname"),
    "tz_hint": ("tz", "tz_hint", "timezone", "time_zone"),
    "collector": ("collector", "collected_by", "examiner"),
    "collected_at": ("collected", "collected_at", "acquired", "acquired_at", "when"),
    "expected_hash": ("hash", "expected_hash", "md5", "sha1", "sha256"),
}


class ManifestError(ForensicsError):
    """The manifest cannot be read, or names something it should not."""


def specs_from(target: Path) -> list[ImageSpec]:
    """Specs from a folder (every image and collection in it, sorted), a manifest file, or one
    image or collection archive."""
    if target.is_dir():
        return folder_specs(target)
    if target.suffix.lower() in (".csv", ".tsv"):
        return _check(_csv(target), target)
    if target.suffix.lower() in (".yaml", ".yml"):
        return _check(_yaml(target), target)
    from forensics.batch.collections import collection_kind

    if image_kind(target) is not None or collection_kind(target) is not None:
        return [ImageSpec(str(target))]
    raise ManifestError(
        f"{target} is neither a folder, a CSV/YAML manifest, a disk image nor a collection archive"
    )


def folder_specs(folder: Path) -> list[ImageSpec]:
    """Every disk image and collection archive (Velociraptor zip, UAC tarball, other zip or tar)
    directly or deeper in ``folder`` (EWF's later segments not repeated; nothing inside a
    collection: the walker reads that)."""
    from forensics.batch.collections import collection_kind

    found: list[ImageSpec] = []
    every = sorted(folder.rglob("*"))
    covered: set[Path] = folder_extents(every)  # VMDK extents: parts of their descriptor's image
    for p in every:
        if not p.is_file() or p in covered:
            continue
        if image_kind(p) is not None:
            segs = image_segments(p)
            covered.update(s.resolve() for s in segs)
            covered.update(segs)
            found.append(ImageSpec(str(p)))
        elif collection_kind(p) is not None:
            found.append(ImageSpec(str(p)))
    return found


def _row(raw: dict[str, Any], base: Path) -> ImageSpec:
    low = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
    values: dict[str, str | None] = {}
    for field, names in _ALIASES.items():
        value = next((low[n] for n in names if low.get(n) not in (None, "")), None)
        values[field] = None if value is None else str(value).strip()
    if not values["path"]:
        raise ManifestError(f"manifest row without a path: {raw}")
    path = Path(values.pop("path") or "")
    if not path.is_absolute():
        path = base / path
    return ImageSpec(str(path), **values)


def _csv(path: Path) -> list[ImageSpec]:
    text = path.read_text("utf-8-sig")
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    return [_row(r, path.parent) for r in csv.DictReader(text.splitlines(), dialect=dialect)]


def _yaml(path: Path) -> list[ImageSpec]:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("images")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ManifestError(f"{path}: expected a list of images (or a mapping with an 'images' list)")
    return [_row(r, path.parent) for r in data]


def _check(specs: list[ImageSpec], manifest: Path) -> list[ImageSpec]:
    seen: set[str] = set()
    for s in specs:
        if s.path in seen:
            raise ManifestError(f"{manifest}: {s.path} is listed twice")
        seen.add(s.path)
        if (s.host_hint or s.tz_hint) and _is_collection(Path(s.path)):
            raise ManifestError(
                f"{manifest}: {s.path}: host and tz hints are for disk images; a collection states its own "
                "(client_info.json, the UAC file name, etc/hostname, etc/timezone) — give --tz to the batch instead"
            )
        if s.tz_hint:
            try:
                ZoneInfo(s.tz_hint)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ManifestError(f"{manifest}: {s.path}: tz {s.tz_hint!r} is not a zone name") from exc
        if s.expected_hash and len(s.expected_hash) not in (32, 40, 64):
            raise ManifestError(
                f"{manifest}: {s.path}: hash {s.expected_hash!r} is not MD5, SHA-1 or SHA-256"
            )
    return specs


def _is_collection(path: Path) -> bool:
    """An existing path that is not a disk image: the batch reads it with the walker."""
    return path.exists() and image_kind(path) is None
