"""Readers for routing data: a folder of CSVs (RouteLLM's per-subject MMLU layout), a CSV, LLMRouter-style JSON/JSONL.

Every reader returns ``RoutingData``: prompts, a (N, M) quality matrix (one column per model),
model names, the weak/strong roles when there are two, optional groups (subject / task cluster,
used only for held-out-group splits and reports, never as a feature since real traffic has no such
label), and the SHA-256 of the input bytes (recorded in the artifact manifest).

Which columns are models, and which model is weak, is never guessed silently: ``ModelChoice``
carries what the user named (``--weak-model/--strong-model`` or ``--models``); without it a CSV's
score columns are recognised by their values (other columns are ignored, with a warning) and two
of them get their roles from column order, refused when that order contradicts the scores (the
"strong" model answering worse). Bad input raises ``DataError`` with one line naming the file, the
row and the column, so the CLI can print it instead of a traceback.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROMPT_KEYS = ("prompt", "question", "query", "text")
GROUP_KEYS = ("group", "subject", "task", "cluster_id")
CONTAMINATION_FILE = "contaminated_prompts.jsonl"
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_ID_NAMES = frozenset({"id", "idx", "index", "uid", "uuid", "row"})
ROLES_NAMED, ROLES_COLUMN_ORDER, ROLES_ARTIFACT = "named", "column order", "artifact manifest"


class DataError(ValueError):
    """Unusable routing data; the message is one line naming the file (and row and column where known)."""


@dataclass(frozen=True)
class ModelChoice:
    """The models the user named: ``weak``+``strong`` (threshold) or ``models`` (multi-model); empty = infer."""

    weak: str | None = None
    strong: str | None = None
    models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.weak is None) != (self.strong is None):
            raise DataError("name both --weak-model and --strong-model (or neither)")
        if self.weak is not None and self.models:
            raise DataError("use either --weak-model/--strong-model (two models, threshold) or --models (multi-model)")
        if self.weak is not None and self.weak == self.strong:
            raise DataError(f"--weak-model and --strong-model are both {self.weak!r}")
        if len(set(self.models)) != len(self.models):
            raise DataError(f"--models lists a model twice: {', '.join(self.models)}")
        if self.models and len(self.models) < 2:
            raise DataError("--models needs at least two model names")

    @property
    def names(self) -> list[str] | None:
        if self.weak is not None:
            return [self.weak, self.strong]  # type: ignore[list-item]
        return list(self.models) or None

    @classmethod
    def of(cls, data: RoutingData) -> ModelChoice:
        """The same models (and roles) again, e.g. to read a ``--test`` split by column name."""
        if data.roles:
            return cls(weak=data.roles["weak"], strong=data.roles["strong"])
        return cls(models=tuple(data.models))


@dataclass
class RoutingData:
    prompts: list[str]
    quality: np.ndarray  # (N, M) float
    models: list[str]
    groups: list[str] | None
    sha256: str
    sources: list[str]
    roles: dict[str, str] = field(default_factory=dict)  # e.g. {"weak": name, "strong": name}
    dropped: int = 0
    roles_from: str = ""  # ROLES_NAMED / ROLES_COLUMN_ORDER / ROLES_ARTIFACT, when there are roles
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def subset(self, sel: np.ndarray) -> RoutingData:
        return RoutingData([self.prompts[i] for i in sel], self.quality[sel], self.models,
                           [self.groups[i] for i in sel] if self.groups else None, self.sha256, self.sources,
                           self.roles, self.dropped, self.roles_from, self.ignored_columns, self.warnings)


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def parse_score(v: Any) -> float | None:
    """A score is true/false/yes/no/1/0 or a finite number in [0, 1]; anything else is None."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return 1.0
        if s in _FALSE:
            return 0.0
        try:
            x = float(s)
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) and 0.0 <= x <= 1.0 else None


def _short(v: Any, n: int = 40) -> str:
    s = str(v).replace("\n", " ")
    return repr(s if len(s) <= n else s[:n] + "...")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


# ------------------------------------------------------------------------------------------- CSV
@dataclass
class _Table:
    path: Path
    fields: list[str]
    rows: list[tuple[str, dict[str, str]]]  # (where, record): where = "row N (line L)"
    prompt_key: str
    group_key: str | None


