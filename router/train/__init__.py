"""Offline training and evaluation (``python -m router train|eval|calibrate``).

Not imported by the serving path. Dev-only dependencies (tqdm, matplotlib) are imported lazily here.
"""
