"""The row-key codec: every RowKey the store writes is built and read here, and nowhere else.

A tenant's partition of a resource table (Users, Groups):
- ``r|<id>``                          the resource row
- ``i|<attribute>|<sha256>``          a unique index row; ``i|<attribute>|<sha256>|<id>`` a non-unique one
- ``m|<group id>|<user id>``          a membership (Groups table), with its reverse ``u|<user id>|<group id>``
- ``c|count|<shard, 2 digits>``       a counter shard: part of the counts, and its own change sequence
- ``c|count``                         the counter row of older partitions (one row, one sequence): read as the
                                      base of the counts until a rebalance folds it into the shards
- ``x|<user id>``                     a user of the tenant (Groups table): membership writes condition on it
- ``o|s<shard>|<local seq, 12 digits>``  a change record, numbered in its shard's sequence
- ``o|<seq, 12 digits>``              a change record of the older single sequence (kept until trimmed)

Index rows are keyed by a hash of the normalised value, never the raw value: userName may hold ``#`` (B2B
guests' ``#EXT#``) or ``/``, which Table keys forbid.

A tenant's partition of the activity table: ``a|<inverted time>|<suffix>`` (a record), ``e|…`` (an error's
copy), ``n|<name key>|<inverted time>|<suffix>`` (a name's copy), ``i|<id>|…`` (a resource id's copy) and
``t|<yyyymmddHHMM>|<worker>`` (a traffic bucket). Inverted times sort newest first, so a time range is a key
range; name keys are percent-encoded so no user data breaks a key and prefixes still match.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

RESOURCE_PREFIX = "r|"
RESOURCE_END = "r}"
"""Sorts after every resource key: the upper bound of a scan of resource rows."""
INDEX_PREFIX = "i|"
MEMBER_PREFIX = "m|"
MEMBER_OF_PREFIX = "u|"
USER_ENTRY_PREFIX = "x|"
COUNTER_ROW_KEY = "c|count"
COUNTER_END = "c|count}"
"""Sorts after the older counter row and every shard: the upper bound of one range read of all of them."""
COUNTER_SHARDS = 16
"""Counter shards a partition has; a resource's changes always go through shard_of(its id)."""
RECORD_PREFIX = "o|"
RECORD_END = "o}"
LEGACY_RECORD_END = "o|:"
"""Sorts after every record key of the older single sequence (digits) and before every shard's (``o|s``)."""
_SEQ_DIGITS = 12

# -- resource tables --------------------------------------------------------------------------------


def resource_key(resource_id: str) -> str:
    return RESOURCE_PREFIX + resource_id


def resource_id_of(row_key: str) -> str | None:
    """The resource id a resource row's key holds; None for any other row."""
    return row_key[len(RESOURCE_PREFIX) :] if row_key.startswith(RESOURCE_PREFIX) else None


def is_index_key(row_key: str) -> bool:
    return row_key.startswith(INDEX_PREFIX)


def index_prefix(attribute: str, digest: str) -> str:
    """The key of a unique index row, and the prefix of every non-unique row of one value."""
    return f"{INDEX_PREFIX}{attribute}|{digest}"


def index_key(attribute: str, digest: str, resource_id: str | None) -> str:
    """A unique index row's key (resource_id None), or a non-unique one's (one row per resource)."""
    prefix = index_prefix(attribute, digest)
    return prefix if resource_id is None else f"{prefix}|{resource_id}"


def attribute_index_prefix(attribute: str) -> str:
    """The prefix every index row of one attribute has (any value)."""
    return f"{INDEX_PREFIX}{attribute}|"


def member_key(group_id: str, user_id: str) -> str:
    return f"{MEMBER_PREFIX}{group_id}|{user_id}"


def members_prefix(group_id: str) -> str:
    """The prefix of a group's member rows."""
    return f"{MEMBER_PREFIX}{group_id}|"


def member_of_key(user_id: str, group_id: str) -> str:
    """The reverse row of a membership: found by the user."""
    return f"{MEMBER_OF_PREFIX}{user_id}|{group_id}"


def member_of_prefix(user_id: str) -> str:
    """The prefix of a user's reverse membership rows."""
    return f"{MEMBER_OF_PREFIX}{user_id}|"