def _read_table(path: Path) -> _Table:
    text = _read_text(path)
    reader = csv.DictReader(text.splitlines(keepends=True), restkey="\0extra")
    try:
        fields = [f.strip() for f in (reader.fieldnames or [])]
        if not fields:
            raise DataError(f"{path}: empty file (expected a header row: prompt,<model>,<model>,...)")
        reader.fieldnames = fields
        dup = sorted({f for f in fields if fields.count(f) > 1})
        if dup:
            raise DataError(f"{path}: line 1: column {dup[0]!r} appears more than once")
        pkey = next((k for k in PROMPT_KEYS if k in fields), None)
        if pkey is None:
            raise DataError(f"{path}: line 1: no prompt column (one of {', '.join(PROMPT_KEYS)}); header is "
                            f"{', '.join(map(repr, fields))}")
        gkey = next((k for k in GROUP_KEYS if k in fields), None)
        rows, line = [], reader.line_num + 1
        for n, r in enumerate(reader, 1):
            where = f"row {n} (line {line})"
            line = reader.line_num + 1
            if "\0extra" in r or any(v is None for v in r.values()):
                got = len(fields) + len(r.get("\0extra") or []) - sum(v is None for v in r.values())
                raise DataError(f"{path}: {where}: {got} fields, the header has {len(fields)}")
            if not r[pkey].strip():
                raise DataError(f"{path}: {where}, column {pkey!r}: empty prompt")
            rows.append((where, r))
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: no data rows under the header")
    return _Table(path, fields, rows, pkey, gkey)


def _looks_like_id(name: str) -> bool:
    n = name.strip().lower()
    return n in _ID_NAMES or n.endswith("_id") or n == ""


