"""VERIFY.md: how anyone checks the bundle with standard tools, without trusting this one."""

from __future__ import annotations

from forensics.bundle.casefile import CaseDetails


def render_verify_md(fingerprint: str | None, details: CaseDetails) -> str:
    """Plain-language verification steps, naming the signer's key fingerprint."""
    sig = (
        f"This file and MANIFEST.json.sig say the bundle was signed with the Ed25519 key whose fingerprint is\n\n"
        f"    {fingerprint}\n\n"
        "(SHA-256 of the 32 raw public-key bytes). **Do not take that from the bundle.** Whoever alters a\n"
        "bundle can recompute every hash, re-sign it with a key of their own and write that key's\n"
        "fingerprint here and in the signature file. Obtain the signer's fingerprint out of band: from the\n"
        "signed s.63 / s.65B certificate handed over with the bundle (Part B carries it), or from the signer\n"
        "by a separate channel. The signature proves who signed only when the fingerprint computed below\n"
        "equals the one you obtained that way."
        if fingerprint
        else "This bundle is NOT signed: its integrity rests on the hash values alone."
    )
    return f"""# How to verify this evidence bundle

Bundle for FIR {details.fir_number or "(not given)"}, marked {details.tlp}.

## 1. The hash report (needs only coreutils)

Unzip the bundle into an empty folder, then in that folder run:

    sha256sum -c hashes/SHA256SUMS
    md5sum -c hashes/MD5SUMS

Every line must say `OK`. These lists cover every file except MANIFEST.json, its signature and the
lists themselves; MANIFEST.json lists those too, with size, SHA-256 and MD5.

## 2. The signature over MANIFEST.json

{sig}

With OpenSSL 3 and jq:

    jq -r .public_key_pem MANIFEST.json.sig > signer.pub.pem
    jq -r .signature_base64 MANIFEST.json.sig | base64 -d > MANIFEST.json.sig.bin
    openssl pkeyutl -verify -pubin -inkey signer.pub.pem -rawin -in MANIFEST.json -sigfile MANIFEST.json.sig.bin
    openssl pkey -pubin -in signer.pub.pem -outform DER | tail -c 32 | sha256sum   # the fingerprint

## 3. The manifest

`sha256sum MANIFEST.json` must equal `signed_sha256` in MANIFEST.json.sig. Each file in
MANIFEST.json `files` must exist with that size and hashes, and no other file may be in the
bundle. `sources` gives the SHA-256 and MD5 of each original evidence file taken when it was
acquired: re-hash the originals to confirm them.

## 4. Custody, records, findings

`custody/chain_of_custody.jsonl` is hash-chained: each entry's `entry_sha256` is the SHA-256 of
the entry's canonical JSON (sorted keys, no spaces) without that field, and `prev_entry_sha256`
is the previous entry's hash (64 zeros for the first). The last entry's hash is `custody.head`
in MANIFEST.json. Each record in `records/matched_records.jsonl` carries `record_sha256`, the
SHA-256 of its `raw` text (UTF-8, or base64-decoded when `encoding` is base64), and the SHA-256 of
the original file it came from. Findings and timeline rows point at records by
`<source sha256>:<record index>`.

## 5. All of it at once

    forensics verify bundle.zip --fingerprint sha256:<the fingerprint you obtained out of band> [--sources DIR] [--reproduce]

Exit 0: every check passed and the signer is the one you named. Exit 5: a check failed. Without
`--fingerprint` (or the signer's public key with `--key`) a bundle whose checks all pass still
exits 6 and reports the signer as UNVERIFIED: the tool cannot know whose key that is, and neither
can you until you compare it with the fingerprint obtained out of band.
"""
