"""Untrusted text from a request: is it Unicode we can store and send back, and how to log it safely."""

from __future__ import annotations

import re
from collections.abc import Mapping

from scim2_models import InvalidFilterException, InvalidSyntaxException

# Single character classes: a search reads each character once, whatever the text.
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LOG_SAFE = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_LOG_MAX_CHARS = 64


def has_lone_surrogate(text: str) -> bool:
    """A code point in U+D800-U+DFFF: no UTF-8 encoder writes it, so it can be neither stored nor answered."""
    return _SURROGATE.search(text) is not None


def has_control_character(text: str) -> bool:
    """A C0 or C1 control character, or DEL (Unicode category Cc)."""
    return _CONTROL.search(text) is not None


def check_url_text(route_params: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Path segments and query parameters must be text: 400 for control characters and lone surrogates.

    A surrogate quoted as a ``\\u`` escape inside a filter is found on the decoded filter, where it is parsed
    (scim.protocol.expressions).
    """
    for name, value in (*route_params.items(), *query.items()):
        if any(has_lone_surrogate(text) or has_control_character(text) for text in (name, value)):
            if name == "filter":
                raise InvalidFilterException(detail="The filter holds a control character or a lone surrogate")
            raise InvalidSyntaxException(detail="The URL holds a control character or a lone surrogate")


def log_safe(value: str) -> str:
    """value itself if it is a plain name or id; else a quoted, escaped, shortened form that stays on one line."""
    if _LOG_SAFE.fullmatch(value):
        return value
    shortened = value[:_LOG_MAX_CHARS] + ("…" if len(value) > _LOG_MAX_CHARS else "")
    return ascii(shortened)
