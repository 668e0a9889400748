"""Strict request bodies: every ambiguous, unbounded or un-storable JSON body is a SCIM 400, 413 or 415."""

import contextlib
import json
import time

import pytest
from scim2_models import InvalidSyntaxException, PayloadTooLargeException

from scim.errors import UnsupportedMediaTypeException
from scim.protocol.json_body import MAX_DEPTH, depth_exceeds, parse_body
from tests.unit.linear import assert_linear

SCIM = "application/scim+json"


def parse(body: bytes, content_type: str | None = SCIM, max_bytes: int = 1 << 20) -> object:
    return parse_body(body, content_type, max_bytes)


def syntax_error(body: bytes) -> str:
    with pytest.raises(InvalidSyntaxException) as caught:
        parse(body)
    assert caught.value.status == 400 and caught.value.scim_type == "invalidSyntax"
    return str(caught.value.detail)


def test_a_plain_scim_body_parses() -> None:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada", "name": {"givenName": "A"}}
    assert parse(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    "body",
    [
        b'{"userName": "a", "userName": "b"}',
        b'{"userName": "a", "USERNAME": "b"}',  # attribute names are case-insensitive (RFC 7643 2.1)
        b'{"name": {"givenName": "a", "givenName": "b"}}',
    ],
)
def test_duplicate_keys_are_refused(body: bytes) -> None:
    assert "more than once" in syntax_error(body)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 30])
def test_non_finite_and_huge_numbers_are_refused(literal: bytes) -> None:
    syntax_error(b'{"x": ' + literal + b"}")


def test_nesting_at_the_limit_parses_and_one_more_level_is_refused() -> None:
    assert parse(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert "deeper than 64" in syntax_error(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


def test_deep_nesting_is_refused_quickly_and_without_recursion() -> None:
    started = time.process_time()
    syntax_error(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    syntax_error(b"[" * 1_000_000)  # not even well-formed: the depth is known before parsing
    assert time.process_time() - started < 1


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = json.dumps({"displayName": "[" * 500 + '\\"{' * 100}).encode()
    assert not depth_exceeds(body.decode())
    assert parse(body) == {"displayName": "[" * 500 + '\\"{' * 100}


@pytest.mark.parametrize(
    "body",
    [
        b'{"displayName": "\\ud800"}',
        b'{"displayName": "x\\udfffy"}',
        b'{"displayName": "\\ude00\\ud83d"}',  # a pair in the wrong order is two lone surrogates
        b'{"\\ud800": 1}',
        b'["ok", ["\\udc00"]]',
        b'"\\ud800"',
    ],
)
def test_lone_surrogates_anywhere_are_refused(body: bytes) -> None:
    assert "surrogate" in syntax_error(body)


def test_paired_surrogate_escapes_are_text() -> None:
    assert parse(b'{"displayName": "\\ud83d\\ude00", "x": "type eq \\"\\\\ud83d\\\\ude00\\""}') == {
        "displayName": "\U0001f600",
        "x": 'type eq "\\ud83d\\ude00"',
    }


@pytest.mark.parametrize("key", [b"a\\u0000", b"\\n", b"user\\u001bName", b"x\\u0085"])
def test_control_characters_in_keys_are_refused(key: bytes) -> None:
    assert "control character" in syntax_error(b'{"' + key + b'": 1}')


def test_escaped_control_characters_in_values_are_kept() -> None:
    # A postal address legitimately holds line breaks.
    assert parse(b'{"formatted": "1 Main St\\nSpringfield"}') == {"formatted": "1 Main St\nSpringfield"}


@pytest.mark.parametrize("body", [b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', '{"a": "é"}'.encode("utf-16")])
def test_bodies_that_are_not_utf8_are_refused(body: bytes) -> None:
    syntax_error(body)


def test_a_utf8_bom_is_ignored() -> None:
    assert parse(b'\xef\xbb\xbf{"userName": "ada"}') == {"userName": "ada"}


@pytest.mark.parametrize("body", [b"", b"  \n", b"\xef\xbb\xbf"])
def test_empty_bodies_are_refused(body: bytes) -> None:
    assert "empty" in syntax_error(body)


def test_bodies_over_the_limit_are_413_before_parsing() -> None:
    with pytest.raises(PayloadTooLargeException) as caught:
        parse(b"[" * 101, max_bytes=100)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    "content_type",
    [None, "", SCIM, "application/scim+json; charset=utf-8", "Application/JSON", 'application/json;charset="UTF-8"'],
)
def test_json_media_types_are_accepted(content_type: str | None) -> None:
    assert parse(b"{}", content_type) == {}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
    ],
)
def test_other_media_types_are_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaTypeException) as caught:
        parse(b"{}", content_type)
    assert caught.value.status == 415


def test_an_escaped_surrogate_quoted_inside_a_string_is_text_here() -> None:
    # A filter or PATCH path quotes its values as JSON: the escape is decoded again where that expression is
    # parsed, and refused there (tests/unit/test_expressions.py), not by a second grammar over the body.
    body = b'{"path": "emails[type eq \\"\\\\ud800\\"].value"}'
    assert parse(body) == {"path": 'emails[type eq "\\ud800"].value'}


# -- issue 19, finding 1: every check that reads the body is linear ------------------------------------------


def test_the_unterminated_string_body_of_issue_19_is_400_at_once() -> None:
    body = ("[" * 65 + '"' + '\\"' * 20000).encode()  # 40 KB: 6.0 s of CPU before
    started = time.process_time()
    assert "deeper than 64" in syntax_error(body)
    assert time.process_time() - started < 0.5


def test_the_escaped_quotes_username_of_issue_19_parses_at_once() -> None:
    name = '\\ud800"' + '\\"' * 16_000  # 6.5 s of CPU before: text, with no surrogate once decoded
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}).encode()
    started = time.process_time()
    assert parse(body) == {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}
    assert time.process_time() - started < 0.5