def membership_of(row_key: str) -> tuple[bool, str, str] | None:
    """(is the forward row, group id, user id) of a membership row's key; None for any other row."""
    parts = row_key.split("|")
    if len(parts) != 3:
        return None
    if row_key.startswith(MEMBER_PREFIX):
        return True, parts[1], parts[2]
    if row_key.startswith(MEMBER_OF_PREFIX):
        return False, parts[2], parts[1]
    return None


def user_entry_key(user_id: str) -> str:
    """A user's row in the Groups partition's member index (scim.store.membership)."""
    return f"{USER_ENTRY_PREFIX}{user_id}"


def user_entry_of(row_key: str) -> str | None:
    """The user id a member-index row's key holds; None for any other row."""
    return row_key[len(USER_ENTRY_PREFIX) :] if row_key.startswith(USER_ENTRY_PREFIX) else None


def is_counter_key(row_key: str) -> bool:
    """The older counter row or a counter shard."""
    return row_key == COUNTER_ROW_KEY or row_key.startswith(COUNTER_ROW_KEY + "|")


def counter_shard_key(shard: int) -> str:
    return f"{COUNTER_ROW_KEY}|{shard:02d}"


def counter_shard_of(row_key: str) -> int | None:
    """The shard a counter shard's key names; None for the older counter row (or any other row)."""
    head, _, shard = row_key.rpartition("|")
    return int(shard) if head == COUNTER_ROW_KEY and shard.isdigit() else None


def shard_of(resource_id: str) -> int:
    """The counter shard every change of a resource is counted and numbered in (stable across processes)."""
    return zlib.crc32(resource_id.encode("utf-8")) % COUNTER_SHARDS


def record_key(seq: int) -> str:
    """A change record's key in the older single sequence: numbered so that key order is change order."""
    return f"{RECORD_PREFIX}{seq:0{_SEQ_DIGITS}d}"


def shard_records_prefix(shard: int) -> str:
    return f"{RECORD_PREFIX}s{shard:02d}|"


def shard_record_key(shard: int, local: int) -> str:
    """A change record's key: the shard, then its number in the shard's sequence (key order is change order)."""
    return f"{shard_records_prefix(shard)}{local:0{_SEQ_DIGITS}d}"


def is_record_key(row_key: str) -> bool:
    return row_key.startswith(RECORD_PREFIX)


# -- activity table ---------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = 10**19 - 1
_MAX_NAME_KEY = 256
ACTIVITY = "a"
ERRORS = "e"
NAMES = "n"
IDS = "i"
BUCKETS = "t"


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def inverted(moment: datetime) -> str:
    """A key part that sorts newer times first: 19 digits of (max - microseconds since 1970)."""
    return f"{_MAX_MICROS - _micros(moment):019d}"


def name_key(name: str) -> str:
    """A userName or displayName as a key part: lower-cased, percent-encoded, ASCII, prefix-preserving."""
    return quote(name.lower()[:_MAX_NAME_KEY], safe="@.-_+!$&'()*,;=: ").replace("~", "%7E")


def activity_stamp(moment: datetime, suffix: str) -> str:
    return f"{inverted(moment)}|{suffix}"


def activity_key(moment: datetime, suffix: str) -> str:
    """An activity record's key (newest first)."""
    return f"{ACTIVITY}|{activity_stamp(moment, suffix)}"


def change_suffix(stream: str, seq: int) -> str:
    """The suffix a change record shown among activity records has: after any record's suffix of that time."""
    return f"~{stream}{seq:0{_SEQ_DIGITS}d}"


def is_change_key(row_key: str) -> bool:
    """Activity keys end in a hex suffix; a change shown among them in ``~<stream><seq>`` (change_suffix)."""
    return "~" in row_key.rpartition("|")[2]


def named_activity_key(encoded_name: str, moment: datetime, suffix: str) -> str:
    """The key of a record's copy found by name (``encoded_name`` from name_key)."""
    return f"{NAMES}|{encoded_name}|{activity_stamp(moment, suffix)}"


def bucket_key(start: datetime) -> str:
    return f"{BUCKETS}|{start:%Y%m%d%H%M}"
