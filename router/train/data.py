"""Readers for routing data: RouteLLM's per-subject MMLU CSVs, LLMRouter-style JSON/JSONL, generic CSV.

Every reader returns ``RoutingData``: prompts, a (N, M) quality matrix (one column per model),
model names, optional groups (subject / task cluster, used only for held-out-group splits and
reports, never as a feature since real traffic has no such label), and the SHA-256 of the input
bytes (recorded in the artifact manifest).
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROMPT_KEYS = ("prompt", "question", "query", "text")
GROUP_KEYS = ("group", "subject", "task", "cluster_id")


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

    def subset(self, sel: np.ndarray) -> "RoutingData":
        return RoutingData([self.prompts[i] for i in sel], self.quality[sel], self.models,
                           [self.groups[i] for i in sel] if self.groups else None, self.sha256, self.sources,
                           self.roles, self.dropped)


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def _truthy(v: str) -> float:
    s = v.strip().lower()
    if s in ("true", "1", "1.0", "yes"):
        return 1.0
    if s in ("false", "0", "0.0", "no", ""):
        return 0.0
    return float(s)


def load_mmlu_dir(path: Path) -> RoutingData:
    """RouteLLM ``routellm/evals/mmlu/responses`` layout: ``mmlu_<subject>.csv`` with columns
    ``prompt,<weak model>,<strong model>`` (True/False); ``contaminated_prompts.jsonl`` lists prompts
    that leaked into RouteLLM's training data (field ``eval_prompt``), which we drop."""
    files = sorted(path.glob("mmlu_*.csv"))
    if not files:
        raise ValueError(f"{path} has no mmlu_*.csv files")
    contaminated: set[str] = set()
    cpath = path / "contaminated_prompts.jsonl"
    if cpath.exists():
        for line in cpath.read_text().splitlines():
            if line.strip():
                contaminated.add(json.loads(line)["eval_prompt"])
    prompts, rows, groups, models, dropped = [], [], [], None, 0
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            if models is None:
                models = header[1:]
            elif header[1:] != models:
                raise ValueError(f"{f.name}: model columns {header[1:]} differ from {models}")
            for row in reader:
                if row[0] in contaminated:
                    dropped += 1
                    continue
                prompts.append(row[0])
                rows.append([_truthy(v) for v in row[1:]])
                groups.append(f.stem[len("mmlu_"):])
    assert models is not None
    roles = {"weak": models[0], "strong": models[-1]} if len(models) == 2 else {}
    return RoutingData(prompts, np.asarray(rows, float), list(models), groups,
                       _hash_files(files + ([cpath] if cpath.exists() else [])), [str(f) for f in files], roles, dropped)


def _records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("data") or data.get("records") or list(data.values())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON array of records")
    return data


def load_json(path: Path, models: list[str] | None = None) -> RoutingData:
    """Records ``{"question"|"prompt": str, "scores": {model: quality}, "cluster_id"|"group": ...}``."""
    recs = _records(path)
    if not recs:
        raise ValueError(f"{path}: no records")
    names = models or sorted(recs[0]["scores"])
    prompts, rows, groups = [], [], []
    for i, r in enumerate(recs):
        p = next((r[k] for k in PROMPT_KEYS if isinstance(r.get(k), str)), None)
        if p is None or not isinstance(r.get("scores"), dict):
            raise ValueError(f"{path}: record {i} needs a prompt/question string and a scores object")
        try:
            rows.append([float(r["scores"][m]) for m in names])
        except KeyError as exc:
            raise ValueError(f"{path}: record {i} has no score for model {exc.args[0]!r}") from None
        prompts.append(p)
        g = next((r[k] for k in GROUP_KEYS if k in r), None)
        groups.append(None if g is None else str(g))
    has_groups = all(g is not None for g in groups)
    return RoutingData(prompts, np.asarray(rows, float), names, groups if has_groups else None,
                       _hash_files([path]), [str(path)])


def load_csv(path: Path) -> RoutingData:
    """Generic CSV: a ``prompt`` column, an optional ``group`` column, every other column a model."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        pkey = next((k for k in PROMPT_KEYS if k in fields), None)
        if pkey is None:
            raise ValueError(f"{path}: needs a 'prompt' column")
        gkey = next((k for k in GROUP_KEYS if k in fields), None)
        names = [f for f in fields if f not in (pkey, gkey)]
        prompts, rows, groups = [], [], []
        for r in reader:
            prompts.append(r[pkey])
            rows.append([_truthy(r[m]) for m in names])
            groups.append(r[gkey] if gkey else None)
    roles = {"weak": names[0], "strong": names[-1]} if len(names) == 2 else {}
    return RoutingData(prompts, np.asarray(rows, float), names, groups if gkey else None,
                       _hash_files([path]), [str(path)], roles)


def load_data(path: str | Path, models: list[str] | None = None) -> RoutingData:
    p = Path(path)
    if p.is_dir():
        return load_mmlu_dir(p)
    if p.suffix in (".json", ".jsonl"):
        return load_json(p, models)
    if p.suffix == ".csv":
        return load_csv(p)
    raise ValueError(f"{p}: unsupported routing data (a directory of mmlu_*.csv, .json, .jsonl or .csv)")


def load_prices(path: str | Path) -> dict[str, dict[str, float]]:
    """LLMRouter ``default_llm.json``: ``{name: {"input_price": usd_per_1M, "output_price": ...}}``."""
    raw = json.loads(Path(path).read_text())
    return {k: {"input_price": float(v["input_price"]), "output_price": float(v["output_price"])}
            for k, v in raw.items()}
