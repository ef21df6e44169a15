"""Python's cyclic garbage collector paused around bulk work (ingest batches, rule loading)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic GC off while the block runs: bulk work builds many long-lived objects, and
    every full collection walks them all again (7,400 Sigma rules, warm cache: load 4.5 s with the
    GC, 1.4 s without). Reference counting still frees acyclic garbage at once; the cycles left
    wait for the next collection after the block."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
