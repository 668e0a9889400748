"""What the CLI prints to a terminal: control, bidirectional and invisible characters made visible."""

from __future__ import annotations

import pytest

from scim.cli_text import inline, terminal_text

TITLE_AND_CLEAR = "\u001b]0;pwned\u0007\u001b[2J"


@pytest.mark.parametrize(
    ("stored", "printed"),
    [
        (TITLE_AND_CLEAR, "\\x1b]0;pwned\\x07\\x1b[2J"),
        ("ada\rbob", "ada\\x0dbob"),
        ("a\x9b31mb", "a\\x9b31mb"),  # C1 CSI: one byte that starts an escape sequence on some terminals
        ("tab\there\x7f", "tab\\x09here\\x7f"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),
        ("ro\u200bot", "ro\\u200bot"),
        ("lone \ud800", "lone \\ud800"),
        ("Zoë Ōkubo 山田 👩‍💻", "Zoë Ōkubo 山田 👩\\u200d💻"),  # printable text stays as it is (ZWJ made visible)
        ("two\nlines", "two\nlines"),
    ],
)
def test_terminal_text_escapes_what_a_terminal_would_obey(stored: str, printed: str) -> None:
    assert terminal_text(stored) == printed


def test_a_value_inside_a_row_cannot_start_a_new_row() -> None:
    assert inline("ada\nUsers  9  forged") == "ada\\x0aUsers  9  forged"
    assert inline(TITLE_AND_CLEAR) == terminal_text(TITLE_AND_CLEAR)
