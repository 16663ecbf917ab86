"""Keep CPython's cyclic garbage collector out of init, and out of the long-lived heap after it.

Importing litellm, FastAPI and building the app allocate a few million objects that live as long
as the process. With the collector on, every full collection during init walks all of them again
(measured: about 0.3 s of a cold start, most of it inside FastAPI's route building), and after init
every full collection during a request walks them too. ``gc.freeze()`` moves every object tracked
at that moment into a permanent generation that later collections ignore ("gc.freeze",
https://docs.python.org/3/library/gc.html#gc.freeze), so collecting stays as cheap as the garbage
requests make. The price: cyclic garbage made during init is never freed (about 9 MB measured).
"""
from __future__ import annotations

import gc


def pause() -> None:
    """Before the heavy imports: no collections until ``freeze``."""
    gc.disable()


def freeze() -> None:
    """Once init is done: what exists now is permanent; collect newer objects as usual."""
    gc.freeze()
    gc.enable()
