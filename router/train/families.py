"""Task families for leave-one-family-out evaluation (training/eval only).

Why families and not subjects: a router deployed in front of real traffic meets task *kinds* it was
never trained on; holding out one MMLU subject still leaves its siblings (college vs high-school
physics) in training. So rows are grouped into families:

* RouteLLM MMLU: the four standard MMLU categories (STEM, humanities, social sciences, other), from
  the subject (the CSV file name) as MMLU's own ``categories.py`` maps them (hendrycks/test).
* LLMRouter (dcrouter): its ``cluster_id`` has only 3 values and does not name the task, so the task
  is recognised from the question's format: code (a ``def`` stub, "Write a python function ..."),
  maths (GSM8K-style word problems, LaTeX competition maths), puzzles (zebra "houses" puzzles,
  word-sorting lists), reading comprehension (long passages), and short knowledge / commonsense QA.
* anything else: the row's own group (``group``/``subject``/``task`` column), so any data set with a
  group column can be evaluated this way.
"""
from __future__ import annotations

import re
from typing import Sequence

MMLU_CATEGORY = {
    **dict.fromkeys((
        "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
        "college_computer_science", "college_mathematics", "college_physics", "computer_security",
        "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
        "high_school_chemistry", "high_school_computer_science", "high_school_mathematics", "high_school_physics",
        "high_school_statistics", "machine_learning"), "stem"),
    **dict.fromkeys((
        "formal_logic", "high_school_european_history", "high_school_us_history", "high_school_world_history",
        "international_law", "jurisprudence", "logical_fallacies", "moral_disputes", "moral_scenarios",
        "philosophy", "prehistory", "professional_law", "world_religions"), "humanities"),
    **dict.fromkeys((
        "econometrics", "high_school_geography", "high_school_government_and_politics",
        "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology", "human_sexuality",
        "professional_psychology", "public_relations", "security_studies", "sociology", "us_foreign_policy"),
        "social_sciences"),
    **dict.fromkeys((
        "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging", "management",
        "marketing", "medical_genetics", "miscellaneous", "nutrition", "professional_accounting",
        "professional_medicine", "virology"), "other"),
}

_MBPP = re.compile(r"write an? (python )?function", re.I)
_LATEX = re.compile(r"\$[^$\s]+\$|\\[a-zA-Z]{2,}")  # $x$, $f(2)$, \frac: not money like "$30 an hour"
_WORD_LIST = re.compile(r"[a-z]+(, [a-z]+){5,}")
_WORD_PROBLEM = re.compile(r"\b(how many|how much|how long|how far|what is the total)\b", re.I)


def llmrouter_family(question: str) -> str:
    """LLMRouter (dcrouter) task family of one question, from its format."""
    s = question.strip()
    if s.startswith(("def ", "from ", "import ")) or _MBPP.match(s):
        return "code"
    if "put you final answer in \\boxed" in question or _LATEX.search(question):
        return "math"
    if re.search(r"\d", s) and _WORD_PROBLEM.search(s) and len(s) > 100 and len(s) < 700:
        return "math"
    if (s.startswith("Q: There are") and "houses" in s[:80]) or _WORD_LIST.fullmatch(s.split("\n")[0][:400]):
        return "puzzles"
    if len(s) > 700:
        return "reading"
    return "qa"


def family_of(group: str | None, prompt: str, source_kind: str) -> str:
    """Family label of one row; ``source_kind`` is ``"csv"`` or ``"json"`` (the data's format)."""
    g = (group or "").strip()
    subject = g[5:] if g.startswith("mmlu_") else g
    if subject in MMLU_CATEGORY:
        return f"mmlu-{MMLU_CATEGORY[subject]}"
    if source_kind == "json" and (not g or g.isdigit()):  # LLMRouter: cluster ids are not task names
        return f"llmrouter-{llmrouter_family(prompt)}"
    return g or "ungrouped"


def families(groups: Sequence[str | None] | None, prompts: Sequence[str], source_kind: str) -> list[str]:
    gs = list(groups) if groups is not None else [None] * len(prompts)
    return [family_of(g, p, source_kind) for g, p in zip(gs, prompts)]
