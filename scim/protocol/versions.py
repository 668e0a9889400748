"""meta.version and the ETag header (RFC 7644 §3.14): weak tags from the key of the change that last wrote a row."""

from __future__ import annotations

import hashlib


def version_of(key: str) -> str:
    """meta.version / ETag header from StoredResource.version_key (a weak tag: semantic equality).

    The key is the number of the change that last wrote the resource, so the change record (and the queue
    message made from it) carries the very version a GET returns; rows older than change records use the ETag.
    """
    return 'W/"' + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24] + '"'


def with_groups(version: str, group_ids: list[str]) -> str:
    """The ETag of a representation that includes the read-only `groups`: the row's version plus a digest of
    the group ids, so adding the user to a group moves the tag a GET answers (If-None-Match gets 200, not 304)."""
    if not group_ids:
        return version
    digest = hashlib.sha256("\n".join(sorted(group_ids)).encode("utf-8")).hexdigest()[:12]
    return f'{version[:-1]}.{digest}"'


def row_version(tag: str) -> str:
    """The row's own version in an ETag (with_groups' digest dropped): writes never change `groups`."""
    head, dot, _ = tag.partition(".")
    return f'{head}"' if dot else tag
