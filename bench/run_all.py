"""`make bench`: every benchmark in turn, each printing its own table (none of this is in `make test`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["gateway_bench.py", "protocols_bench.py", "router_bench.py", "keys_bench.py", "batch_bench.py", "cache_bench.py"]


def main() -> int:
    failed = []
    for script in SCRIPTS:
        print(f"\n# {script}\n", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:2]], cwd=HERE.parent).returncode:
            failed.append(script)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
