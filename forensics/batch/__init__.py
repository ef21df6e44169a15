"""Batches over many images: explicit work units (``units``), a manifest (``manifest``), and a
resumable driver that runs the units in parallel and commits their results into one case
(``driver``)."""
