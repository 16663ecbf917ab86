"""``python -m router train|eval|calibrate`` (offline; needs the dev extras tqdm and matplotlib)."""
import sys

from .train.cli import main

sys.exit(main())
