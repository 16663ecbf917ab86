"""`make run`: the gateway on 127.0.0.1:$PORT with moto's server standing in for S3 and DynamoDB.

Creates the bucket and table, uploads config/local.yaml (so the config comes through the same S3
path as in AWS, with hot reload on) and the shipped router artifact, then serves the app with
uvicorn. Ctrl-C stops the gateway and moto's server.

This is the one place that sets ``GATEWAY_DEV_MODE=true`` (unless already set): it lets the
well-known local master key ``sk-local-master`` through the weak-key check (``gateway.settings``),
which refuses it everywhere else. ``GATEWAY_DEV_MODE=false make run`` shows what AWS would do.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "llm-gateway-local"
TABLE = "llm-gateway-local"


def _exit_on_sigterm() -> None:
    """SIGTERM (not only Ctrl-C) must run the cleanup below, or moto's server is left behind."""
    import signal

    def _raise(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def main() -> int:
    _exit_on_sigterm()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("GATEWAY_DEV_MODE", "true")  # accept the public local key below (with a warning)
    from gateway_dev import devstack

    port = int(os.environ.get("PORT", "4000"))
    master_key = os.environ.setdefault("LITELLM_MASTER_KEY", "sk-local-master")
    moto = devstack.MotoServer.start(int(os.environ["MOTO_PORT"]) if os.environ.get("MOTO_PORT") else None)
    try:
        devstack.set_environ(moto.environ())
        devstack.create_bucket(BUCKET, moto.endpoint)
        devstack.create_table(TABLE, moto.endpoint)
        config_file = Path(os.environ.get("LOCAL_CONFIG", ROOT / "config" / "local.yaml"))
        devstack.upload_file(BUCKET, "config/config.yaml", config_file, moto.endpoint)
        artifact_dir = ROOT / "router" / "artifacts" / "default"
        artifacts = devstack.upload_dir(BUCKET, "router/", artifact_dir.parent, moto.endpoint) if artifact_dir.is_dir() else 0
        os.environ.update(
            CONFIG_S3_BUCKET=BUCKET,
            CONFIG_S3_KEY="config/config.yaml",
            CONFIG_HOT_RELOAD=os.environ.get("CONFIG_HOT_RELOAD", "true"),
            CONFIG_SYNC_INTERVAL=os.environ.get("CONFIG_SYNC_INTERVAL", "10"),
            LLMROUTER_MODEL_S3_BUCKET=BUCKET,
            LLMROUTER_MODEL_S3_KEY="router/",
            GATEWAY_TABLE=TABLE,
        )
        os.environ.pop("LITELLM_CONFIG_PATH", None)
        from gateway_dev.batch_worker import start_local_worker

        # Stands in for the SQS event source mapping and the S3 trigger: queue + DLQ on moto, a
        # poller that calls the same handlers, and BATCH_QUEUE_URL for the API.
        worker = start_local_worker()
        print(
            f"\n  LLM gateway (local)\n"
            f"  base_url     http://127.0.0.1:{port}/v1\n"
            f"  master key   {master_key}\n"
            f"  moto server  {moto.endpoint}  (bucket {BUCKET}, table {TABLE}, {artifacts} router files)\n"
            f"  config       s3://{BUCKET}/config/config.yaml  (from {config_file}; hot reload every "
            f"{os.environ['CONFIG_SYNC_INTERVAL']}s)\n"
            f"  try: curl -s http://127.0.0.1:{port}/v1/chat/completions -H 'Authorization: Bearer {master_key}' "
            f"-H 'Content-Type: application/json' -d '{{\"model\":\"mock\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}'\n",
            flush=True,
        )
        import uvicorn

        uvicorn.run("gateway.app:app", host="127.0.0.1", port=port, log_level="warning", access_log=False)
    except KeyboardInterrupt:
        pass
    finally:
        if "worker" in locals():
            worker.stop()
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
