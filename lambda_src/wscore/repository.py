"""The single table: every key, expression and query lives here and nowhere else.

Items use only S, N and L-of-S attributes, so (de)serialisation is done by hand: it is
cheaper than boto3's TypeSerializer, which matters on large room queries. No Scan anywhere;
every Query pages through LastEvaluatedKey; reads that decide delivery or presence filter
`expiresAt > now` because DynamoDB's TTL deletion is lazy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from wscore.aws.retry import Failure, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from mypy_boto3_dynamodb import DynamoDBClient

    from wscore.aws.dynamodb import FastDynamoDBClient

Item = dict[str, Any]

GSI1 = "GSI1"
GSI2 = "GSI2"
_BATCH_WRITE_MAX = 25
# Attempts per BatchWriteItem chunk while items come back unprocessed: with the throttling
# backoff the worst wait (1 + 2 + 4 s) stays inside the disconnect handler's 10 s timeout.
_BATCH_WRITE_ATTEMPTS = 4


# -- keys -----------------------------------------------------------------------------
def conn_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def room_pk(tenant_id: str, room_id: str) -> str:
    return f"ROOM#{tenant_id}#{room_id}"


def user_key(tenant_id: str, user_id: str) -> str:
    return f"USER#{tenant_id}#{user_id}"


def tenant_key(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def history_pk(tenant_id: str, room_id: str) -> str:
    return f"HIST#{tenant_id}#{room_id}"


def seq_sk(seq: int) -> str:
    """Zero-padded, so that the sort key orders history by seq."""
    return f"SEQ#{seq:012d}"


# The room's sequence counter lives beside its memberships (SK outside `CONN#`).
SEQUENCE_SK = "SEQUENCE"
# The room's presence counters: `members` (users online) and `flushAt` (a coalesced
# presence flush is scheduled). They sort just before SEQUENCE, so one Query reads both.
PRESENCE_SK = "PRESENCE"
_PENDING = "PENDING#"
_LIVE = "live_"
# Presence items outlive their connections by a day before DynamoDB's TTL may delete them:
# the cleanup of an expired connection (itself started by TTL) must still find them.
PRESENCE_TTL_GRACE_S = 86400
_USER = "USER#"
_BATCH_GET_MAX = 100


def presence_sk(user_id: str) -> str:
    """A user's presence in a room (`USER#` sorts after every other SK of the room)."""
    return f"{_USER}{user_id}"


def pending_sk(user_id: str, token: str) -> str:
    """A presence change waiting for the room's next coalesced flush (unique per change)."""
    return f"{_PENDING}{user_id}#{token}"


def rate_pk(tenant_id: str) -> str:
    """A tenant's sendMessage rate-limit bucket (wscore.limits), with SK `RATE_SK`."""
    return f"RATE#{tenant_id}"


RATE_SK = "TENANT"


# -- attribute values -----------------------------------------------------------------
def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _get_s(item: Mapping[str, Any], name: str, default: str = "") -> str:
    attr = item.get(name)
    return str(attr["S"]) if attr else default


