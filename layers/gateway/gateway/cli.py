"""``gateway-admin`` / ``python -m gateway.cli``: operate keys, teams and spend over HTTP.

Talks to the gateway's admin API, so the same commands work against the local run
(``http://127.0.0.1:4000``, the default) and a deployed stack (``--url https://...``). The master
key comes from ``--master-key`` or ``LITELLM_MASTER_KEY``. Output is JSON on stdout; errors go to
stderr with exit status 1 (HTTP error) or 2 (gateway unreachable).

    gateway-admin create --alias ci --models mock --max-budget 5 --budget-duration 30d --rpm 60
    gateway-admin list
    gateway-admin block sk-...            # or the key's hash
    gateway-admin unblock sk-...
    gateway-admin delete sk-... [sk-...]
    gateway-admin spend --key sk-... --start 2026-11-01
    gateway-admin replay-settlements errors.log   # spend_settle_failed lines from the logs
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

import httpx


class CLIError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _client(args: argparse.Namespace) -> httpx.Client:
    key = args.master_key or os.environ.get("LITELLM_MASTER_KEY")
    if not key:
        raise CLIError("no master key: pass --master-key or set LITELLM_MASTER_KEY", 2)
    return httpx.Client(base_url=args.url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=args.timeout)


def _call(args: argparse.Namespace, method: str, path: str, *, json_body: Any = None, params: dict | None = None) -> Any:
    try:
        with _client(args) as client:
            response = client.request(method, path, json=json_body,
                                      params={k: v for k, v in (params or {}).items() if v is not None})
    except httpx.HTTPError as exc:
        raise CLIError(f"cannot reach gateway at {args.url}: {exc}", 2) from exc
    try:
        body = response.json()
    except ValueError:
        body = {"error": {"message": response.text}}
    if response.status_code >= 400:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise CLIError(f"HTTP {response.status_code}: {message or body}")
    return body


def _key_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for attr, field in (("alias", "key_alias"), ("max_budget", "max_budget"), ("budget_duration", "budget_duration"),
                        ("rpm", "rpm_limit"), ("tpm", "tpm_limit"), ("parallel", "max_parallel_requests"),
                        ("duration", "duration"), ("team", "team_id"), ("user", "user_id")):
        value = getattr(args, attr, None)
        if value is not None:
            body[field] = value
    if getattr(args, "models", None):
        body["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    if getattr(args, "metadata", None):
        try:
            body["metadata"] = json.loads(args.metadata)
        except ValueError as exc:
            raise CLIError(f"--metadata must be JSON: {exc}") from exc
    return body


def cmd_create(args: argparse.Namespace) -> Any:
    return _call(args, "POST", "/key/generate", json_body=_key_body(args))


def cmd_list(args: argparse.Namespace) -> Any:
    return _call(args, "GET", "/key/list", params={"page": args.page, "size": args.size, "team_id": args.team,
                                                   "return_full_object": "true" if args.full else None})


def cmd_info(args: argparse.Namespace) -> Any:
    return _call(args, "GET", "/key/info", params={"key": args.key})


def cmd_block(args: argparse.Namespace) -> Any:
    return _call(args, "POST", "/key/block", json_body={"key": args.key})


def cmd_unblock(args: argparse.Namespace) -> Any:
    return _call(args, "POST", "/key/unblock", json_body={"key": args.key})


def cmd_delete(args: argparse.Namespace) -> Any:
    return _call(args, "POST", "/key/delete", json_body={"keys": args.keys})


def cmd_regenerate(args: argparse.Namespace) -> Any:
    return _call(args, "POST", "/key/regenerate", json_body={"key": args.key})


def cmd_team_create(args: argparse.Namespace) -> Any:
    body = {k: v for k, v in _key_body(args).items() if k not in {"key_alias", "duration", "team_id", "user_id"}}
    if args.team_id:
        body["team_id"] = args.team_id
    if args.alias:
        body["team_alias"] = args.alias
    return _call(args, "POST", "/team/new", json_body=body)


def cmd_team_list(args: argparse.Namespace) -> Any:
    return _call(args, "GET", "/team/list")


def cmd_team_delete(args: argparse.Namespace) -> Any:
    return _call(args, "POST", "/team/delete", json_body={"team_ids": args.team_ids})


def cmd_spend(args: argparse.Namespace) -> Any:
    params = {"api_key": args.key, "team_id": args.team, "user_id": args.user, "request_id": args.request_id,
              "start_date": args.start, "end_date": args.end, "page": args.page, "page_size": args.page_size}
    logs = _call(args, "GET", "/spend/logs", params=params)
    total = sum(float(log.get("spend") or 0) for log in logs)
    return {"count": len(logs), "total_spend": round(total, 10), "logs": logs}


def settlement_records(lines: Any) -> list[dict[str, Any]]:
    """The ``settlement`` objects of ``spend_settle_failed`` lines: raw JSON, a Powertools log line
    (the JSON in ``message``), or either with a prefix such as a CloudWatch timestamp."""
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
            if isinstance(record, dict) and isinstance(record.get("message"), str):
                record = json.loads(record["message"])
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "spend_settle_failed" and "settlement" in record:
            found[str(record.get("request_id"))] = record["settlement"]  # the same request logged twice: once
    return list(found.values())


def cmd_replay(args: argparse.Namespace) -> Any:
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    with stream:
        records = settlement_records(stream)
    results: list[Any] = []
    for start in range(0, len(records), 500):
        results += _call(args, "POST", "/spend/replay", json_body={"settlements": records[start:start + 500]})["results"]
    return {"found": len(records), "results": results}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway-admin", description="Manage gateway keys, teams and spend over HTTP.")
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:4000"),
                        help="gateway base URL (default $GATEWAY_URL or http://127.0.0.1:4000)")
    parser.add_argument("--master-key", default=None, help="admin key (default $LITELLM_MASTER_KEY)")
    parser.add_argument("--timeout", type=float, default=30.0)
    sub = parser.add_subparsers(dest="command", required=True)

    def limits(p: argparse.ArgumentParser) -> None:
        p.add_argument("--alias")
        p.add_argument("--models", help="comma-separated model names")
        p.add_argument("--max-budget", type=float)
        p.add_argument("--budget-duration", help="e.g. 1d, 30d, 1mo")
        p.add_argument("--rpm", type=int)
        p.add_argument("--tpm", type=int)
        p.add_argument("--parallel", type=int, help="max parallel requests")
        p.add_argument("--metadata", help='JSON object, e.g. \'{"role": "admin"}\'')

    p = sub.add_parser("create", help="create a key (prints the sk- token once)")
    limits(p)
    p.add_argument("--duration", help="expiry, e.g. 30d")
    p.add_argument("--team")
    p.add_argument("--user")
    p.set_defaults(fn=cmd_create)

    p = sub.add_parser("list", help="list keys")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--team")
    p.add_argument("--full", action="store_true", help="full key objects (with spend), not just hashes")
    p.set_defaults(fn=cmd_list)

    for name, fn, text in (("info", cmd_info, "show a key with its spend"), ("block", cmd_block, "block a key"),
                           ("unblock", cmd_unblock, "unblock a key"), ("regenerate", cmd_regenerate, "new token, same key")):
        p = sub.add_parser(name, help=text)
        p.add_argument("key", help="the sk- token or its sha256 hash")
        p.set_defaults(fn=fn)

    p = sub.add_parser("delete", help="delete keys")
    p.add_argument("keys", nargs="+")
    p.set_defaults(fn=cmd_delete)

    p = sub.add_parser("team-create", help="create a team")
    limits(p)
    p.add_argument("--team-id")
    p.set_defaults(fn=cmd_team_create)
    p = sub.add_parser("team-list", help="list teams with their spend")
    p.set_defaults(fn=cmd_team_list)
    p = sub.add_parser("team-delete", help="delete teams (and their keys)")
    p.add_argument("team_ids", nargs="+")
    p.set_defaults(fn=cmd_team_delete)

    p = sub.add_parser("replay-settlements", help="record spend from spend_settle_failed log lines (idempotent)")
    p.add_argument("file", help="log lines (CloudWatch export, Powertools JSON or raw), or - for stdin")
    p.set_defaults(fn=cmd_replay)

    p = sub.add_parser("spend", help="spend logs and their total")
    p.add_argument("--key", help="sk- token or hash")
    p.add_argument("--team")
    p.add_argument("--user")
    p.add_argument("--request-id")
    p.add_argument("--start", help="YYYY-MM-DD")
    p.add_argument("--end", help="YYYY-MM-DD (inclusive)")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=1000)
    p.set_defaults(fn=cmd_spend)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.fn(args)
    except CLIError as exc:
        print(f"gateway-admin: {exc}", file=sys.stderr)
        return exc.code
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
