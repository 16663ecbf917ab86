"""The DynamoDB implementation of ``KeyStore`` on the gateway's single table.

Item design (``pk``/``sk``, one GSI ``gsi1`` on ``gsi1pk``/``gsi1sk``; see /tmp/team/keys-design.md):

| item | pk | sk | gsi1pk / gsi1sk | written by |
| --- | --- | --- | --- | --- |
| key config | ``KEY#<sha256>`` | ``META`` | ``KEYS`` / ``<created>#<sha256>`` | admin API only |
| key counters | ``KEY#<sha256>`` | ``USAGE`` | (none: not indexed) | every request |
| team config | ``TEAM#<id>`` | ``META`` | ``TEAMS`` / ``<created>#<id>`` | admin API only |
| team counters | ``TEAM#<id>`` | ``USAGE`` | (none) | every request of its keys |
| spend log | ``KEYLOG#<sha256>`` | ``<start iso>#<request id>`` | ``LOGDAY#<yyyy-mm-dd>`` / ``<start iso>#<request id>`` | settle/release; ``ttl`` |

Config and counters are separate items on purpose: the GSI projects ALL attributes, so a counter
update on an indexed item would cost a second (GSI) write on every request. Counter items carry no
``gsi1pk`` and are never indexed.

Items are read back field by field (``_Fields``): an item with a field of the wrong type (edited by
hand, written by another version) raises ``UndecodableRecord`` naming the field; ``list_keys`` and
``list_teams`` log and skip such items, so one bad item cannot fail a list for everyone.

All calls go through the low-level client from ``gateway.aws`` (``AWS_ENDPOINT_URL`` points it at
moto), values through ``gateway.dynamo.codec`` (numbers in fixed-point text) and failures through
``gateway.dynamo.errors``: connection errors, throttling past botocore's retries and a missing table
become ``StoreUnavailable``; callers turn that into a 503 (fail closed). The table itself is
``gateway.dynamo.table``.
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, TypeVar

from botocore.exceptions import ClientError

from gateway import aws
from gateway.dynamo import errors as dynamo_errors
from gateway.dynamo.codec import deserialize, json_value, serialize, to_dynamo
from gateway.dynamo.errors import TransactionCancelled, condition_failed
from gateway.keys import settings as key_settings
from gateway.keys.errors import AlreadySettled, StoreUnavailable
from gateway.keys.models import ZERO, AccountKind, AccountRecord, BudgetRecord, KeyRecord, SpendLog, TeamRecord, UndecodableRecord, Usage
from gateway.keys.store.base import Kind, KeyStore, Reservation, ReserveResult, Settlement, UsageDelta
from gateway.keys.store.accounts import ACCOUNT_INDEX, ACCOUNT_PK, BUDGET_PK, account_item, account_pk, account_record, budget_item, budget_record
from gateway.keys.store.fields import Fields, config_fields, iso, limits_item, logged, opt_int

logger = logging.getLogger(__name__)
R = TypeVar("R")

#: ``Usage`` field -> short attribute name on the USAGE item (short names keep the hot item small).
USAGE_ATTRS = {
    "spend": "spend",
    "spend_total": "spend_total",
    "reserved": "rsv",
    "committed": "com",
    "period": "bp",
    "window": "win",
    "requests": "rq",
    "tokens": "tk",
    "parallel": "par",
    "active_at": "act",
    "version": "ver",
}

#: a spare admission's record on the USAGE item: ``sp_<id> = {"c": reserved cost, "x": expiry}``
SPARE_PREFIX = "sp_"


def key_item(record: KeyRecord) -> dict[str, Any]:
    return {
        "pk": f"KEY#{record.token}",
        "sk": "META",
        "type": "key",
        "gsi1pk": "KEYS",
        "gsi1sk": f"{iso(record.created_at)}#{record.token}",
        "token": record.token,
        "key_name": record.key_name,
        "key_alias": record.key_alias,
        "models": list(record.models),
        **limits_item(record.limits),
        "expires": record.expires,
        "blocked": record.blocked,
        "metadata": record.metadata or {},
        "team_id": record.team_id,
        "user_id": record.user_id,
        "budget_id": record.budget_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "ver": record.version,
    }


def key_record(raw: dict[str, Any]) -> KeyRecord:
    """The key in a META item; ``UndecodableRecord`` if a field has the wrong type."""
    f = Fields("key", raw)
    return KeyRecord(
        token=f.ident("token"),
        key_name=f.text("key_name"),
        key_alias=f.text("key_alias"),
        expires=f.timestamp("expires"),
        team_id=f.text("team_id"),
        user_id=f.text("user_id"),
        budget_id=f.text("budget_id"),
        **config_fields(f),
    )


def team_item(record: TeamRecord) -> dict[str, Any]:
    return {
        "pk": f"TEAM#{record.team_id}",
        "sk": "META",
        "type": "team",
        "gsi1pk": "TEAMS",
        "gsi1sk": f"{iso(record.created_at)}#{record.team_id}",
        "team_id": record.team_id,
        "team_alias": record.team_alias,
        "models": list(record.models),
        **limits_item(record.limits),
        "blocked": record.blocked,
        "metadata": record.metadata or {},
        "members_with_roles": list(record.members_with_roles),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "ver": record.version,
    }


def team_record(raw: dict[str, Any]) -> TeamRecord:
    """The team in a META item; ``UndecodableRecord`` if a field has the wrong type."""
    f = Fields("team", raw)
    return TeamRecord(
        team_id=f.ident("team_id"),
        team_alias=f.text("team_alias"),
        members_with_roles=f.mappings("members_with_roles"),
        **config_fields(f),
    )


def usage_from(raw: dict[str, Any] | None) -> Usage:
    if not raw:
        return Usage(exists=False)
    a = USAGE_ATTRS
    return Usage(
        spend=Decimal(raw.get(a["spend"], ZERO)),
        spend_total=Decimal(raw.get(a["spend_total"], ZERO)),
        reserved=Decimal(raw.get(a["reserved"], ZERO)),
        committed=Decimal(raw.get(a["committed"], ZERO)),
        period=opt_int(raw.get(a["period"])),
        window=opt_int(raw.get(a["window"])),
        requests=int(raw.get(a["requests"], 0)),
        tokens=int(raw.get(a["tokens"], 0)),
        parallel=int(raw.get(a["parallel"], 0)),
        active_at=float(raw.get(a["active_at"], 0)),
        version=opt_int(raw.get(a["version"])),
        exists=True,
        spares=tuple(sorted((name[len(SPARE_PREFIX):], Decimal(entry["c"]), float(entry["x"]))
                            for name, entry in raw.items() if name.startswith(SPARE_PREFIX))),
    )


def _new_usage_item(pk: str, version: int, usage: Usage | None = None) -> dict[str, Any]:
    u = usage or Usage()
    return {
        "pk": pk,
        "sk": "USAGE",
        "spend": u.spend,
        "spend_total": u.spend_total,
        "rsv": u.reserved,
        "com": u.committed,
        "bp": u.period,
        "win": u.window,
        "rq": u.requests,
        "tk": u.tokens,
        "par": u.parallel,
        "act": Decimal(str(u.active_at)),
        "ver": version,
    }


def log_item(log: SpendLog) -> dict[str, Any]:
    start_iso = iso(log.start_time)
    return {
        "pk": f"KEYLOG#{log.key_hash}",
        "sk": f"{start_iso}#{log.request_id}",
        "type": "spendlog",
        "gsi1pk": f"LOGDAY#{start_iso[:10]}",
        "gsi1sk": f"{start_iso}#{log.request_id}",
        "request_id": log.request_id,
        "api_key": log.key_hash,
        "team_id": log.team_id,
        "user_id": log.user_id,
        "key_alias": log.key_alias,
        "model": log.model,
        "deployment": log.deployment,
        "router": log.router,
        "prompt_tokens": log.prompt_tokens,
        "completion_tokens": log.completion_tokens,
        "total_tokens": log.prompt_tokens + log.completion_tokens,
        "spend": log.cost,
        "latency_ms": Decimal(str(round(log.latency_ms, 3))),
        "status": log.status,
        "error_code": log.error_code,
        "start_time": Decimal(str(log.start_time)),
        "end_time": Decimal(str(log.end_time)),
        "ttl": log.ttl,
        "payload": log.payload,
        "response_id": log.response_id,
        "end_user": log.end_user,
        "request_tags": list(log.request_tags) or None,
        "cache_hit": True if log.cache_hit else None,  # left out when false, like the other optional fields
        "reservation_id": log.reservation_id,
    }


#: what ``log_item`` writes, less ``payload`` (``query_logs(with_payload=False)`` reads these)
_LOG_ATTRS_WITHOUT_PAYLOAD = ("type", "request_id", "api_key", "team_id", "user_id", "key_alias", "model",
                              "deployment", "router", "prompt_tokens", "completion_tokens", "spend", "latency_ms",
                              "status", "error_code", "start_time", "end_time", "ttl", "response_id", "request_tags", "end_user", "cache_hit",
                              "reservation_id")


def spend_log(raw: dict[str, Any]) -> SpendLog:
    return SpendLog(
        request_id=raw["request_id"],
        key_hash=raw["api_key"],
        team_id=raw.get("team_id"),
        user_id=raw.get("user_id"),
        key_alias=raw.get("key_alias"),
        model=raw.get("model", ""),
        deployment=raw.get("deployment"),
        router=json_value(raw.get("router")) if raw.get("router") is not None else None,
        prompt_tokens=int(raw.get("prompt_tokens", 0)),
        completion_tokens=int(raw.get("completion_tokens", 0)),
        cost=Decimal(raw.get("spend", ZERO)),
        latency_ms=float(raw.get("latency_ms", 0)),
        status=int(raw.get("status", 0)),
        error_code=raw.get("error_code"),
        start_time=float(raw.get("start_time", 0)),
        end_time=float(raw.get("end_time", 0)),
        ttl=int(raw.get("ttl", 0)),
        payload=raw.get("payload"),
        response_id=raw.get("response_id"),
        end_user=raw.get("end_user"),
        request_tags=tuple(tag for tag in raw.get("request_tags") or () if isinstance(tag, str)),
        cache_hit=bool(raw.get("cache_hit", False)),
        reservation_id=raw.get("reservation_id"),
    )


# ---------------------------------------------------------------- the store
#: the partition of each kind's META and USAGE items
PK_PREFIX: dict[str, str] = {"key": "KEY#", "team": "TEAM#", **ACCOUNT_PK}


def _pk(kind: Kind, ident: str) -> str:
    return PK_PREFIX[kind] + ident


class _Expr:
    """Collects placeholders for one expression so callers write readable clauses."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def n(self, attr: str) -> str:
        ph = f"#{attr}"
        self.names[ph] = attr
        return ph

    def v(self, value: Any) -> str:
        ph = f":v{len(self.values)}"
        self.values[ph] = value
        return ph

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = serialize(self.values)
        return out


