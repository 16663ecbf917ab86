"""Prompt features in pure Python (standard library only): hashed word n-grams, punctuation counts, length.

Why this shape: a decision must take well under a millisecond for a 2,000-token prompt on one CPU,
with no tokenizer download, no scikit-learn and, at serving time, no numpy. So the text is
lower-cased and encoded once, punctuation is mapped to spaces with ``bytes.translate`` (C speed, no
regex), words are hashed with ``zlib.crc32`` (stable across processes, unlike ``hash()``), bigram
hashes are combined arithmetically, and ``collections.Counter`` (C-accelerated) folds them into
``2**hash_bits`` buckets (the hashing trick: no vocabulary to ship). Each punctuation character gets
its own count feature (code and maths prompts are full of them), plus a few dense features (length,
digits, lines). Tokens are *estimated*, not counted: ``1.1 * words + 0.9 * punctuation marks + extra
UTF-8 bytes / 2``; against tiktoken cl100k_base on MMLU/LLMRouter prompts and Python source this is
within about -23%/+10% (5th/95th percentile), median -2%. Good enough for length rules; not a
billing count.

The feature vector is sparse: parallel lists ``(indices, values)``; serving gathers one record of
all models' weights per bucket (``router.predictors.LinearPredictor``) and adds with ``math.sumprod``.
"""
from __future__ import annotations

import math
import string
import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from operator import itemgetter, mul
from typing import Any, Mapping, Sequence


PUNCT = string.punctuation.encode()  # 32 ASCII punctuation bytes
_PUNCT_TO_SPACE = bytes.maketrans(PUNCT, b" " * len(PUNCT))
_NOT_PUNCT = bytes(c for c in range(256) if c not in PUNCT)  # translate(None, it) keeps marks only
_NOT_DIGIT = bytes(c for c in range(256) if c not in b"0123456789")
_PUNCT_POS = {c: i for i, c in enumerate(PUNCT)}
_SEPARATORS = PUNCT + b" \t\n\r\x0b\x0c"  # bytes.split() splits on exactly this ASCII whitespace
_WORD_MARKS = bytes(0x20 if c in _SEPARATORS else 0x78 for c in range(256))  # separator -> " ", else "x"
_TF = [0.0] + [1.0 + math.log(n) for n in range(1, 256)]  # sublinear tf of small counts
_BIGRAM_MUL = 0x9E3779B97F4A7C15
N_DENSE = 6  # log tokens, digit share, log lines, mean word length, non-ascii share, bias
SPEC_VERSIONS = (1, 2)  # 1: the blocks above; 2: adds the ``layout_features`` block (N_LAYOUT)


