"""Untrusted text from a request: is it Unicode we can store and send back, and how to log it safely."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from scim2_models import InvalidFilterException, InvalidSyntaxException

_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate: the only way a lone surrogate gets into a Python string from UTF-8."""
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# SCIM filters and PATCH paths quote values as JSON strings (RFC 7644 §3.4.2.2); this is their grammar.
_QUOTED = re.compile(r'"(?:[^"\\\x00-\x1F]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*"')
_LOG_SAFE = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_LOG_MAX_CHARS = 64


def has_lone_surrogate(text: str) -> bool:
    """A code point in U+D800-U+DFFF: no UTF-8 encoder writes it, so it can be neither stored nor answered."""
    return _SURROGATE.search(text) is not None


def has_control_character(text: str) -> bool:
    """A C0 or C1 control character, or DEL (Unicode category Cc)."""
    return _CONTROL.search(text) is not None


def embeds_lone_surrogate(expression: str) -> bool:
    """True if a JSON string quoted in expression (a filter or a PATCH path) decodes to a lone surrogate."""
    if SURROGATE_ESCAPE.search(expression) is None:
        return False
    return any(has_lone_surrogate(json.loads(match.group())) for match in _QUOTED.finditer(expression))


def check_url_text(route_params: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Path segments and query parameters must be text: 400 for control characters and lone surrogates."""
    for name, value in (*route_params.items(), *query.items()):
        if any(has_lone_surrogate(text) or has_control_character(text) for text in (name, value)):
            if name == "filter":
                raise InvalidFilterException(detail="The filter holds a control character or a lone surrogate")
            raise InvalidSyntaxException(detail="The URL holds a control character or a lone surrogate")
    if embeds_lone_surrogate(query.get("filter") or ""):
        raise InvalidFilterException(
            detail="The filter quotes a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"
        )


def log_safe(value: str) -> str:
    """value itself if it is a plain name or id; else a quoted, escaped, shortened form that stays on one line."""
    if _LOG_SAFE.fullmatch(value):
        return value
    shortened = value[:_LOG_MAX_CHARS] + ("…" if len(value) > _LOG_MAX_CHARS else "")
    return ascii(shortened)