def _delta_update(expr: _Expr, delta: UsageDelta) -> str:
    """``ADD`` clause for a settle/release: keeps ``committed == spend + reserved``."""
    parts = [
        f"{expr.n('spend')} {expr.v(delta.spend)}",
        f"{expr.n('spend_total')} {expr.v(delta.spend)}",
        f"{expr.n('rsv')} {expr.v(-delta.release)}",
        f"{expr.n('com')} {expr.v(delta.spend - delta.release)}",
    ]
    if delta.tokens:
        parts.append(f"{expr.n('tk')} {expr.v(delta.tokens)}")
    if delta.parallel:
        parts.append(f"{expr.n('par')} {expr.v(delta.parallel)}")
    return "ADD " + ", ".join(parts)


def _reservation_conditions(e: _Expr, r: Reservation, *, spend_moves: Decimal, tokens_move: int) -> list[str]:
    """The conditions of ``r``, on the item as it is before a write that also moves ``committed`` by
    ``spend_moves`` and the tokens by ``tokens_move`` (a settle in the same write): limits hold after it."""
    conds = [f"{e.n('ver')} = {e.v(r.version)}", f"{e.n('win')} = {e.v(r.window)}"]
    if r.period is not None:
        conds.append(f"{e.n('bp')} = {e.v(r.period)}")
    if r.budget_cap is not None:
        conds.append(f"{e.n('com')} <= {e.v(r.budget_cap - spend_moves)}")
    if r.rpm is not None:
        conds.append(f"{e.n('rq')} < {e.v(r.rpm)}")
    if r.tpm_cap is not None:
        conds.append(f"{e.n('tk')} <= {e.v(r.tpm_cap - tokens_move)}")
    if r.parallel is not None:
        conds.append(f"{e.n('par')} < {e.v(r.parallel)}")
    return conds