@dataclass(frozen=True)
class FeatureSpec:
    """How text becomes a vector; stored in the artifact manifest so training and serving agree."""

    hash_bits: int = 18
    bigrams: bool = True
    # The feature window: longer prompts are read as their first 3,000 + last 1,000 characters.
    # It bounds a decision's cost (about 2.2 µs per word in pure Python, so a 2,000-token prompt
    # would take ~1 ms unclipped) and matches the training data: 99.96% of the RouteLLM MMLU and
    # LLMRouter prompts are shorter (longest 4,868), so nothing longer was ever learned from.
    # Length rules and the token estimate always see the whole prompt.
    max_chars: int = 4000
    version: int = 1
    # Version 2 only: the layout block is multiplied by this. Ridge penalises every weight alike, so
    # a feature scaled by s is penalised like one with alpha / s**2: the few dense features, which
    # carry across task families, get less shrinkage than the 2**hash_bits topic n-grams.
    dense_scale: float = 1.0

    @property
    def n_hash(self) -> int:
        return 1 << self.hash_bits

    @property
    def dim(self) -> int:
        return self.n_hash + len(PUNCT) + N_DENSE + (N_LAYOUT if self.version >= 2 else 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.version == 1:  # version-1 manifests never had it; keep writing them as before
            del d["dense_scale"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureSpec":
        keys = ("hash_bits", "bigrams", "max_chars", "version", "dense_scale")
        spec = cls(**{k: d[k] for k in keys if k in d})
        if (not 8 <= spec.hash_bits <= 24 or spec.version not in SPEC_VERSIONS
                or (spec.version == 1 and "dense_scale" in d)
                or not isinstance(spec.dense_scale, (int, float)) or not 0 < spec.dense_scale <= 1000):
            raise ValueError(f"unsupported feature spec {dict(d)}")
        return spec


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, Mapping) and isinstance(p.get("text"), str):
                parts.append(p["text"])
            elif isinstance(p, str):
                parts.append(p)
        return "\n".join(parts)
    return ""


def prompt_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text the learned strategies score: the last user message (as RouteLLM does)."""
    for m in reversed(messages):
        if isinstance(m, Mapping) and m.get("role", "user") == "user":
            return _content_text(m.get("content"))
    return ""


def messages_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """All message texts joined: what length rules and regex rules look at."""
    return "\n".join(_content_text(m.get("content")) for m in messages if isinstance(m, Mapping))


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    tail = max_chars // 4
    return text[: max_chars - tail] + "\n" + text[-tail:]


def estimate_tokens(text: str) -> int:
    """Fast token estimate (see module docstring for its accuracy)."""
    if not text:
        return 0
    b = text.encode("utf-8", "replace")
    # Same count as len(b.translate(_PUNCT_TO_SPACE).split()) without building a bytes object per
    # word: separators (ASCII whitespace, as bytes.split() defines it, and punctuation) become b" ",
    # everything else b"x", and a word starts at every b" x" (plus one at the very start).
    marks = b.translate(_WORD_MARKS)
    words = marks.count(b" x") + (marks[:1] == b"x")
    punct = len(b.translate(None, _NOT_PUNCT))
    return int(math.ceil(1.1 * words + 0.9 * punct + (len(b) - len(text)) / 2))


def split_words(text: str, spec: FeatureSpec) -> tuple[str, bytes, list[bytes]]:
    """Clipped text, its lower-cased UTF-8 bytes, and its words (punctuation acts as a separator)."""
    text = _clip(text, spec.max_chars)
    b = text.lower().encode("utf-8", "replace")
    return text, b, b.translate(_PUNCT_TO_SPACE).split()


def hashed_counts(words: Sequence[bytes], spec: FeatureSpec) -> Counter[int]:
    """Bucket -> count of the hashed unigrams and bigrams of ``words``.

    Only the low ``hash_bits`` bits of a hash are ever used, so the arithmetic runs modulo
    ``2**hash_bits`` from the start (same buckets as the full uint64 formula, smaller ints). Words
    repeat a lot in long prompts, so each distinct word is hashed once.
    """
    mask = spec.n_hash - 1
    if len(words) > 64:
        bucket = {w: zlib.crc32(w) & mask for w in set(words)}
        hs = list(map(bucket.__getitem__, words))
    else:
        hs = [zlib.crc32(w) & mask for w in words]
    counts = Counter(hs)
    if spec.bigrams and len(hs) > 1:
        m = _BIGRAM_MUL & mask
        counts.update([(a * m + c) & mask for a, c in zip(hs, hs[1:])])
    return counts


def sublinear_tf(counts: Counter[int]) -> list[float]:
    """``1 + log(count)`` per bucket, in ``counts`` order (a table lookup for the usual small counts)."""
    ns = counts.values()
    try:  # cheaper than checking max(ns) first; a count of 256 or more is rare
        return list(map(_TF.__getitem__, ns))
    except IndexError:
        return [1.0 + math.log(n) for n in ns]


def side_features(text: str, b: bytes, words: Sequence[bytes], spec: FeatureSpec) -> tuple[list[int], list[float]]:
    """The punctuation block (log1p(count) / 4 per mark present), the dense block (``N_DENSE``) and,
    from spec version 2 on, the layout block (``N_LAYOUT``, times ``spec.dense_scale``).
    ``text, b, words`` are what ``split_words`` returns."""
    n_words = len(words)
    nh = spec.n_hash
    marks = b.translate(None, _NOT_PUNCT)
    n_punct = len(marks)
    per_mark = sorted(Counter(marks).items())  # string.punctuation is in byte order, so this is PUNCT order
    idx = [nh + _PUNCT_POS[c] for c, _ in per_mark]
    vals = [math.log1p(n) / 4.0 for _, n in per_mark]
    n_digits = len(b.translate(None, _NOT_DIGIT))
    n_bytes = max(len(b), 1)
    tokens = 1.1 * n_words + 0.9 * n_punct
    d0 = nh + len(PUNCT)
    idx.extend(range(d0, d0 + N_DENSE))
    vals.extend((
        math.log1p(tokens) / 8.0,
        n_digits / n_bytes,
        math.log1p(b.count(b"\n")) / 4.0,
        (n_bytes - n_punct) / max(n_words, 1) / 10.0,
        (len(b) - len(text)) / n_bytes,
        1.0,
    ))
    if spec.version >= 2:
        idx.extend(range(d0 + N_DENSE, d0 + N_DENSE + N_LAYOUT))
        k = spec.dense_scale
        vals.extend([v * k for v in layout_features(text, b, words)])
    return idx, vals


_DIGIT_MARKS = bytes(0x64 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))  # digit -> "d", else " "
_NOT_OPS = bytes(c for c in range(256) if c not in b"+-*/=^<>")
_NOT_CODE = bytes(c for c in range(256) if c not in b"{};")
_NOT_UPPER = bytes(c for c in range(256) if not 0x41 <= c <= 0x5A)
_CODE_WORDS = (b"def ", b"return", b"import ", b"class ", b"function", b"print(", b"for (", b"while ",
               b"const ", b"int ", b"#include", b"select ", b"lambda", b"self.", b"var ", b"void ")
_LATEX = (b"\\frac", b"^{", b"_{", b"\\(", b"$$", b"\\sqrt", b"\\cdot", b"\\le", b"\\sum", b"\\int")
_WH = (b"what", b"which", b"who", b"whom", b"whose", b"when", b"where")
_HOW = (b"how", b"why", b"explain", b"describe", b"compare", b"discuss")
_TASK = (b"write", b"calculate", b"compute", b"find", b"solve", b"prove", b"determine", b"implement",
         b"given", b"let", b"evaluate", b"simplify")
N_LAYOUT = 30


def layout_features(text: str, b: bytes, words: Sequence[bytes]) -> list[float]:
    """Version-2 block: ``N_LAYOUT`` dense features of the prompt's form, roughly in 0..1.

    Why: hashed n-grams learn topics, which do not carry to a task family never trained on; the form
    of a prompt (length, structure, maths and code markers, a multiple-choice layout, a passage
    followed by a question, the kind of question) does. All ``bytes.count``/``translate`` over the
    clipped lower-cased prompt (C speed), but about 60 of them at ~2 µs each: about 180 µs at the
    4,000-character window, which takes a version-2 artifact to ~0.48 ms p50 at 2,000 tokens
    (``bench/router_bench.py``). Folding the keyword counts into a set lookup over ``words`` would
    cut most of it; not done, because it changes the features the evaluation measured.
    """
    n_bytes = max(len(b), 1)
    n_words = max(len(words), 1)
    n_lines = b.count(b"\n") + 1
    cnt = b.count
    # multiple-choice layout "\nA. ...\nB. ...": the stem is what precedes the first option
    opt_a = max(b.find(b"\na."), b.find(b"\na)"), b.find(b"\n(a)"))
    n_opts = sum(1 for o in (b"\nb", b"\nc", b"\nd") if cnt(o + b".") or cnt(o + b")") or cnt(b"\n(" + o[1:] + b")"))
    is_mc = 1.0 if opt_a >= 0 and n_opts >= 2 else 0.0
    stem = opt_a if is_mc else len(b)
    ans = b.rfind(b"answer")
    opts_len = ((ans if ans > opt_a else len(b)) - opt_a) / (n_opts + 1) if is_mc else 0.0
    last_nl = b.rstrip().rfind(b"\n")
    last_line = len(b) - last_nl if last_nl >= 0 else len(b)
    first_nl = b.find(b"\n")
    first_line = first_nl if first_nl >= 0 else len(b)
    digit_runs = b.translate(_DIGIT_MARKS).count(b" d") + (b[:1].isdigit())
    sentences = cnt(b". ") + cnt(b"? ") + cnt(b"! ") + cnt(b".\n") + 1
    first = words[0] if words else b""
    code = sum(map(cnt, _CODE_WORDS))
    latex = sum(map(cnt, _LATEX))
    upper = len(text.encode("utf-8", "replace").translate(None, _NOT_UPPER))
    lg = math.log1p
    return [
        lg(len(text)) / 8.0,
        lg(len(words)) / 8.0,
        lg(n_bytes / n_lines) / 6.0,
        min(cnt(b"```"), 4) / 4.0,
        (cnt(b"\n    ") + cnt(b"\n\t")) / n_lines,
        lg(cnt(b"\n- ") + cnt(b"\n* ") + cnt(b"\n1.") + cnt(b"\n2.")) / 3.0,
        lg(latex) / 3.0,
        1.0 if latex else 0.0,
        10.0 * len(b.translate(None, _NOT_OPS)) / n_bytes,
        lg(digit_runs) / 4.0,
        digit_runs / n_words,
        lg(code) / 3.0,
        10.0 * len(b.translate(None, _NOT_CODE)) / n_bytes,
        lg(cnt(b"</") + cnt(b"/>") + cnt(b"\n#")) / 3.0,
        is_mc,
        lg(stem) / 8.0,
        lg(opts_len) / 6.0,
        1.0 if cnt(b"which of the following") else 0.0,
        1.0 if (cnt(b" not ") or cnt(b"except") or cnt(b" false")) else 0.0,
        1.0 if cnt(b"__") else 0.0,
        lg(last_line) / 8.0,
        lg(first_line) / 8.0,
        1.0 if len(b) > 700 and b.rstrip().endswith(b"?") else 0.0,
        1.0 if first in _WH else 0.0,
        1.0 if first in _HOW else 0.0,
        1.0 if first in _TASK else 0.0,
        lg(sentences) / 4.0,
        lg(n_words / sentences) / 4.0,
        len(set(words)) / n_words,
        upper / n_bytes * 5.0,
    ]


def featurize(text: str, spec: FeatureSpec, idf: Sequence[float] | None = None,
              normalize: bool = True) -> tuple[list[int], list[float]]:
    """Sparse feature vector of ``text`` as parallel lists (indices, values), pure Python.

    Hashed n-gram block: sublinear tf (1 + log tf) times idf when given, L2-normalised (training
    featurizes once with ``normalize=False`` and applies each fold's idf later, see
    ``router.train.fit.apply_idf``). Punctuation block: log1p(count) / 4. Dense block: see
    ``N_DENSE``. Bigram hashes equal numpy's wrapping uint64 ``h1 * MUL + h2`` in their low bits.
    Serving scores the same vector without materialising it (``router.predictors.LinearPredictor``).
    """
    text, b, words = split_words(text, spec)
    counts = hashed_counts(words, spec)
    idx = list(counts)
    vals = sublinear_tf(counts)
    if idf is not None:
        vals = list(map(mul, vals, itemgetter(*idx)(idf))) if len(idx) > 1 else [v * idf[k] for k, v in zip(idx, vals)]
    if normalize and vals:
        norm = math.sqrt(math.sumprod(vals, vals))
        if norm > 0:
            inv = 1.0 / norm
            vals = [v * inv for v in vals]
    side_idx, side_vals = side_features(text, b, words, spec)
    return idx + side_idx, vals + side_vals
