"""Fixtures of the bundle tests (the case builder lives in bundlekit.py so tests can import it)."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib, which puts no test folder on sys.path: add this one
# so the test modules here can import their kit (and the shared tests/casekit.py).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py

from bundlekit import built, bundle

__all__ = ["built", "bundle"]
