"""Text from the URL: refused when it cannot be stored or answered, escaped when it is logged."""

import pytest
from scim2_models import InvalidFilterException, InvalidSyntaxException

from scim.protocol.text import check_url_text, log_safe
from tests.unit.linear import assert_linear


@pytest.mark.parametrize("value", ["acme", "0123456789abcdef0123456789abcdef", "-"])
def test_plain_names_are_logged_as_they_are(value: str) -> None:
    assert log_safe(value) == value


@pytest.mark.parametrize("value", ["acme\nscim GET user status=200", "a\rb", "\x1b[31m", "\ud800", "é\u2028x", "a b"])
def test_anything_else_is_logged_escaped_on_one_line(value: str) -> None:
    logged = log_safe(value)
    assert logged.isascii() and logged.isprintable() and logged.startswith("'")


def test_long_values_are_shortened_in_logs() -> None:
    assert len(log_safe("x" * 10_000)) < 80


@pytest.mark.parametrize(
    ("route", "query", "error"),
    [
        ({"id": "a\nb"}, {}, InvalidSyntaxException),
        ({"id": "\ud800"}, {}, InvalidSyntaxException),
        ({"tenant": "acme\x00"}, {}, InvalidSyntaxException),
        ({}, {"attributes": "userName\x7f"}, InvalidSyntaxException),
        ({}, {"x\ud800": "1"}, InvalidSyntaxException),
        ({}, {"filter": 'userName eq "\ud800"'}, InvalidFilterException),
        ({}, {"filter": 'userName eq "a\x01b"'}, InvalidFilterException),
    ],
)
def test_control_characters_and_lone_surrogates_in_the_url_are_400(
    route: dict[str, str], query: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        check_url_text(route, query)


def test_ordinary_urls_pass() -> None:
    check_url_text(
        {"tenant": "acme", "id": "a" * 32},
        {"filter": 'userName eq "Zoë \\ud83d\\ude00 \\"quoted\\""', "aadOptscim062020": "", "count": "10"},
    )


def test_url_checks_grow_linearly_with_the_url() -> None:
    assert_linear(lambda n: check_url_text({"id": "a" * n}, {"filter": 'userName eq "' + '\\"' * n}), 50_000)
