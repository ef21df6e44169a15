"""Ingest: source formats into the case store."""
