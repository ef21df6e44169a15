"""Ed25519 keys and the detached signature over MANIFEST.json."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from forensics.bundle.signing import (
    check_signature,
    keygen,
    load_private,
    load_public,
    normalise_fingerprint,
    sign_manifest,
)
from forensics.errors import BundleError


def test_keygen_writes_private_0600_and_public_with_fingerprint(tmp_path: Path) -> None:
    priv, pub, fp = keygen(tmp_path / "k" / "signer.pem")
    assert priv.stat().st_mode & 0o777 == 0o600
    assert pub.name == "signer.pem.pub" and b"BEGIN PUBLIC KEY" in pub.read_bytes()
    raw = load_public(pub).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert fp == "sha256:" + hashlib.sha256(raw).hexdigest()
    with pytest.raises(BundleError, match="already exists"):
        keygen(priv)


def test_signature_round_trip_and_tamper(tmp_path: Path) -> None:
    priv, _, fp = keygen(tmp_path / "s.pem")
    manifest = b'{"files": []}\n'
    sig = sign_manifest(manifest, load_private(priv))
    doc = json.loads(sig)
    assert (
        doc["public_key_fingerprint"] == fp and doc["signed_sha256"] == hashlib.sha256(manifest).hexdigest()
    )
    assert check_signature(manifest, sig).ok
    assert check_signature(manifest, sig, fp.upper().replace("SHA256:", "")).ok
    assert not check_signature(manifest + b" ", sig).ok
    assert not check_signature(manifest, sig, "sha256:" + "0" * 64).ok
    assert not check_signature(manifest, b"not json").ok
    assert normalise_fingerprint("SHA256:AB:CD") == "sha256:abcd"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_verifies_the_signature_as_verify_md_says(tmp_path: Path) -> None:
    priv, _, fp = keygen(tmp_path / "s.pem")
    manifest = tmp_path / "MANIFEST.json"
    manifest.write_bytes(b'{"x": 1}\n')
    doc = json.loads(sign_manifest(manifest.read_bytes(), load_private(priv)))
    (tmp_path / "signer.pub.pem").write_text(doc["public_key_pem"])
    import base64

    (tmp_path / "sig.bin").write_bytes(base64.b64decode(doc["signature_base64"]))
    res = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signer.pub.pem", "-rawin", "-in", "MANIFEST.json",
         "-sigfile", "sig.bin"], cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if "rawin" in res.stderr and res.returncode != 0:
        pytest.skip("this openssl has no -rawin (needs OpenSSL 3)")
    assert res.returncode == 0, res.stdout + res.stderr
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", "signer.pub.pem", "-outform", "DER"], cwd=tmp_path,
                         capture_output=True, check=True).stdout  # fmt: skip
    assert "sha256:" + hashlib.sha256(der[-32:]).hexdigest() == fp
