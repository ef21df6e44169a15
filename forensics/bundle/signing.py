"""Ed25519 signing of a bundle's MANIFEST.json (the ``cryptography`` package).

``keygen`` writes the private key as PKCS#8 PEM (mode 0600) and the public key as PEM beside
it. The detached signature ``MANIFEST.json.sig`` is a small JSON document: the algorithm, the
signer's public key (PEM) and fingerprint, and the base64 signature over the exact bytes of
MANIFEST.json. The fingerprint is ``sha256:`` + hex SHA-256 of the 32 raw public-key bytes, so
anyone can recompute it with openssl (see VERIFY.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from forensics.errors import BundleError

ALGORITHM = "Ed25519"


def fingerprint(public: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM text."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def keygen(private_path: Path, *, overwrite: bool = False) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair: ``private_path`` (PEM, 0600) and ``<private_path>.pub``.

    Returns the two paths and the public-key fingerprint. Refuses to overwrite a key.
    """
    private_path = Path(private_path)
    pub_path = private_path.with_name(private_path.name + ".pub")
    if not overwrite and (private_path.exists() or pub_path.exists()):
        raise BundleError(f"{private_path} or {pub_path} already exists; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    # create with 0600 from the start so the key is never readable by others, even briefly
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(private_path, 0o600)
    pub_path.write_text(public_pem(key.public_key()), encoding="ascii")
    return private_path, pub_path, fingerprint(key.public_key())


def load_private(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise BundleError(f"cannot read signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (or the private key's PEM: its public half)."""
    data = Path(path).read_bytes()
    try:
        if b"PRIVATE KEY" in data:
            return load_private(path).public_key()
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"cannot read public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key")
    return key


def sign_manifest(manifest_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """The ``MANIFEST.json.sig`` document (JSON bytes) for these manifest bytes."""
    pub = key.public_key()
    doc = {
        "algorithm": ALGORITHM,
        "signed_file": "MANIFEST.json",
        "signed_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "public_key_fingerprint": fingerprint(pub),
        "public_key_pem": public_pem(pub),
        "signature_base64": base64.b64encode(key.sign(manifest_bytes)).decode("ascii"),
    }
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of checking a signature document against manifest bytes."""

    ok: bool
    fingerprint: str | None
    reason: str


def check_signature(manifest_bytes: bytes, sig_bytes: bytes, expected: str | None = None) -> SignatureCheck:
    """Check ``MANIFEST.json.sig`` over the manifest; ``expected`` is a fingerprint to insist on."""
    try:
        doc: dict[str, Any] = json.loads(sig_bytes)
        pub = serialization.load_pem_public_key(str(doc["public_key_pem"]).encode("ascii"))
        sig = base64.b64decode(str(doc["signature_base64"]), validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        return SignatureCheck(False, None, f"signature file unreadable: {exc}")
    if doc.get("algorithm") != ALGORITHM or not isinstance(pub, Ed25519PublicKey):
        return SignatureCheck(False, None, f"not an {ALGORITHM} signature")
    fp = fingerprint(pub)
    if doc.get("public_key_fingerprint") != fp:
        return SignatureCheck(False, fp, "the fingerprint written in the signature file is not its key's")
    try:
        pub.verify(sig, manifest_bytes)
    except InvalidSignature:
        return SignatureCheck(False, fp, "signature does not match MANIFEST.json")
    if expected is not None and normalise_fingerprint(expected) != fp:
        return SignatureCheck(False, fp, f"signed by {fp}, expected {normalise_fingerprint(expected)}")
    return SignatureCheck(True, fp, "valid")


def normalise_fingerprint(text: str) -> str:
    """Accept ``sha256:HEX``, bare hex, upper case or with colons; return ``sha256:hex``."""
    t = text.strip().lower()
    if t.startswith("sha256:"):
        t = t[len("sha256:") :]
    return "sha256:" + t.replace(":", "").replace(" ", "")
