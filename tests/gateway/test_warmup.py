"""The init-time warm-up loads what the first real provider call would otherwise import."""
import subprocess
import sys


def test_warm_up_loads_the_openai_client_path_offline():
    code = ("import sys, time\n"
            "from gateway.warmup import warm_up\n"
            "t = time.perf_counter(); warm_up(); took = time.perf_counter() - t\n"
            "print('openai.resources.chat' in sys.modules, 'litellm.llms.openai.openai' in sys.modules, took < 30)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True", "True"], out.stdout + out.stderr[-2000:]
