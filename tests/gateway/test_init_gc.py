"""Init leaves the garbage collector on, with the long-lived heap frozen out of its collections."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ("import gc, sys\n"
         "sys.path[:0] = [{handler!r}]\n"
         "import app\n"
         "print(gc.isenabled(), gc.get_freeze_count() > 100_000, 'litellm' in sys.modules)")


def test_the_lambda_handler_module_freezes_init_and_collects_afterwards():
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{ROOT / 'layers' / 'gateway'}:{ROOT}",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1", "GATEWAY_TABLE": "",
           "LITELLM_MASTER_KEY": "sk-" + secrets.token_urlsafe(32),
           "LITELLM_CONFIG_PATH": str(ROOT / "tests" / "fixtures" / "gateway.yaml"),
           "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", CHECK.format(handler=str(ROOT / "functions" / "gateway"))],
                         capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-3:] == ["True", "True", "True"], out.stdout + out.stderr[-2000:]
