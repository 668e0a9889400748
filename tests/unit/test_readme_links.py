"""Every `#anchor` link in the README leads to a heading, as GitHub names headings, and the contents list them all.

GitHub's anchors (github/cmark-gfm's and github-slugger's rule): the heading's text without its markdown,
lower-cased, every character that is not a letter, a digit, '_', '-' or a space dropped, spaces turned into
'-'; a repeated anchor gets '-1', '-2', … in order.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\]\(#([^)\s]+)\)")


def heading_text(markdown: str) -> str:
    """What GitHub slugs: the rendered text (code spans' backticks, emphasis and link targets removed)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[`*]|(?<!\w)_|_(?!\w)", "", text)


def slug(text: str) -> str:
    kept = "".join(
        ch
        for ch in text.lower()
        if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N") or unicodedata.category(ch) == "Mn"
    )
    return kept.replace(" ", "-")


def headings(markdown: str) -> list[tuple[int, str, str]]:
    """(level, text, anchor) of every heading outside fenced code, anchors de-duplicated as GitHub does."""
    found, seen, fenced = [], {}, False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            text = heading_text(match.group(2))
            base = slug(text)
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.append((len(match.group(1)), text, base if count == 0 else f"{base}-{count}"))
    return found


def test_the_slug_rule_matches_github_on_our_kind_of_heading() -> None:
    assert slug(heading_text("Tenants: the operator's flow")) == "tenants-the-operators-flow"
    assert slug(heading_text("`host.json`")) == "hostjson"
    assert slug(heading_text("Where is my user? Provisioning activity")) == "where-is-my-user-provisioning-activity"
    assert [a for _, _, a in headings("# A\n\n## A\n```\n# not a heading\n```\n### A")] == ["a", "a-1", "a-2"]


def test_every_internal_link_leads_to_a_heading() -> None:
    anchors = {anchor for _, _, anchor in headings(README)}
    links = _LINK.findall(README)
    assert links, "the README links no heading: the contents are gone"
    assert sorted(set(links) - anchors) == []


def test_the_contents_list_every_section_in_order() -> None:
    listed = _LINK.findall(README.split("## Contents", 1)[1].split("\n## ", 1)[0])
    sections = [anchor for level, _, anchor in headings(README) if level in (2, 3) and anchor != "contents"]
    assert listed == sections, "README's ## Contents must list every ## and ### heading, in order, as links"
