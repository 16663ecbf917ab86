"""``python -m router train|eval|calibrate|sign|verify`` (offline; ``pip install -e '.[router]'``)."""
import sys

try:
    from .train.cli import main
except ModuleNotFoundError as exc:  # numpy is not a serving dependency, so a bare install lacks it
    if exc.name not in ("numpy", "tqdm", "matplotlib"):
        raise
    print(f"error: the router CLI needs {exc.name}: pip install -e '.[router]'", file=sys.stderr)
    sys.exit(2)

sys.exit(main())
