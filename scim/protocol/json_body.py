"""Strict JSON request bodies: one meaning per body, bounded work, and only text that can be stored and sent back.

RFC 8259 leaves duplicate names, BOMs and number ranges to implementations, and Python's json module is
lenient where that is dangerous for us: it keeps the last of duplicate keys, accepts NaN and Infinity,
recurses once per nesting level (RecursionError), and decodes "\\ud800" into a lone surrogate that no UTF-8
encoder will write back (a stored one answered 500 on every later read). Here every such body is a 400
`invalidSyntax`, an oversized one a 413 and a non-JSON media type a 415, before anything else looks at it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from scim2_models import InvalidSyntaxException, PayloadTooLargeException

from scim.errors import UnsupportedMediaTypeException
from scim.protocol.text import has_control_character, has_lone_surrogate

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; SCIM resources and PatchOps need fewer than 8."""

MAX_INTEGER_DIGITS = 20
"""Longest integer literal accepted: 64-bit values fit; Python's own limit (4,300 digits) raised ValueError."""

MEDIA_TYPES = frozenset({"application/scim+json", "application/json"})
"""RFC 7644 §3.1: application/scim+json MUST and application/json SHOULD be accepted."""

_UTF8_BOM = b"\xef\xbb\xbf"
_STRING_REST = re.compile(r'(?:[^"\\]++|\\.)*+"', re.DOTALL)
"""The rest of a JSON string after its opening quote, up to its closing one, stepping over escapes.

Possessive, so it never backtracks: it matches or fails in one pass over what it reads. An unterminated
string fails here once, at its end, and the scan stops (the parser then names the position).
"""


def check_content_type(content_type: str | None) -> None:
    """Accept SCIM or plain JSON in UTF-8; a missing Content-Type is read as JSON (curl, scripts)."""
    if content_type is None or not content_type.strip():
        return
    media_type, *params = (part.strip().lower() for part in content_type.split(";"))
    charset = next((p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")), "utf-8")
    if media_type not in MEDIA_TYPES or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaTypeException(
            detail="Send the body as application/scim+json (or application/json) in UTF-8"
        )


def depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True if arrays and objects nest deeper than limit: one linear pass that never recurses.

    The scan alternates between the text outside strings, where brackets count, and strings, which are
    skipped whole (an escaped quote does not end one). Each character is read once, so the work grows with
    the body, never with its square (issue 19: a regex that restarted at every unterminated quote did).
    """
    depth = 0
    pos = 0
    end = len(text)
    while pos < end:
        quote = text.find('"', pos)
        run_end = end if quote < 0 else quote
        depth = _run_depth(text, pos, run_end, depth, limit)
        if depth > limit:
            return True
        if quote < 0:
            return False
        closing = _STRING_REST.match(text, quote + 1)
        if closing is None:
            return False  # an unterminated string: not JSON, and json.loads says where
        pos = closing.end()
    return False


def _run_depth(text: str, start: int, stop: int, depth: int, limit: int) -> int:
    """The depth after text[start:stop], a run outside strings; more than limit as soon as it gets there."""
    run = text[start:stop]
    opens = run.count("[") + run.count("{")
    if depth + opens <= limit:  # cannot get past the limit here: no need to walk the run
        return depth + opens - run.count("]") - run.count("}")
    for char in run:
        if char in "[{":
            depth += 1
            if depth > limit:
                return depth
        elif char in "]}":
            depth -= 1
    return depth


def _syntax(detail: str) -> InvalidSyntaxException:
    return InvalidSyntaxException(detail=f"The request body is not valid JSON: {detail}")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if has_control_character(key):
            raise _syntax("an object key contains a control character")
        # SCIM attribute names and schema URNs are case-insensitive (RFC 7643 §2.1): "userName" and
        # "USERNAME" are the same attribute, and which one wins must not depend on the parser.
        folded = key.casefold()
        if folded in seen:
            raise _syntax(f"the key {key!r} appears more than once in an object")
        seen.add(folded)
        result[key] = value
    return result


def _constant(name: str) -> Any:
    raise _syntax(f"{name} is not a JSON number")


def _integer(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _syntax(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _syntax("a number is too large to represent")
    return value


def _strings_are_text(value: Any) -> bool:
    """No decoded string or key holds a lone surrogate: one look at each character (depth is bounded)."""
    if isinstance(value, str):
        return not has_lone_surrogate(value)
    if isinstance(value, dict):
        return all(_strings_are_text(k) and _strings_are_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_strings_are_text(item) for item in value)
    return True


def parse_body(body: bytes, content_type: str | None, max_bytes: int) -> Any:
    """The request body as JSON, or a SCIM error: 413 too large, 415 not JSON, 400 invalidSyntax otherwise."""
    if len(body) > max_bytes:
        raise PayloadTooLargeException(detail=f"The request body is larger than {max_bytes} bytes")
    check_content_type(content_type)
    # RFC 8259 §8.1: a parser MAY ignore a BOM; some Windows clients still send one.
    raw = body.removeprefix(_UTF8_BOM)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _syntax(f"it is not UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise InvalidSyntaxException(detail="The request body is empty; send a SCIM JSON object")
    if depth_exceeds(text):
        raise _syntax(f"arrays and objects nest deeper than {MAX_DEPTH} levels")
    try:
        parsed = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_int=_integer, parse_float=_float
        )
    except json.JSONDecodeError as exc:
        raise _syntax(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:  # never expected: depth and numbers are checked above
        raise _syntax(type(exc).__name__) from exc
    # Raw UTF-8 cannot carry a surrogate, so only a \\u escape can make one: look only when one is there.
    # A filter or PATCH path quoted inside a string is checked where it is parsed (scim.protocol.expressions).
    if "\\u" in text and not _strings_are_text(parsed):
        raise _syntax("a string holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)")
    return parsed
