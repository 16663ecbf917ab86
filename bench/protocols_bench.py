"""Anthropic Messages and OpenAI Responses next to chat completions and the upstream called directly.

One uvicorn gateway (the streaming function's server) on moto's S3 and DynamoDB and the fake
upstream, master key and a virtual key (auth, budget, spend). Printed, all from the same run:
- added latency at c=1: p50/p99 of each protocol through the gateway minus the same request's p50/p99
  straight to the fake upstream (chat for chat and Responses on the OpenAI wire, Messages on the
  Anthropic wire: each protocol's direct baseline is what its deployment speaks);
- stream time to first byte (first SSE ``data:`` line) through the gateway and direct;
- the cost of a stored response: DynamoDB item bytes per turn of one conversation continued with
  ``previous_response_id`` (the item holds the whole conversation, compressed), the write and
  read units that implies (on-demand: 1 WRU per KB written, 0.5 RRU per 4 KB read, strongly
  consistent = 1 RRU per 4 KB), and the added latency of ``store: true`` against ``store: false``.

Results: printed as markdown tables and saved to bench/results/protocols.json.

Usage: python bench/protocols_bench.py [--requests 200]
"""
from __future__ import annotations

import argparse
import random
import sys
import time

from common import save_results, summary, table, stop_process
from cost_model import read_units, write_units
from gateway_bench import Bench

OPENAI_BODY = {"model": "fake", "messages": [{"role": "user", "content": "benchmark prompt"}], "max_tokens": 16}
RESPONSES_BODY = {"model": "fake", "input": "benchmark prompt", "max_output_tokens": 16}
MESSAGES_BODY = {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "benchmark prompt"}]}
DIRECT_MESSAGES_BODY = {**MESSAGES_BODY, "model": "claude-bench"}
TURNS = 20


