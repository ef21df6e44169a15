"""Test and demo helpers: writers that produce realistic synthetic inputs (EVTX, ...)."""