def _unterminated(n: int) -> bytes:
    return ("[" * 64 + '"' + '\\"' * n).encode()


def _escaped_quotes_value(n: int) -> bytes:
    return json.dumps({"userName": '\\ud800"' + '\\"' * n, "x": "\ud83d\ude00" * n}).encode()


def _brackets_in_strings(n: int) -> bytes:
    return json.dumps([["[{" * 10, "\\"] for _ in range(n)]).encode()


def _parse_quietly(body: bytes) -> None:
    with contextlib.suppress(InvalidSyntaxException):
        parse(body, max_bytes=1 << 24)


@pytest.mark.parametrize("make", [_unterminated, _escaped_quotes_value, _brackets_in_strings])
def test_body_checks_grow_linearly_with_the_body(make: object) -> None:
    assert callable(make)
    assert_linear(lambda n: _parse_quietly(make(n)), 20_000)


def test_the_depth_scan_grows_linearly_with_the_body() -> None:
    assert_linear(lambda n: depth_exceeds("[" * 63 + "[]" * n), 50_000)  # at the limit, never past it
    assert_linear(lambda n: depth_exceeds('"' + '\\"' * n), 50_000)
    assert_linear(lambda n: depth_exceeds('["' + 'a\\"[' * n + '"]'), 50_000)


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ('["\\\\", "[[[["]', False),  # an escaped backslash ends before the quote that closes the string
        ('["\\"[[[["]', False),  # an escaped quote does not end a string
        ("[" * 64 + "]" * 64, False),
        ("[" * 65, True),
        ('{"a": [' * 33, True),
        ('"[[[' + "[" * 100, False),  # unterminated: not JSON, the parser says so
    ],
)
def test_the_depth_scan_knows_strings_and_escapes(text: str, deeper: bool) -> None:
    assert depth_exceeds(text) is deeper
