"""Regenerate the benchmark tables in README.md and docs/benchmarks.md from bench/results/all.json.

`make bench` runs this last (`make bench-report` runs it alone). Each generated block sits between
``<!-- bench-report:NAME:start -->`` and ``<!-- bench-report:NAME:end -->``; the text around the
markers is left as it is. The generated text holds numbers and labels from the results only, never a
path of the machine that ran them (checked before anything is written).

Usage: python scripts/bench_report.py [--results bench/results/all.json] [--check]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = re.compile(r"(/work/|/root/|/tmp/|/home/|/Users/|[A-Z]:\\\\)")


class ReportError(ValueError):
    pass


def replace_between(text: str, name: str, content: str) -> str:
    """``text`` with the block named ``name`` replaced by ``content`` (markers kept)."""
    start, end = f"<!-- bench-report:{name}:start -->", f"<!-- bench-report:{name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ReportError(f"expected one {start} ... {end} pair")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def md_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def _ms(p50: float | None, p99: float | None) -> str:
    return "-" if p50 is None else f"{p50:.1f} / {p99:.1f} ms"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _warm(results: dict[str, Any], row_id: str) -> dict | None:
    return next((r for r in results.get("gateway", {}).get("warm", []) if r["id"] == row_id), None)


def _cost(results: dict[str, Any], scenario: str, path_start: str, key: str = "virtual", mb: str = "1024") -> float | None:
    for r in results.get("cost", {}).get("rows", []):
        if r["key"] == key and r["scenario"] == scenario and r["path"].startswith(path_start):
            return r["total"][mb]
    return None


def readme_summary(results: dict[str, Any]) -> str:
    """The README's short table: the headline numbers with their same-run baselines."""
    rows: list[list[object]] = []
    ext, router = _warm(results, "mangum-ext-virtual-c1"), _warm(results, "litellm-router-alone---c1")
    if ext:
        rows.append(["added latency, c=1, virtual key, Lambda handler (Mangum + extension), p50 / p99",
                     _ms(ext["added_p50"], ext["added_p99"]),
                     f"litellm's Router alone adds {router['added_p50']:.1f} ms" if router else "-"])
    own = _warm(results, "attribution-virtual-c1")
    if own:
        rows.append(["the gateway's own share (provider call answered at once), p50 / p99", _ms(own["p50"], own["p99"]), "-"])
    proxy = _warm(results, "litellm-proxy-master-c1")
    uvicorn = _warm(results, "uvicorn-no-table-master-c1")
    if uvicorn:
        rows.append(["added latency, c=1, master key, uvicorn, p50 / p99", _ms(uvicorn["added_p50"], uvicorn["added_p99"]),
                     f"LiteLLM proxy: {_ms(proxy['added_p50'], proxy['added_p99'])}" if proxy else "-"])
    ttfb = results.get("gateway", {}).get("ttfb_ms")
    if ttfb:
        rows.append(["stream time to first byte, uvicorn, p50", f"{ttfb['gateway_uvicorn']['p50']:.1f} ms",
                     f"upstream's own first chunk {ttfb['direct']['p50']:.1f} ms"
                     + (f"; litellm Router's first chunk {ttfb['litellm_router']['p50']:.1f} ms" if "litellm_router" in ttfb else "")])
    for r in results.get("protocols", {}).get("added", []):
        if r["key"] == "master" and r["path"] in ("gateway: Anthropic Messages", "gateway: Responses, store: false"):
            rows.append([f"added latency, c=1, master key, uvicorn: {r['path'].removeprefix('gateway: ')}, p50 / p99",
                         _ms(r["added_p50"], r["added_p99"]), "the same request sent to the upstream directly"])
    cold = results.get("gateway", {}).get("cold_start_s")
    if cold:
        proxy_cold = cold.get("litellm_proxy")
        rows.append(["cold start: process start to first response", f"{cold['gateway']:.1f} s",
                     (f"LiteLLM proxy {proxy_cold:.1f} s; " if proxy_cold else "") + f"`import litellm` {cold['import_litellm']:.1f} s"])
        rows.append(["cold start: the gateway's own init (cold start minus `import litellm`)",
                     f"{cold['gateway'] - cold['import_litellm']:.2f} s",
                     (f"litellm's own first call (import + one `acompletion`) {cold['litellm_first_call']:.1f} s"
                      if cold.get("litellm_first_call") else "-")])
    for scenario in ("provider 0.5 s", "provider 3 s", "20 s stream"):
        buffered = _cost(results, scenario, "buffered function (Mangum + extension), HTTP API")
        streaming = _cost(results, scenario, "streaming function")
        if buffered is not None or streaming is not None:
            rows.append([f"all-in cost per million requests, {scenario}, 1024 MB, virtual key",
                         f"{_money(buffered)} (HTTP API, buffered) / {_money(streaming)} (Function URL, streaming)",
                         "$0 when idle"])
    package = results.get("gateway", {}).get("package_mib", {})
    if "total: gateway function + layers" in package:
        rows.append(["deployment size (function + layers, unzipped)", f"{package['total: gateway function + layers']:.1f} MiB",
                     "Lambda's limit 250 MiB"])
    if not rows:
        raise ReportError("no gateway, protocols or cost results to report")
    cpus = results.get("machine", {}).get("cpus")
    intro = (f"Generated by `make bench` from one run on a {cpus}-core machine" if cpus else "Generated by `make bench`") + \
        (": everything on loopback (moto for S3 and DynamoDB, a fake upstream for the provider), each figure next to "
         "a baseline measured in the same run. Costs are us-east-1 list prices, arm64. Method and all tables: "
         "[docs/benchmarks.md](docs/benchmarks.md).")
    return intro + "\n\n" + md_table(["what", "gateway", "baseline (same run)"], rows)