def _timed(client, url: str, body: dict, headers: dict[str, str], n: int, clean=lambda data: None) -> list[float]:
    out = []
    for i in range(n + 10):
        started = time.perf_counter()
        response = client.post(url, json=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        if i >= 10:  # the first few warm the connection and the server
            out.append(elapsed)
        clean(response.json())  # untimed
    return out


def _cleaner(dynamodb, token: str, master: str):
    """Delete the key's spend logs and the stored response after each request, untimed: moto
    deep-copies its whole table on every transaction, so a growing table would measure moto
    (``_mangum_worker.py`` does the same for the other benchmark)."""
    import hashlib

    partition = "KEYLOG#master" if token == master else "KEYLOG#" + hashlib.sha256(token.encode()).hexdigest()

    def clean(data: dict) -> None:
        items = dynamodb.query(TableName="bench", KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": partition}}, ProjectionExpression="pk, sk")["Items"]
        if str(data.get("id", "")).startswith("resp_"):
            items.append({"pk": {"S": f"RESP#{data['id']}"}, "sk": {"S": "META"}})
        for item in items:
            dynamodb.delete_item(TableName="bench", Key=item)

    return clean


def _ttfb(client, url: str, body: dict, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for i in range(n + 10):
        started = time.perf_counter()
        with client.stream("POST", url, json={**body, "stream": True}, headers=headers) as response:
            seen = False
            for line in response.iter_lines():
                if not seen and line.startswith("data:"):
                    seen = True
                    if i >= 10:
                        out.append((time.perf_counter() - started) * 1000)
    return out


def _message(turn: int) -> str:
    """About 450 characters of varied words (repeated text would compress far better than a real turn)."""
    rng = random.Random(turn)
    words = [rng.choice(_VOCABULARY) + rng.choice(("", "s", "ed", "ing")) for _ in range(75)]
    return f"turn {turn}: " + " ".join(words)


_VOCABULARY = ("function class module error value return parse config request response token budget model "
               "stream event table item key limit route deploy lambda bucket object write read cache retry "
               "timeout header status client server proxy gateway router decision artifact weight feature "
               "test build release version patch merge branch commit review issue note file line column").split()


def _units(item_bytes: int) -> tuple[int, int]:
    """(write units, strongly consistent read units) of one item of this size, on-demand."""
    return write_units(item_bytes), int(read_units(item_bytes, consistent=True))


class ProtocolsBench(Bench):
    def dynamodb(self):
        import boto3

        from gateway_dev.devstack import FAKE_CREDENTIALS

        return boto3.client("dynamodb", endpoint_url=self.moto.endpoint,
                            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
                            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def stored_turns(self, base: str, headers: dict[str, str]) -> list[list[object]]:
        import httpx

        from gateway.responses.store import item_size

        dynamodb = self.dynamodb()
        rows, previous = [], None
        with httpx.Client(timeout=30) as client:
            for turn in range(1, TURNS + 1):
                body = {**RESPONSES_BODY, "input": _message(turn)}
                if previous:
                    body["previous_response_id"] = previous
                previous = client.post(base + "/v1/responses", json=body, headers=headers).json()["id"]
                item = dynamodb.get_item(TableName="bench", Key={"pk": {"S": f"RESP#{previous}"}, "sk": {"S": "META"}})["Item"]
                if turn in (1, 2, 5, 10, TURNS):
                    size = item_size(item)
                    writes, reads = _units(size)
                    rows.append([turn, size, writes, reads])
        return rows

    def run(self) -> None:
        import httpx

        self.setup()
        proc = None
        try:
            proc, base = self.start_gateway_http()
            key = self.virtual_key(base)
            keys = {"master": self.master, **({"virtual": key} if key else {})}
            direct_openai = {"authorization": "Bearer fake-upstream-key"}
            direct_anthropic = {"x-api-key": "fake-upstream-key", "anthropic-version": "2023-06-01"}
            n = self.n
            rows, streams = [], []
            with httpx.Client(timeout=30) as client:
                chat_direct = summary(_timed(client, self.upstream_url + "/chat/completions", {**OPENAI_BODY, "model": "fake-ok"}, direct_openai, n))
                messages_direct = summary(_timed(client, self.upstream_url + "/messages", DIRECT_MESSAGES_BODY, direct_anthropic, n))
                rows.append(["upstream direct: chat completions (baseline)", "-", chat_direct["p50"], chat_direct["p99"], "-", "-"])
                rows.append(["upstream direct: Anthropic /v1/messages (baseline)", "-", messages_direct["p50"], messages_direct["p99"], "-", "-"])
                cases = [("chat completions", "/v1/chat/completions", OPENAI_BODY, chat_direct),
                         ("Responses, store: false", "/v1/responses", {**RESPONSES_BODY, "store": False}, chat_direct),
                         ("Responses, store: true", "/v1/responses", RESPONSES_BODY, chat_direct),
                         ("Anthropic Messages", "/v1/messages", MESSAGES_BODY, messages_direct)]
                dynamodb = self.dynamodb()
                for label, token in keys.items():
                    headers = {"authorization": f"Bearer {token}"}
                    clean = _cleaner(dynamodb, token, self.master)
                    for name, path, body, baseline in cases:
                        s = summary(_timed(client, base + path, body, headers, n, clean))
                        rows.append([f"gateway: {name}", label, s["p50"], s["p99"], s["p50"] - baseline["p50"],
                                     s["p99"] - baseline["p99"]])
                master = {"authorization": f"Bearer {self.master}"}
                chat_ttfb = summary(_ttfb(client, self.upstream_url + "/chat/completions", {**OPENAI_BODY, "model": "fake-ok"}, direct_openai, n))
                messages_ttfb = summary(_ttfb(client, self.upstream_url + "/messages", DIRECT_MESSAGES_BODY, direct_anthropic, n))
                streams.append(["upstream direct: chat completions (baseline)", chat_ttfb["p50"], chat_ttfb["p99"], "-"])
                streams.append(["upstream direct: Anthropic /v1/messages (baseline)", messages_ttfb["p50"], messages_ttfb["p99"], "-"])
                for name, path, body, baseline in [("chat completions", "/v1/chat/completions", OPENAI_BODY, chat_ttfb),
                                                   ("Responses", "/v1/responses", RESPONSES_BODY, chat_ttfb),
                                                   ("Anthropic Messages", "/v1/messages", MESSAGES_BODY, messages_ttfb)]:
                    s = summary(_ttfb(client, base + path, body, master, n))
                    streams.append([f"gateway: {name}", s["p50"], s["p99"], s["p50"] - baseline["p50"]])
            stored = self.stored_turns(base, {"authorization": f"Bearer {self.master}"})
        finally:
            if proc is not None:
                stop_process(proc)
            self.teardown()
        print(f"\n## Added latency, c=1 (n={self.n} per row; added = minus the direct call of the same wire format)\n")
        print(table(rows, ["path", "key", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms"]))
        print(f"\n## Stream time to first byte, c=1, master key (n={self.n})\n")
        print(table(streams, ["path", "p50 ms", "p99 ms", "added p50 ms"]))
        print(f"\n## A stored response per turn (one conversation, {TURNS} turns of ~450 characters of varied words)\n")
        print(table(stored, ["turn", "item bytes (compressed conversation)", "write units", "read units (consistent)"]))
        for note in self.notes:
            print("note:", note)
        save_results("protocols", {
            "requests": self.n,
            "added": [dict(zip(("path", "key", "p50", "p99", "added_p50", "added_p99"), r)) for r in rows],
            "ttfb": [dict(zip(("path", "p50", "p99", "added_p50"), r)) for r in streams],
            "stored_turns": [dict(zip(("turn", "item_bytes", "write_units", "read_units"), r)) for r in stored],
            "notes": self.notes})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    ProtocolsBench(args.requests, skip_proxy=True).run()


if __name__ == "__main__":
    sys.exit(main())
