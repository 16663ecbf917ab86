"""scripts/bench_report.py: benchmark JSON in, markdown between the markers out."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_report.py"
_spec = importlib.util.spec_from_file_location("bench_report", SCRIPT)
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def _row(row_id, path, key, p50, p99, added_p50, added_p99, c=1):
    return {"id": row_id, "path": path, "concurrency": c, "key": key, "p50": p50, "p99": p99,
            "added_p50": added_p50, "added_p99": added_p99}


def _cost_row(key, scenario, provider_ms, path, total):
    return {"key": key, "scenario": scenario, "provider_ms": provider_ms, "path": path, "billed_ms": provider_ms + 30.0,
            "write_units": 5.0, "read_units": 0.0, "total": {"512": total / 2, "1024": total, "1769": total * 1.7}}


RESULTS = {
    "machine": {"cpus": 2},
    "gateway": {
        "requests": 30,
        "warm": [_row("direct-c1", "direct call to fake upstream (baseline)", "-", 0.9, 1.2, 0.0, 0.0),
                 _row("litellm-router-alone---c1", "baseline: litellm Router alone", "-", 5.8, 7.0, 4.9, 5.8),
                 _row("mangum-ext-virtual-c1", "gateway: Mangum + Lambda extension", "virtual", 10.0, 14.5, 9.1, 13.3)],
        "invocation_ms": {"virtual": {"p50": 34.3, "p99": 50.0}},
        "ttfb_ms": {"direct": {"p50": 0.75, "p99": 1.0}, "gateway_uvicorn": {"p50": 11.7, "p99": 16.3}},
        "cold_start_s": {"gateway": 4.6, "import_litellm": 3.5, "litellm_proxy": None},
        "package_mib": {"total: gateway function + layers": 126.9},
    },
    "cost": {
        "region": "us-east-1", "memory_mb": [512, 1024, 1769], "reload_interval_s": 60,
        "requests_per_second_per_environment": 1.0, "s3_per_reload_check": {"HeadObject": 1, "ListObjectsV2": 1},
        "rows": [_cost_row("virtual", "provider 3 s", 3000.0, "buffered function (Mangum + extension), HTTP API", 41.5),
                 _cost_row("virtual", "provider 3 s", 3000.0, "streaming function (Web Adapter, RESPONSE_STREAM), Function URL", 40.5),
                 _cost_row("virtual", "gateway overhead only (fake upstream)", 0.0, "buffered function (Mangum + extension), HTTP API", 4.2)],
        "breakdown_1024": [{"scenario": "provider 3 s", "path": "buffered", "lambda_duration": 39.1, "lambda_requests": 0.2,
                            "front_door": 1.0, "dynamodb": 3.1, "s3": 0.09, "total": 43.5}],
    },
}

README = "# Title\n\nintro\n\n<!-- bench-report:readme:start -->\nold numbers\n<!-- bench-report:readme:end -->\n\nafter\n"
DOCS = ("# Benchmarks\n\n<!-- bench-report:latency:start -->\nold\n<!-- bench-report:latency:end -->\n\nhand text\n\n"
        "<!-- bench-report:cost:start -->\n<!-- bench-report:cost:end -->\ntail\n")


def test_the_readme_block_is_replaced_and_the_text_around_it_kept():
    out = report.render(RESULTS, {"README.md": README})["README.md"]
    assert out.startswith("# Title\n\nintro\n\n<!-- bench-report:readme:start -->\n")
    assert out.endswith("<!-- bench-report:readme:end -->\n\nafter\n")
    assert "old numbers" not in out
    assert "| what | gateway | baseline (same run) |" in out
    assert "9.1 / 13.3 ms" in out and "litellm's Router alone adds 4.9 ms" in out
    assert "$41.50 (HTTP API, buffered) / $40.50 (Function URL, streaming)" in out
    assert "2-core machine" in out


def test_the_docs_blocks_hold_the_latency_and_cost_tables():
    out = report.render(RESULTS, {"docs/benchmarks.md": DOCS})["docs/benchmarks.md"]
    latency = out.split("<!-- bench-report:latency:start -->")[1].split("<!-- bench-report:latency:end -->")[0]
    assert "| gateway: Mangum + Lambda extension | 1 | virtual | 10.00 | 14.50 | 9.10 | 13.30 | - |" in latency
    assert "p50 34.3 ms" in latency
    cost = out.split("<!-- bench-report:cost:start -->")[1].split("<!-- bench-report:cost:end -->")[0]
    assert "| provider 3 s | buffered function (Mangum + extension), HTTP API | 3,030 | $20.75 | $41.50 | $70.55 |" in cost
    assert "1 HeadObject, 1 ListObjectsV2" in cost
    assert "hand text" in out and out.endswith("tail\n")


def test_rendering_twice_gives_the_same_text():
    once = report.render(RESULTS, {"README.md": README, "docs/benchmarks.md": DOCS})
    assert report.render(RESULTS, once) == once


def test_a_block_without_results_is_left_as_it_was():
    out = report.render({"machine": {"cpus": 2}}, {"docs/benchmarks.md": DOCS})["docs/benchmarks.md"]
    assert out == DOCS


def test_missing_or_doubled_markers_are_refused():
    with pytest.raises(report.ReportError):
        report.replace_between("no markers here", "readme", "x")
    twice = README + README
    with pytest.raises(report.ReportError):
        report.replace_between(twice, "readme", "x")


def test_a_machine_path_in_the_results_is_never_written():
    results = {**RESULTS, "gateway": {**RESULTS["gateway"], "warm": [
        *RESULTS["gateway"]["warm"], _row("x", "artifact in /work/checkout/router", "-", 1.0, 1.0, 0.0, 0.0)]}}
    with pytest.raises(report.ReportError):
        report.render(results, {"docs/benchmarks.md": DOCS})
