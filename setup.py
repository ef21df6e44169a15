"""Build the optional C flattener for EVTX ingest; everything else is in pyproject.toml.

``optional=True``: on a machine without a C compiler the install still succeeds and ingest
uses the pure-Python path (slower, same rows).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "forensics.ingest._evtxflat",
            ["forensics/ingest/_evtxflat.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
