"""The report's template environment: Jinja2 with autoescaping on for every template.

Log content is attacker-controlled. Every value a template prints is escaped by Jinja2 itself
(``autoescape=True``, whatever the template's name), so escaping is structural rather than a
discipline each section keeps; the only text marked safe is our own stylesheet, script and the
drawings rendered by these same templates. Undefined names raise instead of printing nothing.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

ENV = Environment(
    loader=PackageLoader("forensics.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    auto_reload=False,  # package data: never changes under a running process (no stat per render)
)


def render(template: str, **context: Any) -> Markup:
    """The template rendered with ``context``, as markup (already escaped) for another template."""
    return Markup(ENV.get_template(template).render(**context))
