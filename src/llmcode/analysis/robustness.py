"""Robustness across runs: does each of the study's conclusions hold in every run?

Runs that code the same items with the same codes but differ in prompt, examples, model,
temperature or codebook wording can lead to different conclusions ("LLM hacking", Baumann et
al. 2025). `robustness` analyses every run on the same items (`llmcode.analysis.studies`) and
states each conclusion as a value per run: each code's rank by share (and, with gold codes,
its rank by PPI share), the omnibus test of
resolution time by code (Kruskal–Wallis), each pairwise difference (Dunn, Holm) that is
significant in at least one run, PTM vs other (Mann–Whitney), and, with gold codes, each
regression coefficient's sign and significance (PPI) and each code's PPI share beside its naive
one. A conclusion *holds* when every run gives the same value, else it *flips*; ``agreement`` is
the share of runs that give the most common value. Runs over different items or with different
codes are refused, naming them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from llmcode.analysis.report import Report
from llmcode.analysis.resolution import OTHER, PTM
from llmcode.analysis.sources import file_items, run_items
from llmcode.analysis.studies import AnalysisOptions, open_run, run_analysis
from llmcode.analysis.study import Analysis
from llmcode.errors import AnalysisError
from llmcode.numbers import json_number
from llmcode.store.runs import Run, RunStore

ALPHA = 0.05
SIGNIFICANT, NOT_SIGNIFICANT, UNTESTED = "significant", "not significant", "untested"


@dataclass(frozen=True)
class Conclusion:
    """One conclusion of the study, its value in each run, and whether the runs agree."""

    key: str
    kind: str  # rank | ppi_rank | omnibus | pairwise | groups | coefficient
    statement: str
    values: dict[str, str]  # run_id -> the conclusion in that run

    @property
    def modal(self) -> str:
        return Counter(self.values.values()).most_common(1)[0][0]

    @property
    def agreement(self) -> float:
        """Share of runs that give the most common value."""
        return Counter(self.values.values()).most_common(1)[0][1] / len(self.values)

    @property
    def holds(self) -> bool:
        return len(set(self.values.values())) == 1

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "statement": self.statement,
            "holds": self.holds,
            "agreement": self.agreement,
            "modal": self.modal,
            "runs": self.values,
        }


@dataclass
class Robustness:
    """Every run's shares and the conclusions compared across runs."""

    run_ids: list[str]
    codes: list[str]
    shares: pd.DataFrame  # run_id, code, n, share, rank[, ppi, ppi_low, ppi_high]
    conclusions: list[Conclusion]
    gold: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_holding(self) -> int:
        return sum(c.holds for c in self.conclusions)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``llmcode robustness --json``."""
        shares: dict[str, dict[str, Any]] = {}
        for row in self.shares.to_dict("records"):
            entry: dict[str, Any] = {
                "n": int(row["n"]),
                "share": json_number(row["share"]),
                "rank": int(row["rank"]),
            }
            if "ppi" in row:
                entry["ppi"] = {
                    "estimate": json_number(row["ppi"]),
                    "ci95": [json_number(row["ppi_low"]), json_number(row["ppi_high"])],
                }
            shares.setdefault(str(row["run_id"]), {})[str(row["code"])] = entry
        return {
            "runs": self.run_ids,
            "codes": self.codes,
            "gold": self.gold,
            "shares": shares,
            "conclusions": {c.key: c.to_json() for c in self.conclusions},
            "n_conclusions": len(self.conclusions),
            "n_holding": self.n_holding,
            "holding": [c.key for c in self.conclusions if c.holds],
            "flipping": [c.key for c in self.conclusions if not c.holds],
            "notes": self.notes,
        }


def robustness(
    runs: Sequence[Run | str | Path],
    items: str | Path | None = None,
    *,
    human: str | Path | Sequence[str | Path] | None = None,
    coder: str | None = None,
    runs_dir: str | Path | None = None,
    options: AnalysisOptions | None = None,
) -> Robustness:
    """Analyse every run on ``items`` and compare the conclusions; ``human`` adds PPI.

    ``coder`` is the gold coder of ``human``. ``options`` are the analysis settings (split,
    columns, covariate, outcome) applied to every run. Without ``items``, the first run's item
    snapshot is the items (and each run's own snapshot its metadata).
    """
    store = RunStore(runs_dir)
    opened = [open_run(run, store) for run in runs]
    if len(opened) < 2:
        raise AnalysisError(
            "robustness compares runs: give at least two",
            hint="runs of the same items that differ in prompt, examples, model or wording",
        )
    ids = [run.run_id for run in opened]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise AnalysisError(f"run {', '.join(duplicated)} is given more than once")
    options = options or AnalysisOptions()
    items_path = Path(items) if items is not None else None
    if items_path is not None:
        frame, where = file_items(items_path, options.id_column), str(items_path)
    else:
        frame, where = run_items(opened[0]), f"the items of run {opened[0].run_id}"
    codes = _check_runs(opened, frame, where)
    if human is not None:
        paths = [Path(human)] if isinstance(human, str | Path) else [Path(h) for h in human]
        options = replace(options, gold=paths, gold_coder=coder)
    analyses = {
        run.run_id: run_analysis(options, store, run=run, items_path=items_path)[0]
        for run in opened
    }
    notes = [
        f"{run_id}: {note}" for run_id, analysis in analyses.items() for note in analysis.notes
    ]
    return Robustness(
        run_ids=ids,
        codes=codes,
        shares=pd.concat([_shares(r, a, codes) for r, a in analyses.items()], ignore_index=True),
        conclusions=conclusions(analyses, codes),
        gold=None
        if human is None
        else " + ".join(map(str, [human] if isinstance(human, str | Path) else human)),
        notes=notes,
    )


def add_robustness(
    report: Report,
    runs: Sequence[Run | str | Path],
    *,
    items: str | Path | None = None,
    human: str | Path | Sequence[str | Path] | None = None,
    coder: str | None = None,
    runs_dir: str | Path | None = None,
    options: AnalysisOptions | None = None,
) -> Report:
    """``report`` with the section "Robustness across runs" comparing ``runs`` (its own first)."""
    report.robustness = robustness(
        runs, items, human=human, coder=coder, runs_dir=runs_dir, options=options
    ).to_json()
    return report


def _check_runs(runs: list[Run], items: pd.DataFrame, where: str) -> list[str]:
    """The runs' codes; runs over other items than ``items`` or with other codes are refused."""
    wanted = set(items["item_id"])
    bad = []
    for run in runs:
        have = {item.item_id for item in run.items()}
        if have != wanted:
            missing, extra = len(wanted - have), len(have - wanted)
            bad.append(f"{run.run_id} ({missing} of the items missing, {extra} others)")
    if bad:
        raise AnalysisError(
            f"runs over other items than {where}: {'; '.join(bad)}",
            hint="compare runs that coded the same items; give those items",
        )
    schemes = {}
    for run in runs:
        level = run.manifest().config.inputs.level
        schemes[run.run_id] = [c.id for c in run.taxonomy().targets(level)]
    first = runs[0].run_id
    differing = [r for r, c in schemes.items() if set(c) != set(schemes[first])]
    if differing:
        raise AnalysisError(
            f"runs with other codes than {first}: "
            + "; ".join(
                f"{r} ({', '.join(sorted(set(schemes[r]) ^ set(schemes[first])))})"
                for r in differing
            ),
            hint="robustness compares runs of one taxonomy (its wording may differ, not its codes)",
        )
    return schemes[first]


def _ranked(analysis: Analysis, codes: list[str]) -> pd.DataFrame:
    """The taxonomy's codes of the distribution ("no code applies" is not ranked)."""
    dist = analysis.distribution
    return dist[dist["code"].isin(codes)].reset_index(drop=True)


def _shares(run_id: str, analysis: Analysis, codes: list[str]) -> pd.DataFrame:
    dist = _ranked(analysis, codes)[["code", "n", "share"]].copy()
    dist["rank"] = dist["n"].rank(method="min", ascending=False).astype(int)
    if analysis.gold is not None:
        prevalence = analysis.gold.prevalence
        for column, part in (("ppi", "estimate"), ("ppi_low", "low"), ("ppi_high", "high")):
            dist[column] = [
                getattr(prevalence[c].ppi, part) if c in prevalence else float("nan")
                for c in dist["code"]
            ]
    dist.insert(0, "run_id", run_id)
    return dist


def conclusions(analyses: dict[str, Analysis], codes: list[str]) -> list[Conclusion]:
    """Each conclusion of the study, valued in every analysed run."""
    out: list[Conclusion] = []
    for code in codes:
        values = {r: _rank(a, code, codes) for r, a in analyses.items()}
        out.append(Conclusion(f"rank:{code}", "rank", f"rank of {code}", values))
    if all(a.gold is not None for a in analyses.values()):
        for code in codes:
            values = {r: _ppi_rank(a, code) for r, a in analyses.items()}
            out.append(Conclusion(f"ppi_rank:{code}", "ppi_rank", f"PPI rank of {code}", values))
    if any(a.resolution is not None for a in analyses.values()):
        out.append(
            Conclusion(
                "omnibus",
                "omnibus",
                "time differs by code (Kruskal–Wallis)",
                {r: _omnibus(a) for r, a in analyses.items()},
            )
        )
        pairs = sorted(
            {
                tuple(sorted((p.a, p.b)))
                for a in analyses.values()
                if a.resolution is not None
                for p in a.resolution.category_test.dunn
                if p.p_adjusted < ALPHA
            }
        )
        for a_code, b_code in pairs:
            out.append(
                Conclusion(
                    f"pair:{a_code}|{b_code}",
                    "pairwise",
                    f"time of {a_code} vs {b_code} (Dunn)",
                    {r: _pair(a, a_code, b_code) for r, a in analyses.items()},
                )
            )
    if any(a.resolution is not None and a.resolution.group_test for a in analyses.values()):
        out.append(
            Conclusion(
                "groups:ptm|other",
                "groups",
                "time of PTM vs other (Mann–Whitney)",
                {r: _groups(a) for r, a in analyses.items()},
            )
        )
    terms = sorted(
        {
            (reg.outcome, t.term)
            for a in analyses.values()
            if a.gold is not None
            for reg in a.gold.regressions
            for t in reg.terms
            if t.term != "intercept"
        }
    )
    for outcome, term in terms:
        out.append(
            Conclusion(
                f"coefficient:{outcome}:{term}",
                "coefficient",
                f"{term} on {outcome} (PPI)",
                {r: _coefficient(a, outcome, term) for r, a in analyses.items()},
            )
        )
    return out


def _rank(analysis: Analysis, code: str, codes: list[str]) -> str:
    dist = _ranked(analysis, codes)
    ranks = dist["n"].rank(method="min", ascending=False)
    match = dist.index[dist["code"] == code]
    if not len(match) or int(dist.loc[match[0], "n"]) == 0:
        return "absent"
    return str(int(ranks[match[0]]))


def _ppi_rank(analysis: Analysis, code: str) -> str:
    prevalence = analysis.gold.prevalence if analysis.gold is not None else {}
    if code not in prevalence:
        return UNTESTED
    mine = prevalence[code].ppi.estimate
    return str(1 + sum(est.ppi.estimate > mine for est in prevalence.values()))


def _omnibus(analysis: Analysis) -> str:
    if analysis.resolution is None or analysis.resolution.category_test.p_value is None:
        return UNTESTED
    return SIGNIFICANT if analysis.resolution.category_test.p_value < ALPHA else NOT_SIGNIFICANT


def _pair(analysis: Analysis, a: str, b: str) -> str:
    if analysis.resolution is None:
        return UNTESTED
    for pair in analysis.resolution.category_test.dunn:
        if {pair.a, pair.b} == {a, b}:
            if pair.p_adjusted >= ALPHA:
                return NOT_SIGNIFICANT
            slower = pair.a if pair.z > 0 else pair.b  # z > 0: a's durations rank higher
            return f"{slower} slower"
    return UNTESTED


def _groups(analysis: Analysis) -> str:
    test = analysis.resolution.group_test if analysis.resolution is not None else None
    if test is None or test.p_value is None or test.cliffs_delta is None:
        return UNTESTED
    if test.p_value >= ALPHA:
        return NOT_SIGNIFICANT
    return f"{PTM if test.cliffs_delta > 0 else OTHER} slower"


def _coefficient(analysis: Analysis, outcome: str, term: str) -> str:
    if analysis.gold is None:
        return UNTESTED
    for regression in analysis.gold.regressions:
        if regression.outcome != outcome:
            continue
        for t in regression.terms:
            if t.term == term:
                low, high = t.ppi.low, t.ppi.high
                if low > 0:
                    return "positive"
                if high < 0:
                    return "negative"
                return NOT_SIGNIFICANT
    return UNTESTED