def latency_table(results: dict[str, Any]) -> str:
    gateway = results.get("gateway")
    if not gateway:
        raise ReportError("no gateway results")
    rows = [[r["path"], r["concurrency"], r["key"], r["p50"], r["p99"], r["added_p50"], r["added_p99"],
             r.get("peak_rss_mib")] for r in gateway["warm"]]
    out = f"`gateway_bench.py`, {gateway['requests']} requests per row; added = minus the direct call at the same concurrency.\n\n"
    out += md_table(["path", "concurrency", "key", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "peak RSS MiB"], rows)
    for key, s in gateway.get("invocation_ms", {}).items():
        out += (f"\n\nWith the Lambda extension ({key} key) the caller has the answer at the latency above; the "
                f"invocation (billed) lasts until the spend is written: p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms.")
    return out


def cost_tables(results: dict[str, Any]) -> str:
    cost = results.get("cost")
    if not cost:
        raise ReportError("no cost results")
    mbs = [str(mb) for mb in cost["memory_mb"]]
    main = md_table(["provider latency", "path", "billed ms", *(f"$ / 1M at {mb} MB" for mb in mbs)],
                    [[r["scenario"], r["path"], r["billed_ms"], *(_money(r["total"][mb]) for mb in mbs)]
                     for r in cost["rows"] if r["key"] == "virtual"])
    breakdown = md_table(["provider latency", "path", "Lambda duration", "Lambda requests", "HTTP API / URL", "DynamoDB",
                          "S3 reload checks", "total"],
                         [[b["scenario"], b["path"], *(_money(b[k]) for k in ("lambda_duration", "lambda_requests",
                                                                              "front_door", "dynamodb", "s3", "total"))]
                          for b in cost["breakdown_1024"]])
    keys = md_table(["key", "path", "billed ms", "DynamoDB write units", "DynamoDB read units", "$ / 1M at 1024 MB"],
                    [[r["key"], r["path"], r["billed_ms"], r["write_units"], r["read_units"], _money(r["total"]["1024"])]
                     for r in cost["rows"] if r["provider_ms"] == 0])
    checks = ", ".join(f"{n} {op}" for op, n in sorted(cost["s3_per_reload_check"].items())) or "none"
    return (f"Virtual key, {cost['region']}, dollars per million requests:\n\n{main}\n\n"
            f"Where the money goes at 1024 MB:\n\n{breakdown}\n\n"
            f"Master key against virtual key, gateway overhead only:\n\n{keys}\n\n"
            f"A hot-reload check made {checks} (metered); one per {cost['reload_interval_s']} s per warm environment, "
            f"priced at {cost['requests_per_second_per_environment']:g} request per second per environment.")


BLOCKS: dict[str, list[tuple[str, Callable[[dict[str, Any]], str]]]] = {
    "README.md": [("readme", readme_summary)],
    "docs/benchmarks.md": [("latency", latency_table), ("cost", cost_tables)],
}


def render(results: dict[str, Any], texts: dict[str, str]) -> dict[str, str]:
    """The new text of each file; a block whose results are missing is left as it was."""
    out = {}
    for name, text in texts.items():
        for block, build in BLOCKS.get(name, []):
            try:
                content = build(results)
            except (ReportError, KeyError, TypeError) as err:
                print(f"bench_report: {name} block {block} kept ({err})", file=sys.stderr)
                continue
            if FORBIDDEN.search(content):
                raise ReportError(f"{name} block {block}: generated text holds a machine path")
            text = replace_between(text, block, content)
        out[name] = text
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "all.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change; write nothing")
    args = parser.parse_args()
    if not args.results.exists():
        print("bench_report: no results; run `make bench` first", file=sys.stderr)
        return 1
    results = json.loads(args.results.read_text())
    texts = {name: (ROOT / name).read_text() for name in BLOCKS}
    changed = [name for name, text in render(results, texts).items() if text != texts[name]]
    if args.check:
        return 1 if changed else 0
    for name, text in render(results, texts).items():
        if text != texts[name]:
            (ROOT / name).write_text(text)
    print("bench_report: updated " + (", ".join(changed) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