def _get_n(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    attr = item.get(name)
    return int(attr["N"]) if attr else default


def _rooms_attr(rooms: tuple[str, ...]) -> dict[str, str]:
    """The rooms claim as stored: comma-separated patterns, "" meaning any room."""
    return _s(",".join(rooms))


def _get_rooms(item: Mapping[str, Any]) -> tuple[str, ...] | None:
    attr = item.get("rooms")
    if attr is None:
        return None
    return tuple(part for part in str(attr["S"]).split(",") if part)


# -- entities -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Connection:
    """One open WebSocket (item `CONN#{id}` / `META`)."""

    connection_id: str
    tenant_id: str
    user_id: str
    connected_at: int
    expires_at: int
    cap_at: int
    token_exp: int
    endpoint: str
    # The token's rooms claim (`()`: any room); replaced by refreshToken. None for items
    # written before it was stored: the authorizer context then says.
    rooms: tuple[str, ...] | None = None

    def to_item(self) -> Item:
        item = {
            "PK": _s(conn_pk(self.connection_id)),
            "SK": _s("META"),
            "GSI1PK": _s(user_key(self.tenant_id, self.user_id)),
            "GSI1SK": _s(conn_pk(self.connection_id)),
            "GSI2PK": _s(tenant_key(self.tenant_id)),
            "GSI2SK": _s(f"USER#{self.user_id}#CONN#{self.connection_id}"),
            "type": _s("connection"),
            "connectionId": _s(self.connection_id),
            "tenantId": _s(self.tenant_id),
            "userId": _s(self.user_id),
            "connectedAt": _n(self.connected_at),
            "expiresAt": _n(self.expires_at),
            "capAt": _n(self.cap_at),
            "tokenExp": _n(self.token_exp),
            "endpoint": _s(self.endpoint),
        }
        if self.rooms is not None:
            item["rooms"] = _rooms_attr(self.rooms)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Connection:
        return cls(
            connection_id=_get_s(item, "connectionId"),
            tenant_id=_get_s(item, "tenantId"),
            user_id=_get_s(item, "userId"),
            connected_at=_get_n(item, "connectedAt"),
            expires_at=_get_n(item, "expiresAt"),
            cap_at=_get_n(item, "capAt"),
            token_exp=_get_n(item, "tokenExp"),
            endpoint=_get_s(item, "endpoint"),
            rooms=_get_rooms(item),
        )


@dataclass(frozen=True, slots=True)
class Membership:
    """A connection in a room (item `ROOM#{tenant}#{room}` / `CONN#{id}`)."""

    tenant_id: str
    room_id: str
    connection_id: str
    user_id: str
    joined_at: int
    expires_at: int
    # The connection's token expiry, mirrored so that a delivery can skip (and close) a
    # listener whose token has expired without reading its connection. 0: not recorded.
    token_exp: int = 0

    def to_item(self) -> Item:
        return {
            "PK": _s(room_pk(self.tenant_id, self.room_id)),
            "SK": _s(conn_pk(self.connection_id)),
            "GSI1PK": _s(conn_pk(self.connection_id)),
            "GSI1SK": _s(room_pk(self.tenant_id, self.room_id)),
            "type": _s("membership"),
            "tenantId": _s(self.tenant_id),
            "roomId": _s(self.room_id),
            "connectionId": _s(self.connection_id),
            "userId": _s(self.user_id),
            "joinedAt": _n(self.joined_at),
            "expiresAt": _n(self.expires_at),
            "tokenExp": _n(self.token_exp),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Membership:
        return cls(
            tenant_id=_get_s(item, "tenantId"),
            room_id=_get_s(item, "roomId"),
            connection_id=_get_s(item, "connectionId"),
            user_id=_get_s(item, "userId"),
            joined_at=_get_n(item, "joinedAt"),
            expires_at=_get_n(item, "expiresAt"),
            token_exp=_get_n(item, "tokenExp"),
        )

    @property
    def key(self) -> Item:
        return {
            "PK": _s(room_pk(self.tenant_id, self.room_id)),
            "SK": _s(conn_pk(self.connection_id)),
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A stored room message (item `HIST#{tenant}#{room}` / `SEQ#{seq}`), or a tombstone.

    A tombstone (`frame` None) marks a seq that was allocated but never stored: a reader
    writes it so that the late writer's conditional put fails and the seq is skipped for
    good, never delivered after clients moved past it.
    """

    tenant_id: str
    room_id: str
    seq: int
    frame: str | None
    allocated_ms: int  # when the seq was allocated (the writer's clock)
    expires_at: int

    def to_item(self) -> Item:
        item: Item = {
            "PK": _s(history_pk(self.tenant_id, self.room_id)),
            "SK": _s(seq_sk(self.seq)),
            "seq": _n(self.seq),
            "at": _n(self.allocated_ms),
            "expiresAt": _n(self.expires_at),
        }
        if self.frame is not None:
            item["frame"] = _s(self.frame)
        return item

    @classmethod
    def from_item(cls, tenant_id: str, room_id: str, item: Mapping[str, Any]) -> HistoryEntry:
        frame = item.get("frame")
        return cls(
            tenant_id=tenant_id,
            room_id=room_id,
            seq=_get_n(item, "seq"),
            frame=str(frame["S"]) if frame else None,
            allocated_ms=_get_n(item, "at"),
            expires_at=_get_n(item, "expiresAt"),
        )


@dataclass(frozen=True, slots=True)
class PresenceState:
    """A user's presence item as a coalesced flush reads it."""

    online: bool  # at least one connection of the user is in the room
    shown: bool  # the room's members were last told the user is online


@dataclass(frozen=True, slots=True)
class RoomState:
    """The room's counters, read together: users online and the latest seq."""

    members: int = 0
    latest_seq: int = 0


@dataclass(frozen=True, slots=True)
class RoomSequence:
    """A room's counter: the latest allocated seq, when, and where retained history starts."""

    latest: int = 0
    allocated_ms: int = 0
    earliest_hint: int = 1


@dataclass(frozen=True, slots=True)
class RateWrite:
    """A rate-limit bucket write: whether it was made, and the bucket's tat (ms) after it,
    or as stored when it was refused (None: no bucket item)."""

    written: bool
    tat_ms: int | None


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Repository:
    """Data access for connections and memberships on the single table."""

    def __init__(
        self,
        client: FastDynamoDBClient | DynamoDBClient,
        table_name: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        """`retry` paces the re-sending of UnprocessedItems (the client retries its calls)."""
        self._db = client
        self._table = table_name
        self._retry = retry or RetryPolicy(_BATCH_WRITE_ATTEMPTS)

    # -- generic helpers ---------------------------------------------------------------
    def _conditional(self, operation: Callable[..., Any], **params: Any) -> bool:
        """A conditional write; False (nothing written) when its condition does not hold."""
        try:
            operation(TableName=self._table, **params)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _mirror(self, memberships: Iterable[Membership], attribute: str, value: int) -> None:
        """Copy a connection's value onto its memberships (skipping ones removed since)."""
        for membership in memberships:
            self._conditional(
                self._db.update_item,
                Key=membership.key,
                UpdateExpression=f"SET {attribute} = :value",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":value": _n(value)},
            )

    def _query(self, **kwargs: Any) -> Iterator[Item]:
        """Yield every item of a Query, following LastEvaluatedKey."""
        kwargs["TableName"] = self._table
        while True:
            page = self._db.query(**kwargs)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def delete_keys(self, keys: Iterable[Item]) -> int:
        """Batch-delete items by key (25 per call, unprocessed items retried)."""
        pending = [{"DeleteRequest": {"Key": key}} for key in keys]
        count = len(pending)
        for start in range(0, len(pending), _BATCH_WRITE_MAX):
            self._batch_write(pending[start : start + _BATCH_WRITE_MAX])
        return count

    def _batch_write(self, requests: list[Any]) -> None:
        """One BatchWriteItem chunk, re-sending UnprocessedItems until none is left.

        Unprocessed items are DynamoDB throttling part of a batch, so they are retried with
        the policy's throttling backoff, a bounded number of times; then this raises.
        """
        pending = requests

        def write() -> list[Any]:
            nonlocal pending
            out = self._db.batch_write_item(RequestItems={self._table: pending})
            pending = list(out.get("UnprocessedItems", {}).get(self._table, []))
            return pending

        left = self._retry.run(write, lambda rest: Failure.THROTTLING if rest else None)
        if left:
            raise RuntimeError(f"{len(left)} batch deletes still unprocessed after retries")

    # -- connections -------------------------------------------------------------------
    def put_connection(self, conn: Connection) -> bool:
        """Store a new connection; False when the id already exists (a replayed $connect)."""
        return self._conditional(
            self._db.put_item, Item=conn.to_item(), ConditionExpression="attribute_not_exists(PK)"
        )

    def get_connection(self, connection_id: str, now: int) -> Connection | None:
        """The live connection, or None when absent or expired (TTL not yet applied)."""
        out = self._db.get_item(
            TableName=self._table,
            Key={"PK": _s(conn_pk(connection_id)), "SK": _s("META")},
            ConsistentRead=True,
        )
        item = out.get("Item")
        if not item:
            return None
        conn = Connection.from_item(item)
        return conn if conn.expires_at > now else None

    def touch_connection(self, connection_id: str, expires_at: int, now: int) -> bool:
        """Extend a live connection's expiry; False when it is gone or already expired."""
        return self._conditional(
            self._db.update_item,
            Key={"PK": _s(conn_pk(connection_id)), "SK": _s("META")},
            UpdateExpression="SET expiresAt = :exp",
            ConditionExpression="attribute_exists(PK) AND expiresAt > :now",
            ExpressionAttributeValues={":exp": _n(expires_at), ":now": _n(now)},
        )

    def delete_connection(self, connection_id: str) -> Connection | None:
        """Delete the connection item; return what was there (None if already gone)."""
        out = self._db.delete_item(
            TableName=self._table,
            Key={"PK": _s(conn_pk(connection_id)), "SK": _s("META")},
            ReturnValues="ALL_OLD",
        )
        item = out.get("Attributes")
        return Connection.from_item(item) if item else None

    def user_connections(self, tenant_id: str, user_id: str, now: int) -> list[Connection]:
        """Live connections of one user (GSI1)."""
        items = self._query(
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :conn)",
            FilterExpression="expiresAt > :now",
            ExpressionAttributeValues={
                ":pk": _s(user_key(tenant_id, user_id)),
                ":conn": _s("CONN#"),
                ":now": _n(now),
            },
        )
        return [Connection.from_item(item) for item in items]

    def tenant_connections(self, tenant_id: str, now: int) -> Iterator[Connection]:
        """Live connections of a tenant (GSI2), ordered by user."""
        items = self._query(
            IndexName=GSI2,
            KeyConditionExpression="GSI2PK = :pk",
            FilterExpression="expiresAt > :now",
            ExpressionAttributeValues={":pk": _s(tenant_key(tenant_id)), ":now": _n(now)},
        )
        return (Connection.from_item(item) for item in items)

    # -- memberships -------------------------------------------------------------------
    def put_membership(self, membership: Membership) -> Membership | None:
        """Store a membership; return the one it replaced, if any (expired ones included)."""
        out = self._db.put_item(
            TableName=self._table, Item=membership.to_item(), ReturnValues="ALL_OLD"
        )
        old = out.get("Attributes")
        return Membership.from_item(old) if old else None

    def get_membership(
        self, tenant_id: str, room_id: str, connection_id: str, now: int
    ) -> Membership | None:
        """The live membership of a connection in a room, or None."""
        out = self._db.get_item(
            TableName=self._table,
            Key={"PK": _s(room_pk(tenant_id, room_id)), "SK": _s(conn_pk(connection_id))},
            ConsistentRead=True,
        )
        item = out.get("Item")
        if not item:
            return None
        membership = Membership.from_item(item)
        return membership if membership.expires_at > now else None

    def delete_membership(
        self, tenant_id: str, room_id: str, connection_id: str
    ) -> Membership | None:
        """Remove one membership; return it if it existed."""
        out = self._db.delete_item(
            TableName=self._table,
            Key={"PK": _s(room_pk(tenant_id, room_id)), "SK": _s(conn_pk(connection_id))},
            ReturnValues="ALL_OLD",
        )
        item = out.get("Attributes")
        return Membership.from_item(item) if item else None

    def memberships_of(self, connection_id: str) -> list[Membership]:
        """Every membership of a connection, expired ones included (for cleanup)."""
        items = self._query(
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :room)",
            ExpressionAttributeValues={":pk": _s(conn_pk(connection_id)), ":room": _s("ROOM#")},
        )
        return [Membership.from_item(item) for item in items]

    def room_members(self, tenant_id: str, room_id: str, now: int) -> Iterator[Membership]:
        """Live memberships of a room, page by page."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :conn)",
            FilterExpression="expiresAt > :now",
            ExpressionAttributeValues={
                ":pk": _s(room_pk(tenant_id, room_id)),
                ":conn": _s("CONN#"),
                ":now": _n(now),
            },
        )
        return (Membership.from_item(item) for item in items)

    def extend_memberships(self, memberships: Iterable[Membership], expires_at: int) -> None:
        """Mirror a connection's new expiry onto its memberships (skip ones removed since)."""
        self._mirror(memberships, "expiresAt", expires_at)

    def update_token(
        self, connection_id: str, token_exp: int, rooms: tuple[str, ...], now: int
    ) -> bool:
        """Replace a live connection's token expiry and rooms claim (refreshToken)."""
        return self._conditional(
            self._db.update_item,
            Key={"PK": _s(conn_pk(connection_id)), "SK": _s("META")},
            UpdateExpression="SET tokenExp = :texp, #rooms = :rooms",
            ConditionExpression="attribute_exists(PK) AND expiresAt > :now",
            ExpressionAttributeNames={"#rooms": "rooms"},
            ExpressionAttributeValues={
                ":texp": _n(token_exp),
                ":rooms": _rooms_attr(rooms),
                ":now": _n(now),
            },
        )

    def set_memberships_token(self, memberships: Iterable[Membership], token_exp: int) -> None:
        """Mirror a refreshed token expiry onto memberships (skip ones removed since)."""
        self._mirror(memberships, "tokenExp", token_exp)

    # -- room history ------------------------------------------------------------------
    def _sequence_key(self, tenant_id: str, room_id: str) -> Item:
        return {"PK": _s(room_pk(tenant_id, room_id)), "SK": _s(SEQUENCE_SK)}

    def allocate_seq(self, tenant_id: str, room_id: str, now_ms: int) -> int:
        """The room's next seq: one atomic counter update (1 WCU), no read first."""
        out = self._db.update_item(
            TableName=self._table,
            Key=self._sequence_key(tenant_id, room_id),
            UpdateExpression="ADD lastSeq :one SET lastAt = :at",
            ExpressionAttributeValues={":one": _n(1), ":at": _n(now_ms)},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["lastSeq"]["N"])

    def room_sequence(self, tenant_id: str, room_id: str) -> RoomSequence:
        """The room's counter (zeros for a room that never had a persisted message)."""
        out = self._db.get_item(
            TableName=self._table,
            Key=self._sequence_key(tenant_id, room_id),
            ConsistentRead=True,
        )
        item = out.get("Item") or {}
        return RoomSequence(
            latest=_get_n(item, "lastSeq"),
            allocated_ms=_get_n(item, "lastAt"),
            earliest_hint=_get_n(item, "earliestHint", 1),
        )

    def raise_earliest_hint(self, tenant_id: str, room_id: str, seq: int) -> None:
        """Remember where retained history starts, so the next reader starts there."""
        self._conditional(
            self._db.update_item,
            Key=self._sequence_key(tenant_id, room_id),
            UpdateExpression="SET earliestHint = :seq",
            ConditionExpression=(
                "attribute_exists(PK) AND "
                "(attribute_not_exists(earliestHint) OR earliestHint < :seq)"
            ),
            ExpressionAttributeValues={":seq": _n(seq)},
        )

    def put_history(self, entry: HistoryEntry) -> bool:
        """Store a message or a tombstone at its seq; False when that seq is already taken."""
        return self._conditional(
            self._db.put_item, Item=entry.to_item(), ConditionExpression="attribute_not_exists(PK)"
        )

    def history(
        self, tenant_id: str, room_id: str, *, from_seq: int, forward: bool, page_size: int
    ) -> Iterator[HistoryEntry]:
        """Stored entries (expired ones included: the caller decides) from a seq on, page by
        page, ascending; or descending from `from_seq` down with `forward=False`.

        `page_size` bounds each Query (read units are paid per item read, and a caller
        that needs 50 frames should not read a megabyte).
        """
        op = ">=" if forward else "<="
        items = self._query(
            KeyConditionExpression=f"PK = :pk AND SK {op} :sk",
            ExpressionAttributeValues={
                ":pk": _s(history_pk(tenant_id, room_id)),
                ":sk": _s(seq_sk(from_seq)),
            },
            ScanIndexForward=forward,
            Limit=page_size,
        )
        return (HistoryEntry.from_item(tenant_id, room_id, item) for item in items)

    def first_history_at_or_after(
        self, tenant_id: str, room_id: str, seq: int
    ) -> HistoryEntry | None:
        """The first stored entry with a seq >= `seq` (one item read)."""
        out = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND SK >= :sk",
            ExpressionAttributeValues={
                ":pk": _s(history_pk(tenant_id, room_id)),
                ":sk": _s(seq_sk(seq)),
            },
            Limit=1,
        )
        items = out.get("Items", [])
        return HistoryEntry.from_item(tenant_id, room_id, items[0]) if items else None

    # -- presence ----------------------------------------------------------------------
    # One item per user per room (`ROOM#..` / `USER#{user}`) holds the set of the user's
    # connections in the room. Adding or removing a connection is one atomic update whose
    # answer (the set before it) says whether the user came online or went offline, so a
    # transition is decided once, whatever the concurrency of the user's connections.
    def _presence_key(self, tenant_id: str, room_id: str, user_id: str) -> Item:
        return {"PK": _s(room_pk(tenant_id, room_id)), "SK": _s(presence_sk(user_id))}

    def _room_item_key(self, tenant_id: str, room_id: str, sk: str) -> Item:
        return {"PK": _s(room_pk(tenant_id, room_id)), "SK": _s(sk)}

    def add_presence(self, membership: Membership, *, mark_shown: bool) -> bool:
        """Add the membership's connection to its user's presence; True when the user came
        online (the set was empty before). `mark_shown`: the members are told right away
        (a small room); otherwise a new item starts as not shown (a coalesced room).

        Each connection's expiry sits beside the set (`live_{id}`), mirrored like a
        membership's, so a read lists the user only while one of them is unexpired.
        """
        m = membership
        shown = ":one" if mark_shown else "if_not_exists(shown, :zero)"
        out = self._db.update_item(
            TableName=self._table,
            Key=self._presence_key(m.tenant_id, m.room_id, m.user_id),
            UpdateExpression=(
                "ADD conns :cid SET #live = :live, expiresAt = :ttl, #type = :type, "
                f"userId = :user, shown = {shown}"
            ),
            ExpressionAttributeNames={"#type": "type", "#live": _live(m.connection_id)},
            ExpressionAttributeValues={
                ":cid": {"SS": [m.connection_id]},
                ":live": _n(m.expires_at),
                ":ttl": _n(m.expires_at + PRESENCE_TTL_GRACE_S),
                ":type": _s("presence"),
                ":user": _s(m.user_id),
                ":one" if mark_shown else ":zero": _n(1 if mark_shown else 0),
            },
            ReturnValues="ALL_OLD",
        )
        return "conns" not in out.get("Attributes", {})

    def remove_presence(self, membership: Membership) -> bool:
        """Remove the membership's connection from its user's presence; True when that was
        the user's last connection in the room (the user went offline). The item stays
        (without `conns`) until `drop_presence` or a coalesced flush removes it."""
        m = membership
        try:
            out = self._db.update_item(
                TableName=self._table,
                Key=self._presence_key(m.tenant_id, m.room_id, m.user_id),
                UpdateExpression="DELETE conns :cid REMOVE #live",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#live": _live(m.connection_id)},
                ExpressionAttributeValues={":cid": {"SS": [m.connection_id]}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False  # no presence item: joined before presence was tracked
            raise
        before = out.get("Attributes", {}).get("conns", {}).get("SS", [])
        return list(before) == [m.connection_id]

    def drop_presence(self, tenant_id: str, room_id: str, user_id: str) -> bool:
        """Delete a user's presence item if the user is still offline."""
        return self._conditional(
            self._db.delete_item,
            Key=self._presence_key(tenant_id, room_id, user_id),
            ConditionExpression="attribute_not_exists(conns)",
        )

    def mark_shown(self, tenant_id: str, room_id: str, user_id: str, shown: bool) -> None:
        """Record what the members were told of the user (skipped if the item is gone)."""
        self._conditional(
            self._db.update_item,
            Key=self._presence_key(tenant_id, room_id, user_id),
            UpdateExpression="SET shown = :shown",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":shown": _n(int(shown))},
        )

    def extend_presence(self, memberships: Iterable[Membership], expires_at: int) -> None:
        """Mirror a connection's new expiry onto its users' presence items."""
        for m in memberships:
            self._conditional(
                self._db.update_item,
                Key=self._presence_key(m.tenant_id, m.room_id, m.user_id),
                UpdateExpression="SET #live = :live, expiresAt = :ttl",
                ConditionExpression="contains(conns, :cid)",
                ExpressionAttributeNames={"#live": _live(m.connection_id)},
                ExpressionAttributeValues={
                    ":cid": _s(m.connection_id),
                    ":live": _n(expires_at),
                    ":ttl": _n(expires_at + PRESENCE_TTL_GRACE_S),
                },
            )

    def count_members(self, tenant_id: str, room_id: str, delta: int) -> int:
        """Add `delta` to the room's count of users online; the new count."""
        out = self._db.update_item(
            TableName=self._table,
            Key=self._room_item_key(tenant_id, room_id, PRESENCE_SK),
            UpdateExpression="ADD members :delta",
            ExpressionAttributeValues={":delta": _n(delta)},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["members"]["N"])

    def room_state(self, tenant_id: str, room_id: str) -> RoomState:
        """The room's member count and latest seq (one Query over its two counter items)."""
        out = self._db.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :presence AND :sequence",
            ExpressionAttributeValues={
                ":pk": _s(room_pk(tenant_id, room_id)),
                ":presence": _s(PRESENCE_SK),
                ":sequence": _s(SEQUENCE_SK),
            },
            ConsistentRead=True,
        )
        items = {_get_s(item, "SK"): item for item in out.get("Items", [])}
        return RoomState(
            members=max(0, _get_n(items.get(PRESENCE_SK, {}), "members")),
            latest_seq=_get_n(items.get(SEQUENCE_SK, {}), "lastSeq"),
        )

    def online_users(
        self, tenant_id: str, room_id: str, after: str | None, limit: int, now: int
    ) -> tuple[list[str], bool]:
        """A page of the room's online users in id order after `after`; and whether more
        follow. Reads about `limit` items, whatever the room's size."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND SK > :after",
            ExpressionAttributeValues={
                ":pk": _s(room_pk(tenant_id, room_id)),
                ":after": _s(presence_sk(after or "")),
            },
            Limit=limit + 1,
        )
        # Filtered here, not by a FilterExpression: one unexpired connection is enough, and
        # a filter would not make the read cheaper (DynamoDB charges what it reads).
        live = (item for item in items if _any_live(item, now))
        users = [_get_s(item, "userId") for item in _take(live, limit + 1)]
        return users[:limit], len(users) > limit

    def tenant_users(
        self, tenant_id: str, after: str | None, limit: int, now: int
    ) -> tuple[list[str], bool]:
        """A page of the tenant's online users in id order after `after` (GSI2 is sorted by
        user, then connection); and whether more follow."""
        condition = "GSI2PK = :pk"
        values = {":pk": _s(tenant_key(tenant_id)), ":now": _n(now)}
        if after is not None:
            # `$` sorts right after `#` and before every character of an id.
            condition += " AND GSI2SK > :after"
            values[":after"] = _s(f"USER#{after}$")
        items = self._query(
            IndexName=GSI2,
            KeyConditionExpression=condition,
            FilterExpression="expiresAt > :now",
            ExpressionAttributeValues=values,
            Limit=limit + 1,
        )
        users = _take(_distinct(_get_s(item, "userId") for item in items), limit + 1)
        return users[:limit], len(users) > limit

    # -- coalesced presence ------------------------------------------------------------
    def add_pending(self, tenant_id: str, room_id: str, user_id: str, token: str, ttl: int) -> None:
        """Record that a user's presence changed, for the room's next flush."""
        self._db.put_item(
            TableName=self._table,
            Item={
                **self._room_item_key(tenant_id, room_id, pending_sk(user_id, token)),
                "userId": _s(user_id),
                "expiresAt": _n(ttl),
            },
        )

    def schedule_flush(self, tenant_id: str, room_id: str, due: int, stale_before: int) -> bool:
        """Claim the room's next flush; False when one is already scheduled (and not stale:
        a flush whose job was lost is claimed again once `stale_before` passes its time)."""
        return self._conditional(
            self._db.update_item,
            Key=self._room_item_key(tenant_id, room_id, PRESENCE_SK),
            UpdateExpression="SET flushAt = :due",
            ConditionExpression="attribute_not_exists(flushAt) OR flushAt < :stale",
            ExpressionAttributeValues={":due": _n(due), ":stale": _n(stale_before)},
        )

    def start_flush(self, tenant_id: str, room_id: str) -> None:
        """Release the flush claim before reading: a change from now on schedules the next."""
        self._conditional(
            self._db.update_item,
            Key=self._room_item_key(tenant_id, room_id, PRESENCE_SK),
            UpdateExpression="REMOVE flushAt",
            ConditionExpression="attribute_exists(PK)",
        )

    def pending_changes(self, tenant_id: str, room_id: str) -> list[tuple[str, Item]]:
        """The room's pending changes: (user id, item key), oldest first per user."""
        items = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :pending)",
            ExpressionAttributeValues={
                ":pk": _s(room_pk(tenant_id, room_id)),
                ":pending": _s(_PENDING),
            },
            ProjectionExpression="PK, SK, userId",
            ConsistentRead=True,
        )
        return [(_get_s(i, "userId"), {"PK": i["PK"], "SK": i["SK"]}) for i in items]

    def presence_states(
        self, tenant_id: str, room_id: str, user_ids: list[str]
    ) -> dict[str, PresenceState]:
        """The presence items of these users (a user without one is absent), read strongly."""
        states: dict[str, PresenceState] = {}
        for start in range(0, len(user_ids), _BATCH_GET_MAX):
            keys = [
                self._presence_key(tenant_id, room_id, u)
                for u in user_ids[start : start + _BATCH_GET_MAX]
            ]
            for item in self._batch_get(keys):
                states[_get_s(item, "userId")] = PresenceState(
                    online=bool(item.get("conns")), shown=_get_n(item, "shown") == 1
                )
        return states

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        """One BatchGetItem, re-asking for UnprocessedKeys with the throttling backoff."""
        found: list[Item] = []
        request: Any = {"Keys": keys, "ConsistentRead": True}

        def read() -> Any:
            nonlocal request
            out = self._db.batch_get_item(RequestItems={self._table: request})
            found.extend(out.get("Responses", {}).get(self._table, []))
            left = out.get("UnprocessedKeys", {}).get(self._table)
            if left:
                request = left
            return left

        if self._retry.run(read, lambda rest: Failure.THROTTLING if rest else None):
            raise RuntimeError("batch reads still unprocessed after retries")
        return found

    # -- rate limits -------------------------------------------------------------------
    def take_rate_token(
        self, tenant_id: str, now_ms: int, interval_ms: int, tolerance_ms: int, *, bursting: bool
    ) -> RateWrite:
        """One GCRA step on the tenant's bucket (wscore.limits): one conditional UpdateItem,
        1 write unit whether it is made or refused.

        Idle (`bursting` False): no item, or tat <= now; tat becomes now + T. Bursting:
        now < tat <= now + tau; tat grows by T. A refused write returns the stored tat
        (ReturnValuesOnConditionCheckFailure), so the caller needs no read. The item expires
        (TTL) once it is certainly idle again; an expired one not yet deleted is idle too.
        """
        values = {":now": _n(now_ms), ":exp": _n((now_ms + tolerance_ms + interval_ms) // 1000 + 1)}
        if bursting:
            update = "SET tat = tat + :t, expiresAt = :exp"
            condition = "tat > :now AND tat <= :limit"
            values |= {":t": _n(interval_ms), ":limit": _n(now_ms + tolerance_ms)}
        else:
            update = "SET tat = :tat, expiresAt = :exp"
            condition = "attribute_not_exists(tat) OR tat <= :now"
            values[":tat"] = _n(now_ms + interval_ms)
        try:
            out = self._db.update_item(
                TableName=self._table,
                Key={"PK": _s(rate_pk(tenant_id)), "SK": _s(RATE_SK)},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            stored = exc.response.get("Item")  # ReturnValuesOnConditionCheckFailure
            tat = stored.get("tat") if isinstance(stored, dict) else None
            return RateWrite(False, None if tat is None else int(tat["N"]))
        return RateWrite(True, _get_n(out["Attributes"], "tat"))


def _live(connection_id: str) -> str:
    """The attribute of a presence item holding one of its connections' expiry."""
    return f"{_LIVE}{connection_id}"


def _any_live(item: Mapping[str, Any], now: int) -> bool:
    return any(k.startswith(_LIVE) and int(v["N"]) > now for k, v in item.items())


def _distinct(values: Iterable[str]) -> Iterator[str]:
    """Values without repeats, lazily (a user's connections are adjacent in GSI2)."""
    last: str | None = None
    for value in values:
        if value != last:
            yield value
        last = value


def _take(items: Iterable[Any], count: int) -> list[Any]:
    """The first `count` items (stops a paged Query once enough are read)."""
    taken: list[Any] = []
    for item in items:
        taken.append(item)
        if len(taken) == count:
            break
    return taken
