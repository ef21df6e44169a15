"""forensics: log forensics and IOC hunting into one Parquet case store."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