def _score_columns(t: _Table, wanted: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """(model columns, {ignored column: why}). Named columns must exist; otherwise a column is a
    model when it is not an id and at least half its values are scores (so a typo in a score column
    is reported as an error rather than the column vanishing)."""
    others = [f for f in t.fields if f not in (t.prompt_key, t.group_key)]
    if wanted is not None:
        missing = [m for m in wanted if m not in others]
        if missing:
            raise DataError(f"{t.path}: line 1: no column {missing[0]!r}; the columns besides prompt and group are "
                            f"{', '.join(map(repr, others)) or 'none'}")
        return list(wanted), {f: "not a named model" for f in others if f not in wanted}
    models, ignored = [], {}
    for f in others:
        if _looks_like_id(f):
            ignored[f] = "an id column"
            continue
        bad = next(((w, r[f]) for w, r in t.rows if parse_score(r[f]) is None), None)
        n_ok = sum(parse_score(r[f]) is not None for _, r in t.rows)
        if bad is None or n_ok * 2 >= len(t.rows):
            models.append(f)
        else:
            ignored[f] = f"not scores, e.g. {bad[0]} has {_short(bad[1])}"
    return models, ignored


def _scores_of(t: _Table, models: list[str]) -> list[list[float]]:
    out = []
    for where, r in t.rows:
        vals = []
        for m in models:
            v = parse_score(r[m])
            if v is None:
                what = "empty score" if not r[m].strip() else f"{_short(r[m])} is not a score"
                raise DataError(f"{t.path}: {where}, column {m!r}: {what} (true/false or a number from 0 to 1)")
            vals.append(v)
        out.append(vals)
    return out


def _contaminated(path: Path) -> set[str]:
    """RouteLLM's list of prompts that leaked into its training data: JSONL with ``eval_prompt``."""
    out: set[str] = set()
    for i, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {i}: not valid JSON ({exc.msg})") from None
        p = rec.get("eval_prompt", rec.get("prompt")) if isinstance(rec, dict) else None
        if not isinstance(p, str):
            raise DataError(f"{path}: line {i}: expected an object with an \"eval_prompt\" string")
        out.add(p)
    return out


def load_csv_files(files: list[Path], choice: ModelChoice, contamination: Path | None = None,
                   group_from_name: bool = False) -> RoutingData:
    tables = [_read_table(f) for f in files]
    first_models, ignored = _score_columns(tables[0], choice.names)
    for t in tables[1:]:
        models, more = _score_columns(t, choice.names)
        if set(models) != set(first_models):
            raise DataError(f"{t.path}: line 1: score columns {models} differ from {first_models} in {tables[0].path.name}")
        if models != first_models and choice.names is None:
            raise DataError(f"{t.path}: line 1: score columns in another order than in {tables[0].path.name}; "
                            f"name the roles with --weak-model/--strong-model (or --models)")
        ignored.update(more)
    models = first_models
    dropped_set = _contaminated(contamination) if contamination else set()
    prompts, rows, groups, dropped = [], [], [], 0
    for t in tables:
        stem = t.path.stem.removeprefix("mmlu_")
        for (_, r), vals in zip(t.rows, _scores_of(t, models)):
            if r[t.prompt_key] in dropped_set:
                dropped += 1
                continue
            prompts.append(r[t.prompt_key])
            rows.append(vals)
            groups.append(r[t.group_key] if t.group_key else (stem if group_from_name else None))
    has_groups = all(g is not None for g in groups)
    d = RoutingData(prompts, np.asarray(rows, float).reshape(len(rows), len(models)), models,
                    groups if has_groups else None,
                    _hash_files(files + ([contamination] if contamination else [])), [str(f) for f in files],
                    dropped=dropped, ignored_columns=sorted(ignored))
    if ignored:
        d.warnings.append(f"{files[0] if len(files) == 1 else files[0].parent}: ignoring column"
                          f"{'s' if len(ignored) > 1 else ''} " + "; ".join(f"{k!r} ({v})" for k, v in ignored.items()))
    return d


def load_csv_dir(path: Path, choice: ModelChoice) -> RoutingData:
    """A folder of ``*.csv`` files with the same score columns (e.g. RouteLLM's ``mmlu_<subject>.csv``:
    ``prompt,<weak model>,<strong model>`` with True/False); each file's name is its rows' group
    unless a group column says otherwise. An optional ``contaminated_prompts.jsonl`` lists prompts
    to drop (RouteLLM: those that leaked into its training data, field ``eval_prompt``)."""
    files = sorted(path.glob("*.csv"))
    if not files:
        raise DataError(f"{path}: folder has no *.csv files")
    cpath = path / CONTAMINATION_FILE
    return load_csv_files(files, choice, cpath if cpath.exists() else None, group_from_name=True)


# ------------------------------------------------------------------------------------ JSON/JSONL
def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) pairs; where = "line N" (JSONL) or "record N" (JSON array), 1-based."""
    text = _read_text(path)
    if path.suffix == ".jsonl":
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield f"line {i}", json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {i}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "; one record per line is JSON Lines: name the file .jsonl" if exc.msg == "Extra data" else ""
        raise DataError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}){hint}") from None
    if isinstance(data, dict):
        data = data.get("data") or data.get("records") or list(data.values())
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records")
    for i, r in enumerate(data, 1):
        yield f"record {i}", r


def load_json(path: Path, choice: ModelChoice | None = None) -> RoutingData:
    """Records ``{"question"|"prompt": str, "scores": {model: quality}, "cluster_id"|"group": ...}``."""
    choice = choice or ModelChoice()
    recs = []
    for where, r in _records(path):
        if not isinstance(r, dict):
            raise DataError(f"{path}: {where}: expected an object, got {type(r).__name__}")
        p = next((r[k] for k in PROMPT_KEYS if isinstance(r.get(k), str)), None)
        if p is None or not p.strip():
            raise DataError(f"{path}: {where}, field 'prompt': needs a non-empty \"prompt\" or \"question\" string")
        if not isinstance(r.get("scores"), dict) or not r["scores"]:
            raise DataError(f"{path}: {where}, field 'scores': needs an object {{model: score}}")
        recs.append((where, p, r))
    if not recs:
        raise DataError(f"{path}: no records")
    seen: dict[str, None] = {}
    for _, _, r in recs:
        seen.update(dict.fromkeys(r["scores"]))
    names = choice.names or sorted(seen)
    if choice.names:
        missing = [m for m in names if m not in seen]
        if missing:
            raise DataError(f"{path}: no scores for model {missing[0]!r}; models are {', '.join(map(repr, seen))}")
    prompts, rows, groups = [], [], []
    for where, p, r in recs:
        vals = []
        for m in names:
            if m not in r["scores"]:
                raise DataError(f"{path}: {where}, field 'scores.{m}': missing (every record needs a score for every model)")
            v = parse_score(r["scores"][m])
            if v is None:
                raise DataError(f"{path}: {where}, field 'scores.{m}': {_short(r['scores'][m])} is not a score "
                                f"(true/false or a number from 0 to 1)")
            vals.append(v)
        rows.append(vals)
        prompts.append(p)
        g = next((r[k] for k in GROUP_KEYS if k in r), None)
        groups.append(None if g is None else str(g))
    has_groups = all(g is not None for g in groups)
    ignored = [m for m in seen if m not in names]
    d = RoutingData(prompts, np.asarray(rows, float), names, groups if has_groups else None,
                    _hash_files([path]), [str(path)], ignored_columns=ignored)
    if ignored:
        d.warnings.append(f"{path}: ignoring scores of {', '.join(map(repr, ignored))} (not named in --models)")
    return d


# ------------------------------------------------------------------------------------------ roles
def _assign_roles(d: RoutingData, choice: ModelChoice, path: Path, by_column_order: bool) -> RoutingData:
    if choice.weak is not None:
        d.roles, d.roles_from = {"weak": choice.weak, "strong": choice.strong}, ROLES_NAMED  # type: ignore[dict-item]
        w, s = d.quality[:, 0].mean(), d.quality[:, 1].mean()
        if s < w:
            d.warnings.append(f"{path}: the strong model {choice.strong!r} scores lower on average ({s:.3f}) than the weak "
                              f"model {choice.weak!r} ({w:.3f}); training as named")
        return _warn_if_nothing_to_learn(d, path)
    if choice.models or not by_column_order:
        return d  # multi-model (JSON records name their models; CSV columns were named with --models)
    if len(d.models) < 2:
        found = f"only {d.models[0]!r}" if d.models else "none"
        extra = f" (ignored: {', '.join(map(repr, d.ignored_columns))})" if d.ignored_columns else ""
        raise DataError(f"{path}: needs at least two score columns, found {found}{extra}")
    if len(d.models) > 2:
        raise DataError(f"{path}: {len(d.models)} score columns ({', '.join(map(repr, d.models))}): name them with "
                        f"--models a,b,c (multi-model) or pick two with --weak-model/--strong-model")
    weak, strong = d.models
    w, s = d.quality[:, 0].mean(), d.quality[:, 1].mean()
    if s < w:
        raise DataError(f"{path}: by column order {weak!r} would be weak and {strong!r} strong, but {strong!r} scores "
                        f"lower ({s:.3f} vs {w:.3f}); say which is which with --weak-model/--strong-model")
    d.roles, d.roles_from = {"weak": weak, "strong": strong}, ROLES_COLUMN_ORDER
    return _warn_if_nothing_to_learn(d, path)


def _warn_if_nothing_to_learn(d: RoutingData, path: Path) -> RoutingData:
    if d.roles and not (d.quality[:, 0] != d.quality[:, 1]).any():
        d.warnings.append(f"{path}: {d.roles['weak']!r} and {d.roles['strong']!r} score the same on every row: there is "
                          f"nothing to route on, and APGR/CPT are undefined")
    return d


def load_data(path: str | Path, choice: ModelChoice | None = None) -> RoutingData:
    """Routing data from a folder of CSVs, a ``.csv``, a ``.json`` or a ``.jsonl`` file (see the module doc)."""
    choice = choice or ModelChoice()
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        d, by_order = load_csv_dir(p, choice), True
    elif p.suffix in (".json", ".jsonl"):
        d, by_order = load_json(p, choice), False
    elif p.suffix == ".csv":
        d, by_order = load_csv_files([p], choice), True
    else:
        raise DataError(f"{p}: unsupported routing data (a folder of *.csv, a .csv, .json or .jsonl file)")
    if not d.prompts:
        raise DataError(f"{p}: no rows left after dropping {d.dropped} contaminated prompts")
    return _assign_roles(d, choice, p, by_order)


def load_prompts(path: str | Path) -> list[str]:
    """Only the prompts of routing data (calibration needs no scores)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir() or p.suffix == ".csv":
        files = sorted(p.glob("*.csv")) if p.is_dir() else [p]
        if not files:
            raise DataError(f"{p}: folder has no *.csv files")
        return [r[t.prompt_key] for t in map(_read_table, files) for _, r in t.rows]
    return load_data(p).prompts


def load_prices(path: str | Path) -> dict[str, dict[str, float]]:
    """LLMRouter ``default_llm.json``: ``{name: {"input_price": usd_per_1M, "output_price": ...}}``."""
    p = Path(path)
    try:
        raw = json.loads(_read_text(p))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{p}: expected an object {{model: {{\"input_price\": ..., \"output_price\": ...}}}}")
    out = {}
    for k, v in raw.items():
        try:
            out[k] = {"input_price": float(v["input_price"]), "output_price": float(v["output_price"])}
        except (TypeError, KeyError, ValueError):
            raise DataError(f"{p}: model {k!r}: needs numeric \"input_price\" and \"output_price\" (USD per 1M tokens)") from None
        if not all(math.isfinite(x) and x >= 0 for x in out[k].values()):
            raise DataError(f"{p}: model {k!r}: prices must be finite and not negative")
    return out
