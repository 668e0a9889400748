"""What the operator CLI prints to a terminal: stored text with its control characters made visible.

Names, details and display names come from tenants (through SCIM) and from operators; a userName such as
``"\\u001b]0;pwned\\u0007\\u001b[2J"`` would retitle or clear the operator's terminal if printed raw. Every
text output of the CLI goes through `echo` (JSON output is escaped by json.dumps). Control characters (C0
but the newline, DEL, C1), bidirectional and invisible format characters, and lone surrogates are written
as Python escapes (``\\x1b``, ``\\u202e``), so what was stored stays readable and nothing of it is obeyed.
`make lint` refuses click.echo anywhere else (ruff TID251), so a new command cannot print around this.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click

_UNSAFE = "\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_INLINE_RE = re.compile(f"[{_UNSAFE}\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str) -> str:
    """The text with every character a terminal would obey (all but the newline) written as an escape."""
    return _UNSAFE_RE.sub(_escape, text)


def inline(text: str) -> str:
    """One value inside a line (a name in a table row): newlines escaped as well, so it cannot forge a row."""
    return _UNSAFE_INLINE_RE.sub(_escape, text)


def echo(text: str, *, err: bool = False) -> None:
    """click.echo of terminal_text: the one way the CLI prints text."""
    click.echo(terminal_text(text), err=err)  # noqa: TID251 - the one text door


def echo_json(data: Any) -> None:
    """JSON for scripts: json.dumps writes every non-ASCII and control character as a \\u escape."""
    click.echo(json.dumps(data, indent=2, default=str))  # noqa: TID251 - the one JSON door
