"""The HTML pages' shared templates: the operator pages (scim.api.admin) and the setup page (scim.api.setup_page)
render from one folder, with autoescaping on, undefined names failing and the same time filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _stamp(moment: datetime | None) -> str:
    """A table cell's time: the column header says UTC; kept on one line by the `time` class."""
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def templates() -> Environment:
    """The templates folder and its rules, with the `when` and `stamp` filters."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["stamp"] = _stamp
    return env
