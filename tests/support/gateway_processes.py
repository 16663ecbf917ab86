"""Gateway instances as separate OS processes (``uvicorn gateway.app:app``), as separate Lambda
execution environments are: each with its own config load, caches and litellm module settings.

``gateway_processes(env, count)`` starts them, waits until each answers ``/_health/ready``, yields
their base URLs and stops them; a log holding a traceback is printed when they stop, since an
instance's 500 says why only there.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Mapping

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
#: set by the test process, wrong for a plain server instance: not Lambda, not dev mode
NOT_INHERITED = ("AWS_LAMBDA_RUNTIME_API", "GATEWAY_DEV_MODE")


def _tail(path: str, chars: int = 3000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-chars:]
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def gateway_processes(env: Mapping[str, str], count: int = 1, *, ready_seconds: float = 90) -> Iterator[list[str]]:
    from gateway_dev import devstack

    environment = {name: value for name, value in env.items() if name not in NOT_INHERITED}
    environment.setdefault("PYTHONUNBUFFERED", "1")
    started: list[tuple[subprocess.Popen, str, str]] = []
    try:
        for _ in range(count):
            port = devstack.free_port()
            log = tempfile.NamedTemporaryFile(prefix=f"gateway-{port}-", suffix=".log", delete=False)
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"],
                env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
            log.close()
            started.append((process, f"http://127.0.0.1:{port}", log.name))
        deadline = time.monotonic() + ready_seconds
        for process, url, log_path in started:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"gateway instance {url} exited with {process.returncode}:\n{_tail(log_path)}")
                try:
                    if httpx.get(url + "/_health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"gateway instance {url} not ready in time:\n{_tail(log_path)}")
                time.sleep(0.2)
        yield [url for _, url, _ in started]
    finally:
        for process, _, _ in started:
            if process.poll() is None:
                process.terminate()
        for process, _, log_path in started:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            text = _tail(log_path, chars=20000)
            if "Traceback" in text:
                print(f"--- log of {log_path} ---\n{text}")
            os.unlink(log_path)
