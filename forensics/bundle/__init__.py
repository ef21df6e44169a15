"""The evidence bundle for police and courts: export, certificates, signing and verify.

``export.export_bundle`` writes the zip; ``verify.verify_bundle`` checks one without trusting
this tool; ``signing`` makes and checks Ed25519 signatures; ``certificates`` and ``certin``
pre-fill the s.63 / s.65B certificate and the CERT-In report.
"""

from __future__ import annotations