def _spare_record(e: _Expr, r: Reservation) -> list[str]:
    if r.spare is None:
        return []
    spare_id, expires = r.spare
    return [f"{e.n(SPARE_PREFIX + spare_id)} = {e.v({'c': r.cost, 'x': Decimal(str(round(expires, 3)))})}"]


class DynamoDBKeyStore(KeyStore):
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    # ------------------------------------------------------------ low-level
    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        """One client call; infrastructure failures become StoreUnavailable, the rest propagate."""
        return dynamo_errors.call(self.client, op, **kwargs)

    def _get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        out = self._call("get_item", TableName=self.table, Key=serialize({"pk": pk, "sk": sk}), ConsistentRead=consistent)
        return deserialize(out["Item"]) if "Item" in out else None

    def _query_all(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        while True:
            out = self._call("query", TableName=self.table, **kwargs)
            for item in out.get("Items", []):
                yield deserialize(item)
            if "LastEvaluatedKey" not in out:
                return
            kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """TransactionCancelled (with reasons) if cancelled; StoreUnavailable on contention or throttling."""
        dynamo_errors.transact(self.client, items)

    def ping(self) -> None:
        """Readiness: one GetItem (needs only the permission requests use); StoreUnavailable if down."""
        self._get("HEALTH", "PING")

    # ------------------------------------------------------------ config records
    def get_key(self, key_hash: str) -> KeyRecord | None:
        """The key, None if there is none; ``UndecodableRecord`` (logged) if its item is unreadable."""
        raw = self._get(f"KEY#{key_hash}", "META")
        return logged(key_record, raw) if raw else None

    def get_team(self, team_id: str) -> TeamRecord | None:
        """The team, None if there is none; ``UndecodableRecord`` (logged) if its item is unreadable."""
        raw = self._get(f"TEAM#{team_id}", "META")
        return logged(team_record, raw) if raw else None

    def get_usage(self, kind: Kind, ident: str) -> Usage:
        return usage_from(self._get(_pk(kind, ident), "USAGE", consistent=True))

    def create_key(self, record: KeyRecord) -> None:
        self._create_with_usage(key_item(record), record.version)

    def _save(self, item: dict[str, Any], expected_version: int) -> None:
        expr = _Expr()
        cond = f"attribute_exists(pk) AND {expr.n('ver')} = {expr.v(expected_version)}"
        uexpr = _Expr()
        try:
            self._transact([
                {"Put": {"TableName": self.table, "Item": serialize(item), "ConditionExpression": cond, **expr.kwargs()}},
                {"Update": {
                    "TableName": self.table,
                    "Key": serialize({"pk": item["pk"], "sk": "USAGE"}),
                    "UpdateExpression": f"SET {uexpr.n('ver')} = {uexpr.v(item['ver'])}",
                    **uexpr.kwargs(),
                }},
            ])
        except TransactionCancelled as exc:
            raise LookupError(item["pk"]) from exc

    def save_key(self, record: KeyRecord, expected_version: int) -> None:
        self._save(key_item(record), expected_version)

    def delete_keys(self, key_hashes: Iterable[str]) -> None:
        ops = []
        for h in key_hashes:
            for sk in ("META", "USAGE"):
                ops.append({"Delete": {"TableName": self.table, "Key": serialize({"pk": f"KEY#{h}", "sk": sk})}})
        for i in range(0, len(ops), 100):  # TransactWriteItems takes at most 100 actions
            self._transact(ops[i : i + 100])

    def replace_key(self, old_hash: str, record: KeyRecord) -> None:
        usage = self.get_usage("key", old_hash)
        new_pk = f"KEY#{record.token}"
        kept = Usage(spend=usage.spend, spend_total=usage.spend_total, committed=usage.spend, period=usage.period)
        try:
            self._transact([
                {"Put": {"TableName": self.table, "Item": serialize(key_item(record)), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table, "Item": serialize(_new_usage_item(new_pk, record.version, kept))}},
                {"Delete": {"TableName": self.table, "Key": serialize({"pk": f"KEY#{old_hash}", "sk": "META"}),
                            "ConditionExpression": "attribute_exists(pk)"}},
                {"Delete": {"TableName": self.table, "Key": serialize({"pk": f"KEY#{old_hash}", "sk": "USAGE"})}},
            ])
        except TransactionCancelled as exc:
            raise LookupError(old_hash) from exc

    def _listed(self, index_key: str, decode: Callable[[dict[str, Any]], R]) -> list[R]:
        """Every record under ``index_key`` in the GSI, oldest first; unreadable items are logged and
        skipped, so one bad item cannot make a list fail for every admin."""
        items = self._query_all(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=serialize({":p": index_key}),
        )
        records = []
        for item in items:
            try:
                records.append(decode(item))
            except UndecodableRecord as exc:
                logger.warning("skipping undecodable %s %s in a list: field %r", exc.kind, exc.ident, exc.field)
        return records

    def list_keys(self) -> list[KeyRecord]:
        return self._listed("KEYS", key_record)

    def create_team(self, record: TeamRecord) -> None:
        self._create_with_usage(team_item(record), record.version)

    def save_team(self, record: TeamRecord, expected_version: int) -> None:
        self._save(team_item(record), expected_version)

    def delete_team(self, team_id: str) -> None:
        self._transact([
            {"Delete": {"TableName": self.table, "Key": serialize({"pk": f"TEAM#{team_id}", "sk": sk})}}
            for sk in ("META", "USAGE")
        ])

    def list_teams(self) -> list[TeamRecord]:
        return self._listed("TEAMS", team_record)

    # ------------------------------------------------------------ users, customers, budget tiers
    def _create_with_usage(self, item: dict[str, Any], version: int) -> None:
        """A META item and its zeroed USAGE item, or ``KeyError`` if the META item exists."""
        try:
            self._transact([
                {"Put": {"TableName": self.table, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table, "Item": serialize(_new_usage_item(item["pk"], version))}},
            ])
        except TransactionCancelled as exc:
            raise KeyError(item["pk"]) from exc

    def get_account(self, kind: AccountKind, ident: str) -> AccountRecord | None:
        raw = self._get(account_pk(kind, ident), "META")
        return logged(account_record, raw) if raw else None

    def create_account(self, record: AccountRecord) -> None:
        self._create_with_usage(account_item(record), record.version)

    def save_account(self, record: AccountRecord, expected_version: int) -> None:
        self._save(account_item(record), expected_version)

    def delete_account(self, kind: AccountKind, ident: str) -> None:
        self._transact([{"Delete": {"TableName": self.table, "Key": serialize({"pk": account_pk(kind, ident), "sk": sk})}}
                        for sk in ("META", "USAGE")])

    def list_accounts(self, kind: AccountKind) -> list[AccountRecord]:
        return self._listed(ACCOUNT_INDEX[kind], account_record)

    def get_budget(self, budget_id: str) -> BudgetRecord | None:
        raw = self._get(BUDGET_PK + budget_id, "META")
        return logged(budget_record, raw) if raw else None

    def create_budget(self, record: BudgetRecord) -> None:
        try:
            self._call("put_item", TableName=self.table, Item=serialize(budget_item(record)),
                       ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if condition_failed(exc):
                raise KeyError(record.budget_id) from exc
            raise

    def save_budget(self, record: BudgetRecord, expected_version: int) -> None:
        e = _Expr()
        try:
            self._call("put_item", TableName=self.table, Item=serialize(budget_item(record)),
                       ConditionExpression=f"attribute_exists(pk) AND {e.n('ver')} = {e.v(expected_version)}", **e.kwargs())
        except ClientError as exc:
            if condition_failed(exc):
                raise LookupError(record.budget_id) from exc
            raise

    def delete_budget(self, budget_id: str) -> None:
        self._call("delete_item", TableName=self.table, Key=serialize({"pk": BUDGET_PK + budget_id, "sk": "META"}))

    def list_budgets(self) -> list[BudgetRecord]:
        return self._listed("BUDGETS", budget_record)

    # ------------------------------------------------------------ enforcement
    def reserve(self, kind: Kind, ident: str, r: Reservation) -> ReserveResult:
        e = _Expr()
        conds = _reservation_conditions(e, r, spend_moves=ZERO, tokens_move=0)
        sets = [f"{e.n('act')} = {e.v(Decimal(str(round(r.now, 3))))}", *_spare_record(e, r)]
        update = (
            f"SET {', '.join(sets)} "
            f"ADD {e.n('rq')} {e.v(1)}, {e.n('tk')} {e.v(r.tokens)}, {e.n('rsv')} {e.v(r.cost)}, "
            f"{e.n('com')} {e.v(r.cost)}, {e.n('par')} {e.v(1)}"
        )
        try:
            out = self._call(
                "update_item",
                TableName=self.table,
                Key=serialize({"pk": _pk(kind, ident), "sk": "USAGE"}),
                UpdateExpression=update,
                ConditionExpression=" AND ".join(conds),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **e.kwargs(),
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            item = exc.response.get("Item")
            return ReserveResult(False, usage_from(deserialize(item) if item else None))
        return ReserveResult(True, usage_from(deserialize(out.get("Attributes", {}))))

    def reset_usage(self, kind: Kind, ident: str, changes: dict[str, Any], guards: dict[str, Any]) -> bool:
        e = _Expr()
        sets = [f"{e.n(USAGE_ATTRS[f])} = {e.v(to_dynamo(v))}" for f, v in changes.items()]
        conds = ["attribute_exists(pk)"]
        for f, v in guards.items():
            attr = e.n(USAGE_ATTRS[f])
            conds.append(f"attribute_not_exists({attr})" if v is None else f"{attr} = {e.v(to_dynamo(v))}")
        try:
            self._call(
                "update_item",
                TableName=self.table,
                Key=serialize({"pk": _pk(kind, ident), "sk": "USAGE"}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=" AND ".join(conds),
                **e.kwargs(),
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def unreserve(self, kind: Kind, ident: str, r: Reservation) -> None:
        e = _Expr()
        update = (
            f"ADD {e.n('rq')} {e.v(-1)}, {e.n('tk')} {e.v(-r.tokens)}, {e.n('rsv')} {e.v(-r.cost)}, "
            f"{e.n('com')} {e.v(-r.cost)}, {e.n('par')} {e.v(-1)}"
        )
        if r.spare is not None:  # the reservation was recorded as a spare: the record goes too
            update += f" REMOVE {e.n(SPARE_PREFIX + r.spare[0])}"
        self._call(
            "update_item",
            TableName=self.table,
            Key=serialize({"pk": _pk(kind, ident), "sk": "USAGE"}),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk)",
            **e.kwargs(),
        )

    def drop_spare(self, kind: Kind, ident: str, spare_id: str, cost: Decimal, tokens: int, window: int) -> None:
        key = serialize({"pk": _pk(kind, ident), "sk": "USAGE"})
        for same_window in (True, False):
            e = _Expr()
            sp = e.n(SPARE_PREFIX + spare_id)
            adds = [f"{e.n('rsv')} {e.v(-cost)}", f"{e.n('com')} {e.v(-cost)}", f"{e.n('par')} {e.v(-1)}"]
            cond = f"attribute_exists({sp})"
            if same_window:  # its minute is still current: the request and tokens it took are free again
                adds += [f"{e.n('rq')} {e.v(-1)}", f"{e.n('tk')} {e.v(-tokens)}"]
                cond += f" AND {e.n('win')} = {e.v(window)}"
            try:
                self._call("update_item", TableName=self.table, Key=key, ConditionExpression=cond,
                           UpdateExpression=f"REMOVE {sp} ADD " + ", ".join(adds), **e.kwargs())
                return
            except ClientError as exc:
                if not condition_failed(exc):
                    raise

    def reclaim_spares(self, kind: Kind, ident: str, spares: list[tuple[str, Decimal]]) -> bool:
        e = _Expr()
        names = [e.n(SPARE_PREFIX + spare_id) for spare_id, _ in spares]
        total = sum((cost for _, cost in spares), ZERO)
        try:
            self._call(
                "update_item",
                TableName=self.table,
                Key=serialize({"pk": _pk(kind, ident), "sk": "USAGE"}),
                UpdateExpression=(f"REMOVE {', '.join(names)} ADD {e.n('rsv')} {e.v(-total)}, "
                                  f"{e.n('com')} {e.v(-total)}, {e.n('par')} {e.v(-len(spares))}"),
                ConditionExpression=" AND ".join(f"attribute_exists({n})" for n in names),
                **e.kwargs(),
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def commit(self, s: Settlement) -> Usage | None:
        if _two_writes(s):
            return self._commit_two_writes(s)
        log = serialize(log_item(s.log))
        ops: list[dict[str, Any]] = []
        deltas: list[tuple[str, UsageDelta]] = []
        scoped = [("key", s.key_hash, s.key), ("team", s.team_id, s.team)]
        scoped += [(a.kind, a.ident, a.delta) for a in s.accounts]
        for kind, ident, delta in scoped:
            if delta is None or ident is None:
                continue
            e = _Expr()
            update: dict[str, Any] = {
                "TableName": self.table,
                "Key": serialize({"pk": _pk(kind, ident), "sk": "USAGE"}),  # type: ignore[arg-type]
                "UpdateExpression": _delta_update(e, delta),
            }
            if delta.spare is not None:  # settle the spare only while its record is there
                sp = e.n(SPARE_PREFIX + delta.spare)
                update["UpdateExpression"] += f" REMOVE {sp}"
                update["ConditionExpression"] = f"attribute_exists({sp})"
            ops.append({"Update": {**update, **e.kwargs()}})
            deltas.append((kind, delta))
        if not ops:  # master key: only the log (one conditional put, same exactly-once guarantee)
            try:
                self._call("put_item", TableName=self.table, Item=log, ConditionExpression="attribute_not_exists(pk)")
            except ClientError as exc:
                if condition_failed(exc):
                    raise AlreadySettled(s.log.request_id) from exc
                raise
            return None
        ops.append({"Put": {"TableName": self.table, "Item": log, "ConditionExpression": "attribute_not_exists(pk)"}})
        try:
            self._transact(ops)
        except TransactionCancelled as exc:
            if exc.reasons and exc.reasons[-1] == "ConditionalCheckFailed":
                raise AlreadySettled(s.log.request_id) from exc
            gone = {kind for (kind, delta), reason in zip(deltas, exc.reasons)
                    if delta.spare is not None and reason == "ConditionalCheckFailed"}
            if gone:  # reclaimed (limits.py): its reservation and slot are back already; add the spend only
                def unreserved(delta: UsageDelta | None, kind: str) -> UsageDelta | None:
                    if delta is None or kind not in gone:
                        return delta
                    return UsageDelta(spend=delta.spend, release=ZERO, tokens=0, parallel=0)
                return self.commit(replace(s, key=unreserved(s.key, "key"), team=unreserved(s.team, "team")))
            raise StoreUnavailable(f"settle transaction cancelled: {exc.reasons}") from exc
        return None

    def _commit_two_writes(self, s: Settlement) -> Usage | None:
        """A key settled alone, against the ``sp_`` record its admission or its spare left: the spend
        log (a conditional put), then ONE UpdateItem on the key's counters that settles, removes the
        record and, when asked, takes the next spare. 2 write units where the transaction and a
        separate spare took about 5.

        Exactly once without a transaction: the log put is idempotent, and the update is conditional
        on the record, which only this update or a reclaim removes, and a reclaim cannot
        happen while this settlement is fresh (``_two_writes``). Killed between the two writes, the
        log exists and the record stays: a replay skips the put and settles; if nothing replays, the
        reclaim that frees the record finds the log by ``reservation_id`` and settles on its behalf
        (``gateway.keys.reconcile``)."""
        assert s.key is not None and s.key.spare is not None and s.key_hash is not None
        new_log = True
        try:
            self._call("put_item", TableName=self.table, Item=serialize(log_item(s.log)),
                       ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            new_log = False  # a retry or replay: the counters may still be unsettled
        key = serialize({"pk": _pk("key", s.key_hash), "sk": "USAGE"})
        delta, spare_name = s.key, SPARE_PREFIX + s.key.spare
        for next_spare in ((s.next_spare, None) if s.next_spare is not None else (None,)):
            e = _Expr()
            sp = e.n(spare_name)
            spend_moves = delta.spend - delta.release
            adds = {"spend": delta.spend, "spend_total": delta.spend, "rsv": -delta.release, "com": spend_moves,
                    "tk": Decimal(delta.tokens), "par": Decimal(delta.parallel)}
            conds, sets = [f"attribute_exists({sp})"], []
            if next_spare is not None:
                conds += _reservation_conditions(e, next_spare, spend_moves=spend_moves, tokens_move=delta.tokens)
                sets = [f"{e.n('act')} = {e.v(Decimal(str(round(next_spare.now, 3))))}", *_spare_record(e, next_spare)]
                for name, amount in (("rsv", next_spare.cost), ("com", next_spare.cost), ("tk", next_spare.tokens),
                                     ("par", 1), ("rq", 1)):
                    adds[name] = adds.get(name, ZERO) + Decimal(amount)
            add = ", ".join(f"{e.n(name)} {e.v(amount)}" for name, amount in adds.items() if amount or name == "spend")
            update = (f"SET {', '.join(sets)} " if sets else "") + f"REMOVE {sp} ADD {add}"
            try:
                out = self._call("update_item", TableName=self.table, Key=key, UpdateExpression=update,
                                 ConditionExpression=" AND ".join(conds), ReturnValues="ALL_NEW",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD", **e.kwargs())
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                old = deserialize(exc.response.get("Item") or {})
                if spare_name in old:
                    continue  # the next spare does not fit (a limit, a new minute): settle alone
                return self._record_gone(s, new_log)
            return usage_from(deserialize(out.get("Attributes", {}))) if next_spare is not None else None
        raise StoreUnavailable("settle kept failing its condition")  # unreachable: the last try has only one

    def _record_gone(self, s: Settlement, new_log: bool) -> None:
        """The record is gone: settled already (by an earlier try, or by a reclaim that found
        the log). A fresh settlement cannot have been reclaimed without its log (``_two_writes``)."""
        if new_log:
            logger.error("spend of %s not added: its sp_ record (its own or its spare's) was reclaimed while it was fresh (clock skew?)",
                         s.log.request_id)
        raise AlreadySettled(s.log.request_id)

    def find_reserved_log(self, key_hash: str, reservation_id: str, start: float, end: float) -> SpendLog | None:
        e = _Expr()
        query = dict(
            KeyConditionExpression=f"{e.n('pk')} = {e.v('KEYLOG#' + key_hash)} AND {e.n('sk')} BETWEEN "
                                   f"{e.v(iso(start))} AND {e.v(iso(end) + '~')}",
            FilterExpression=f"{e.n('reservation_id')} = {e.v(reservation_id)}", **e.kwargs())
        for raw in self._query_all(**query):  # every page: a busy key has many logs in those minutes
            return spend_log(raw)
        return None

    def settle_reclaimed(self, kind: Kind, ident: str, spare_id: str, reserved: Decimal, spend: Decimal) -> bool:
        e = _Expr()
        sp = e.n(SPARE_PREFIX + spare_id)
        try:
            self._call(
                "update_item", TableName=self.table, Key=serialize({"pk": _pk(kind, ident), "sk": "USAGE"}),
                UpdateExpression=(f"REMOVE {sp} ADD {e.n('spend')} {e.v(spend)}, {e.n('spend_total')} {e.v(spend)}, "
                                  f"{e.n('rsv')} {e.v(-reserved)}, {e.n('com')} {e.v(spend - reserved)}, "
                                  f"{e.n('par')} {e.v(-1)}"),
                ConditionExpression=f"attribute_exists({sp})", **e.kwargs())
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ spend logs
    def query_logs(
        self,
        *,
        key_hash: str | None,
        start: float,
        end: float,
        limit: int,
        team_id: str | None = None,
        user_id: str | None = None,
        request_id: str | None = None,
        with_payload: bool = True,
        router: str | None = None,
    ) -> list[SpendLog]:
        e = _Expr()
        filters = []
        for attr, value in (("team_id", team_id), ("user_id", user_id)):
            if value is not None:
                filters.append(f"{e.n(attr)} = {e.v(value)}")
        if request_id is not None:  # the gateway's request id or the answer's own id (LiteLLM's request_id)
            value = e.v(request_id)
            filters.append(f"({e.n('request_id')} = {value} OR {e.n('response_id')} = {value})")
        if router is not None:  # decisions of one virtual model (the decision map's own ``router`` entry)
            filters.append(f"{e.n('router')}.{e.n('router')} = {e.v(router)}")
        lo, hi = iso(start), iso(end)
        out: list[SpendLog] = []

        def run(index: str | None, pk_attr: str, sk_attr: str, pk_value: str) -> None:
            k = _Expr()
            k.names, k.values = dict(e.names), dict(e.values)
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": f"{k.n(pk_attr)} = {k.v(pk_value)} AND {k.n(sk_attr)} BETWEEN {k.v(lo)} AND {k.v(hi)}",
                "ScanIndexForward": False,
            }
            if index:
                kwargs["IndexName"] = index
            if filters:
                kwargs["FilterExpression"] = " AND ".join(filters)
            if not with_payload:  # every attribute a log has but its (up to 64 KiB) payload text
                kwargs["ProjectionExpression"] = ", ".join(k.n(attr) for attr in _LOG_ATTRS_WITHOUT_PAYLOAD)
            for raw in self._query_all(**kwargs, **k.kwargs()):
                if raw.get("type") != "spendlog" or not (start <= float(raw.get("start_time", 0)) < end):
                    continue
                out.append(spend_log(raw))
                if len(out) >= limit:
                    return

        if key_hash is not None:
            run(None, "pk", "sk", f"KEYLOG#{key_hash}")
        else:
            day = datetime.fromtimestamp(end, timezone.utc).date()
            first = datetime.fromtimestamp(start, timezone.utc).date()
            while day >= first and len(out) < limit:
                run("gsi1", "gsi1pk", "gsi1sk", f"LOGDAY#{day.isoformat()}")
                day -= timedelta(days=1)
        return out[:limit]


def _two_writes(s: Settlement) -> bool:
    """Whether the settlement may skip the transaction: it touches only the key's counters, its
    admission left an ``sp_`` record (its own or its spare's: it makes the counters' update
    conditional, hence idempotent), and it is fresh: started less than half of ``KEY_SLOT_STALE_SECONDS`` ago, so no reclaim
    can have freed its spare yet (``limits.reserve`` reclaims only past that margin). A later replay
    uses the transaction, which also covers a spare reclaimed before its log was written."""
    if s.key is None or s.key.spare is None or s.key_hash is None or s.team is not None or s.accounts:
        return False
    return time.time() - s.log.start_time < key_settings.get().slot_stale_seconds / 2


# ---------------------------------------------------------------- default instance
@functools.lru_cache(maxsize=4)
def _store_for(table: str) -> DynamoDBKeyStore:
    return DynamoDBKeyStore(table)


def default_store() -> DynamoDBKeyStore:
    from gateway.settings import get_settings

    table = get_settings().table_name
    if not table:
        raise StoreUnavailable("GATEWAY_TABLE is not set")
    return _store_for(table)


def now() -> float:
    return time.time()
