"""Footprint and speed of the gateway, side by side with LiteLLM's own proxy.

Prints one table. Every figure has a baseline measured in the same run:
- cold start: a fresh process importing the Lambda handler (config from moto's S3, litellm warm-up)
  and answering its first request; against `import litellm` alone and against LiteLLM's proxy
  (`litellm[proxy]` in .venv-proxy, same config) answering its first request;
- warm overhead: p50/p99 latency added over a direct call to the fake upstream, through the Mangum
  handler in-process and through uvicorn over HTTP, at concurrency 1 and 16, with the master key and
  with a virtual key (auth, budget, spend on moto's DynamoDB); LiteLLM's proxy with its master key
  (its virtual keys need Postgres + Prisma engines it downloads at start: impossible offline);
- memory: peak RSS after the load (>= 1,000 requests) for both servers;
- streaming: time to the first SSE chunk through uvicorn against the upstream's own first chunk;
- metering (untimed): DynamoDB write/read units and S3 requests of each invocation, with the Lambda
  extension (the buffered function) and settled inline with ``stream: true`` (the streaming function's
  pattern), and the S3 requests of one hot-reload check; ``cost_bench.py`` turns these into dollars;
- size: the unzipped `sam build` output (function + layers), against 250 MB.

Results: printed as markdown tables and saved to bench/results/gateway.json.

Usage: python bench/gateway_bench.py [--requests 1000] [--skip-proxy] [--skip-package]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from common import BASE_ENV, ROOT, peak_rss_mib, save_results, start_process, stop_process, summary, table, wait_http

from gateway_dev import devstack

PROXY_VENV = ROOT / ".venv-proxy"
LOGS = ROOT / "bench" / "results"
#: litellm's own cold first call, the second cold-start baseline: its first ``acompletion`` imports
#: the openai SDK's resources and ``litellm.proxy._types``, which ``import litellm`` does not
LITELLM_FIRST_CALL = """import asyncio, litellm
asyncio.run(litellm.acompletion(model="openai/fake", api_base="{url}", api_key="x",
                                messages=[{{"role": "user", "content": "benchmark prompt"}}], max_tokens=16))"""
BODY = {"model": "fake", "messages": [{"role": "user", "content": "benchmark prompt"}], "max_tokens": 16}
METERED_REQUESTS = 20


async def _load(url: str, headers: dict[str, str], n: int, concurrency: int, body: dict | None = None) -> tuple[list[float], dict[int, int]]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def worker() -> None:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                resp = await client.post(url, json=body or BODY, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses


def load(url: str, headers: dict[str, str], n: int, concurrency: int, body: dict | None = None) -> tuple[list[float], dict[int, int]]:
    # warm the connection pool and the server first
    asyncio.run(_load(url, headers, min(50, n), concurrency, body))
    return asyncio.run(_load(url, headers, n, concurrency, body))


def time_to_first_byte(url: str, headers: dict[str, str], n: int) -> list[float]:
    """Milliseconds from sending a streaming request to its first SSE data line."""
    import httpx

    body = {**BODY, "stream": True}
    out = []
    with httpx.Client(timeout=30) as client:
        for i in range(n + 10):
            started = time.perf_counter()
            with client.stream("POST", url, json=body, headers=headers) as resp:
                seen = False
                for line in resp.iter_lines():  # read to the end so the connection is reused
                    if not seen and line.startswith("data:"):
                        seen = True
                        if i >= 10:  # the first few warm the connection and the server
                            out.append((time.perf_counter() - started) * 1000)
    return out


class Bench:
    def __init__(self, requests: int, skip_proxy: bool, skip_package: bool = False) -> None:
        self.n = requests
        self.skip_proxy = skip_proxy
        self.skip_package = skip_package
        self.master = "sk-" + secrets.token_hex(24)  # LiteLLM 1.106 refuses weak master keys
        self.rows: list[list[object]] = []
        self.records: list[dict[str, object]] = []  # the rows above, keyed, for the JSON results
        self.notes: list[str] = []
        LOGS.mkdir(parents=True, exist_ok=True)

    # -- environment ---------------------------------------------------------------------------
    def setup(self) -> None:
        self.upstream_port = devstack.free_port()
        self.upstream = start_process([sys.executable, "-m", "tests.support.upstream", "--port", str(self.upstream_port)],
                                      {}, LOGS / "upstream.log")
        self.upstream_url = f"http://127.0.0.1:{self.upstream_port}/v1"
        wait_http(self.upstream_url + "/models")
        self.moto = devstack.MotoServer.start()
        devstack.create_bucket("bench", self.moto.endpoint)
        devstack.create_table("bench", self.moto.endpoint)
        devstack.upload_file("bench", "config/config.yaml", ROOT / "bench" / "config.yaml", self.moto.endpoint)
        router_dir = ROOT / "router" / "artifacts" / "default"
        if router_dir.is_dir():
            devstack.upload_dir("bench", "router/default/", router_dir, self.moto.endpoint)
        self.env = {
            **BASE_ENV, **self.moto.environ(),
            "LITELLM_MASTER_KEY": self.master,
            "FAKE_UPSTREAM_URL": self.upstream_url,
            "CONFIG_S3_BUCKET": "bench", "CONFIG_S3_KEY": "config/config.yaml",
            "LLMROUTER_MODEL_S3_BUCKET": "bench", "LLMROUTER_MODEL_S3_KEY": "router/default/",
            "GATEWAY_TABLE": "bench",
        }
        self.env.pop("LITELLM_CONFIG_PATH", None)

    def teardown(self) -> None:
        stop_process(self.upstream)
        self.moto.stop()

    # -- measurements --------------------------------------------------------------------------
    def worker(self, mode: str, key: str, n: int = 0, extra_env: dict[str, str] | None = None) -> dict:
        started = time.time()
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / "_mangum_worker.py"), mode, key, str(n)],
                              env={**os.environ, **self.env, **(extra_env or {})}, capture_output=True, text=True,
                              timeout=900)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("{\"")]
        if proc.returncode or not lines:
            raise RuntimeError(f"worker failed: {proc.stderr[-2000:]}")
        result = json.loads(lines[-1])
        result["spawned"] = started
        return result

    def load_in_chunks(self, url: str, key: str, n: int, concurrency: int, chunk: int = 100) -> tuple[list[float], dict[int, int]]:
        from _mangum_worker import _spend_log_cleaner

        os.environ.update({k: v for k, v in self.env.items() if k.startswith("AWS_") or k in ("GATEWAY_TABLE", "LITELLM_MASTER_KEY")})
        clean = _spend_log_cleaner(key)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            headers = {"authorization": f"Bearer {key}"}
            lat, st = load(url, headers, size, concurrency) if start == 0 else asyncio.run(_load(url, headers, size, concurrency))
            latencies += lat
            for code, count in st.items():
                statuses[code] = statuses.get(code, 0) + count
            clean()
        return latencies, statuses

    def cold_starts(self) -> dict[str, float]:
        out: dict[str, float] = {}
        runs = [self.worker("cold", self.master) for _ in range(3)]
        out["gateway"] = sorted(r["end"] - r["spawned"] for r in runs)[1]
        out["gateway_import"] = sorted(r["import_s"] for r in runs)[1]
        out["gateway_first_request"] = sorted(r["first_request_s"] for r in runs)[1]
        out["import_litellm"] = self._baseline_start("import litellm")
        out["litellm_first_call"] = self._baseline_start(LITELLM_FIRST_CALL.format(url=self.upstream_url))
        return out

    def _baseline_start(self, code: str) -> float:
        """Median of 3: seconds from spawning ``python -c code`` to the end of ``code``, timed inside.

        Not the process's whole life: after ``import litellm`` the interpreter's exit alone takes
        about 0.8 s here (module teardown), which no cold start pays, so timing the process from
        outside would flatter the gateway by that much."""
        times = []
        for _ in range(3):
            t0 = time.time()
            proc = subprocess.run([sys.executable, "-c", code + "\nimport time as _t; print(_t.time())"],
                                  env={**os.environ, **self.env}, check=True, capture_output=True, text=True)
            times.append(float(proc.stdout.split()[-1]) - t0)
        return sorted(times)[1]

    def start_gateway_http(self, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
        port = devstack.free_port()
        proc = start_process([sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1", "--port", str(port),
                              "--log-level", "warning", "--no-access-log"], {**self.env, **(extra_env or {})},
                             LOGS / "gateway-uvicorn.log")
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/_health/live", timeout=120)
        return proc, base

    def virtual_key(self, base: str) -> str | None:
        import httpx

        resp = httpx.post(base + "/key/generate", headers={"authorization": f"Bearer {self.master}"},
                          json={"key_alias": "bench", "max_budget": 1000.0, "rpm_limit": 10_000_000, "tpm_limit": 10_000_000_000})
        if resp.status_code != 200:
            self.notes.append(f"virtual key: /key/generate answered {resp.status_code}; virtual-key rows skipped")
            return None
        return resp.json()["key"]

    def start_proxy(self) -> tuple[subprocess.Popen, str, float]:
        port = devstack.free_port()
        env = {**BASE_ENV, "LITELLM_MASTER_KEY": self.master, "FAKE_UPSTREAM_URL": self.upstream_url,
               "PATH": f"{PROXY_VENV / 'bin'}:{os.environ['PATH']}"}
        t0 = time.time()
        proc = start_process([str(PROXY_VENV / "bin" / "litellm"), "--config", str(ROOT / "bench" / "config.yaml"),
                              "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"], env, LOGS / "litellm-proxy.log")
        base = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"LiteLLM proxy exited ({proc.returncode}); see bench/results/litellm-proxy.log")
            try:
                resp = httpx.post(base + "/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {self.master}"}, timeout=30)
                if resp.status_code == 200:
                    return proc, base, time.time() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("LiteLLM proxy did not answer within 180 s")

    def run(self) -> None:
        self.setup()
        try:
            self._run()
        finally:
            self.teardown()

    def _run(self) -> None:
        n = self.n
        direct = {c: summary(load(self.upstream_url + "/chat/completions", {"authorization": "Bearer x"}, n, c)[0]) for c in (1, 16)}
        for c in (1, 16):
            self.rows.append(["direct call to fake upstream (baseline)", c, "-", direct[c]["p50"], direct[c]["p99"], 0.0, 0.0, "-"])
            self.records.append({"id": f"direct-c{c}", "path": "direct call to fake upstream (baseline)", "concurrency": c,
                                 "key": "-", **{k: direct[c][k] for k in ("p50", "p99")}, "added_p50": 0.0, "added_p99": 0.0})

        def add(label: str, c: int, key: str, lat: list[float], statuses: dict | list, rss: object = "-",
                row_id: str = "") -> dict:
            s = summary(lat)
            base = direct[c]
            self.rows.append([label, c, key, s["p50"], s["p99"], s["p50"] - base["p50"], s["p99"] - base["p99"], rss])
            self.records.append({"id": f"{row_id}-{key}-c{c}", "path": label, "concurrency": c, "key": key,
                                 "p50": s["p50"], "p99": s["p99"], "added_p50": s["p50"] - base["p50"],
                                 "added_p99": s["p99"] - base["p99"]})
            if any(int(code) != 200 for code in (statuses if isinstance(statuses, list) else statuses.keys())):
                self.notes.append(f"{label} c={c} {key}: statuses {statuses}")
            return s

        cold = self.cold_starts()

        # Master key without a table: no DynamoDB at all, the like-for-like comparison with the proxy
        no_table = {"GATEWAY_TABLE": ""}
        warm = self.worker("warm", self.master, n, no_table)
        add("gateway: Mangum handler in-process, no table", 1, "master", warm["latencies_ms"], warm["statuses"],
            row_id="mangum-no-table")
        proc, base = self.start_gateway_http(no_table)
        for c in (1, 16):
            lat, st = load(base + "/v1/chat/completions", {"authorization": f"Bearer {self.master}"}, n, c)
            add("gateway: uvicorn over HTTP, no table", c, "master", lat, st, row_id="uvicorn-no-table")
        stop_process(proc)
        # Mangum in-process (what Lambda runs), master key then virtual key
        proc, base = self.start_gateway_http()
        vkey = self.virtual_key(base)
        alone = self.worker("litellm", self.master, n)
        add("baseline: litellm Router.acompletion alone (no gateway)", 1, "-", alone["latencies_ms"], [200],
            row_id="litellm-router-alone")
        warm = self.worker("warm", self.master, n)
        add("gateway: Mangum handler in-process, settle inline", 1, "master", warm["latencies_ms"], warm["statuses"],
            row_id="mangum-inline")
        after: dict[str, dict] = {}
        if vkey:
            warm = self.worker("warm", vkey, n)
            add("gateway: Mangum handler in-process, settle inline", 1, "virtual", warm["latencies_ms"], warm["statuses"],
                row_id="mangum-inline")
        if vkey:  # attribution: the same path with the provider call answered at once (no litellm, no upstream)
            alone_gw = self.worker("gateway-alone", vkey, n)
            s = summary(alone_gw["latencies_ms"])
            label = "attribution: gateway's own share (Mangum + extension, provider call answered at once)"
            self.rows.append([label, 1, "virtual", s["p50"], s["p99"], s["p50"], s["p99"], "-"])
            self.records.append({"id": "attribution-virtual-c1", "path": label, "concurrency": 1, "key": "virtual",
                                 "p50": s["p50"], "p99": s["p99"], "added_p50": s["p50"], "added_p99": s["p99"]})
        for label, key in (("master", self.master), ("virtual", vkey)):
            if key:
                warm = self.worker("warm-ext", key, n)
                add("gateway: Mangum + Lambda extension (after the response: settle, next spare, litellm callbacks)",
                    1, label, warm["latencies_ms"], warm["statuses"], row_id="mangum-ext")
                after[label] = summary(warm["durations_ms"])
        metered = self.meter({"master": self.master, "virtual": vkey})
        # uvicorn over HTTP, in chunks with the spend logs cleared in between (untimed): moto copies
        # the whole table on every transaction, so a growing table would measure moto, not the gateway
        for c in (1, 16):
            for label, key in (("master", self.master), ("virtual", vkey)):
                if key:
                    lat, st = self.load_in_chunks(base + "/v1/chat/completions", key, n, c)
                    add("gateway: uvicorn over HTTP", c, label, lat, st, row_id="uvicorn")
        n_stream = min(n, 200)
        ttfb_direct = summary(time_to_first_byte(self.upstream_url + "/chat/completions", {"authorization": "Bearer x"}, n_stream))
        ttfb_gateway = summary(time_to_first_byte(base + "/v1/chat/completions", {"authorization": f"Bearer {self.master}"}, n_stream))
        ttfb_litellm = summary(self.worker("litellm-stream", self.master, n_stream)["latencies_ms"])
        gateway_rss = peak_rss_mib(proc.pid)
        self.rows[-1][-1] = gateway_rss
        self.records[-1]["peak_rss_mib"] = gateway_rss
        stop_process(proc)

        proxy_cold = None
        proxy_rss = None
        if not self.skip_proxy and (PROXY_VENV / "bin" / "litellm").exists():
            proxy, pbase, proxy_cold = self.start_proxy()
            try:
                for c in (1, 16):
                    lat, st = load(pbase + "/v1/chat/completions", {"authorization": f"Bearer {self.master}"}, n, c)
                    add("LiteLLM proxy 1.106.2 (uvicorn, 1 worker)", c, "master", lat, st, row_id="litellm-proxy")
                proxy_rss = peak_rss_mib(proxy.pid)
                self.rows[-1][-1] = proxy_rss
                self.records[-1]["peak_rss_mib"] = proxy_rss
            finally:
                stop_process(proxy)
        else:
            self.notes.append("LiteLLM proxy not measured (.venv-proxy missing or --skip-proxy): `make bench-proxy-venv`")

        header = ["path", "concurrency", "key", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "peak RSS MiB"]
        print("\n## Warm latency (n=%d per row; added = minus the direct call at the same concurrency)\n" % n)
        print(table(self.rows, header))
        for label, s in after.items():
            print(f"\nLambda extension rows ({label}): the caller gets the response at the p50/p99 above; the invocation "
                  f"(billed) lasts until the spend is written: p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms.")
        print("\n## Streaming: time to first byte through uvicorn (c=1, master key)\n")
        print(table([["fake upstream's first chunk, direct (baseline)", ttfb_direct["p50"], ttfb_direct["p99"]],
                     ["litellm Router's first chunk, in-process, no HTTP in front (baseline)", ttfb_litellm["p50"], ttfb_litellm["p99"]],
                     ["through the gateway (uvicorn, true streaming)", ttfb_gateway["p50"], ttfb_gateway["p99"]]],
                    ["path", "p50 ms", "p99 ms"]))
        print("\n## Cold start (median of 3; process spawn to first response)\n")
        cold_rows = [
            ["gateway: Lambda handler import (config from S3, litellm Router, warm-up) + first request", cold["gateway"]],
            ["  of which: handler import", cold["gateway_import"]],
            ["  of which: first request", cold["gateway_first_request"]],
            ["baseline: `import litellm` alone", cold["import_litellm"]],
            ["baseline: `import litellm` + its first `acompletion` to the same upstream", cold["litellm_first_call"]],
            ["gateway's own init (cold start minus `import litellm`)", cold["gateway"] - cold["import_litellm"]],
        ]
        if proxy_cold is not None:
            cold_rows.append(["LiteLLM proxy: start to first answered request", proxy_cold])
            cold_rows.append(["ratio gateway / LiteLLM proxy", cold["gateway"] / proxy_cold])
        print(table(cold_rows, ["what", "seconds"]))
        print(f"\n## AWS calls per request (metered, {METERED_REQUESTS} requests each; dollars: cost_bench.py)\n")
        print(table([[name, m["write_units"], m["read_units"], ", ".join(f"{op} {c:g}" for op, c in sorted(m["calls"].items())) or "-"]
                     for name, m in metered["profiles"].items()],
                    ["invocation", "DynamoDB write units", "DynamoDB read units", "calls per request"]))
        check = metered["s3_per_reload_check"]
        print("\nS3 requests of one hot-reload check: " + (", ".join(f"{op} {c}" for op, c in sorted(check.items())) or "none"))
        sizes = [] if self.skip_package else package_sizes(self.notes)
        if sizes:
            print("\n## Package size (unzipped, what `sam build` puts in the function and its layers)\n")
            print(table(sizes, ["artifact", "MiB"]))
        if gateway_rss and proxy_rss:
            print(f"\nPeak RSS: gateway {gateway_rss:.0f} MiB vs LiteLLM proxy {proxy_rss:.0f} MiB "
                  f"(ratio {gateway_rss / proxy_rss:.2f})")
        for note in self.notes:
            print("note:", note)
        save_results("gateway", {
            "requests": n, "warm": self.records, "invocation_ms": after,
            "ttfb_ms": {"direct": ttfb_direct, "litellm_router": ttfb_litellm, "gateway_uvicorn": ttfb_gateway},
            "cold_start_s": {**cold, "litellm_proxy": proxy_cold},
            "peak_rss_mib": {"gateway": gateway_rss, "litellm_proxy": proxy_rss},
            "metered": metered, "package_mib": {str(r[0]): r[1] for r in sizes}, "notes": self.notes,
        })

    def meter(self, keys: dict[str, str | None]) -> dict:
        """Untimed runs that count the AWS calls of each invocation (``_mangum_worker.py meter-*``):
        the buffered function (Mangum + extension, spares) and the streaming function's pattern (settled
        inline, ``stream: true``); hot reload on with a long interval, so only the forced check runs."""
        reload_env = {"CONFIG_HOT_RELOAD": "true", "CONFIG_SYNC_INTERVAL": "3600"}
        profiles: dict[str, dict] = {}
        s3_check: dict[str, int] = {}
        for label, key in keys.items():
            if not key:
                continue
            for name, mode, extra in ((f"buffered-{label}", "meter-ext", {}),
                                      (f"streaming-{label}", "meter-inline", {"BENCH_STREAM": "1"})):
                out = self.worker(mode, key, METERED_REQUESTS, {**reload_env, **extra})
                requests = out["requests"]
                calls: dict[str, float] = {}
                for r in requests:
                    for op, c in r["calls"].items():
                        calls[op] = calls.get(op, 0) + c / len(requests)
                profiles[name] = {
                    "write_units": sum(r["write_units"] for r in requests) / len(requests),
                    "read_units": sum(r["read_units"] for r in requests) / len(requests),
                    "calls": calls, "s3_per_request": out["s3_per_request"], "response_bytes": out["response_bytes"],
                    "statuses": out["statuses"],
                }
                s3_check = out["s3_per_reload_check"] or s3_check
        return {"requests": METERED_REQUESTS, "profiles": profiles, "s3_per_reload_check": s3_check,
                "reload_interval_s": 60}


def package_sizes(notes: list[str]) -> list[list[object]]:
    """Sizes from .aws-sam/build (running `make build` first if there is none), against Lambda's limit."""
    build = ROOT / ".aws-sam" / "build"
    if not (build / "DepsLayer").is_dir():
        done = subprocess.run(["make", "build"], cwd=ROOT, capture_output=True, timeout=900)
        if done.returncode or not (build / "DepsLayer").is_dir():
            notes.append("package size not measured: `make build` failed")
            return []

    def mib(path: Path) -> float:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20

    parts = {name: mib(build / name) for name in ("GatewayFunction", "DepsLayer", "GatewayLayer")}
    rows: list[list[object]] = [[name, size] for name, size in parts.items()]
    total = sum(parts.values())
    rows.append(["total: gateway function + layers", total])
    rows.append(["baseline: Lambda's unzipped limit (function + layers)", 250.0])
    rows.append(["ratio total / limit", total / 250.0])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--skip-proxy", action="store_true")
    parser.add_argument("--skip-package", action="store_true", help="no package size (no `make build`)")
    args = parser.parse_args()
    Bench(args.requests, args.skip_proxy, args.skip_package).run()


if __name__ == "__main__":
    main()
