"""The report's template environment: Jinja2 with autoescaping on for every template.

Log content is attacker-controlled. Every value a template prints is escaped by Jinja2 itself
(``autoescape=True``, whatever the template's name), so escaping is structural rather than a
discipline each section keeps; the only text marked safe is our own stylesheet, script and the
drawings rendered by these same templates. Undefined names raise instead of printing nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.bccache import Bucket, FileSystemBytecodeCache
from markupsafe import Markup

from forensics.usercache import user_cache_dir


class UserBytecodeCache(FileSystemBytecodeCache):
    """The templates compiled once per machine, in the user's cache folder (``forensics.usercache``):
    compiling the nine of them costs every report ~50 ms, loading them ~2 ms. Jinja2 keys each entry
    by the template's name and checks its source's checksum, so an edited template is compiled
    again; the folder is named by the Jinja2 and Python versions, whose code objects differ. The
    folder is looked up at each use (``FORENSICS_CACHE_DIR`` may change in a process; empty: no
    cache). A cache that cannot be written costs time only: the template was compiled anyway."""

    def __init__(self) -> None:  # no fixed folder: see ``folder``
        self.pattern = "__jinja2_%s.cache"

    @staticmethod
    def folder() -> Path | None:
        """Where the compiled templates go (None: no cache)."""
        root = user_cache_dir()
        version = f"jinja2-{jinja2.__version__}-py{sys.version_info[0]}.{sys.version_info[1]}"
        return root / "report-templates" / version if root is not None else None

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from the cache, if the folder has it."""
        folder = self.folder()
        if folder is None:
            return
        self.directory = str(folder)
        try:
            super().load_bytecode(bucket)
        except OSError:
            return  # unreadable (e.g. the folder is a file): the template is compiled, as without a cache

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep ``bucket`` (written to a temporary file, then renamed into place by Jinja2)."""
        folder = self.folder()
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.directory = str(folder)
            super().dump_bytecode(bucket)
        except OSError:
            return  # read-only or full: the next report compiles the template again


ENV = Environment(
    loader=PackageLoader("forensics.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    auto_reload=False,  # package data: never changes under a running process (no stat per render)
    bytecode_cache=UserBytecodeCache(),
)


def render(template: str, **context: Any) -> Markup:
    """The template rendered with ``context``, as markup (already escaped) for another template."""
    return Markup(ENV.get_template(template).render(**context))
