"""A synthetic codebook of 307 codes in three levels, written for llmcode's tests and benchmarks.

The size of the MAXQDA codebook that issue 27 reports (307 codes for conference papers, parents
that say "never apply this parent"), built from our own words: 12 top-level categories and 55
middle ones, all marked not codable, over 240 codable leaves, each with a definition of one or
two sentences (and, for every other leaf, an include criterion), as a researcher writes them.
Deterministic: the same codebook every time.
"""

from __future__ import annotations

from pathlib import Path

from llmcode.taxonomy.model import Taxonomy, dump_taxonomy

TOPS: dict[str, tuple[str, list[str]]] = {
    "research_design": (
        "How the study is set up: its questions, its approach and the reasoning behind them.",
        ["Research questions", "Study type", "Theory use", "Hypotheses", "Scope decisions"],
    ),
    "participants": (
        "Who took part in the study and how they were found, selected and treated.",
        ["Recruitment", "Sampling frame", "Demographics", "Incentives", "Consent"],
    ),
    "data_collection": (
        "How the data were gathered: instruments, settings, timing and recording.",
        ["Interviews", "Surveys", "Observation", "Repository mining", "Experiments"],
    ),
    "data_analysis": (
        "How the data were analysed, from preparation to the final statistics or themes.",
        [
            "Qualitative coding",
            "Statistical tests",
            "Machine learning",
            "Triangulation",
            "Data cleaning",
        ],
    ),
    "tools_artifacts": (
        "The software, datasets and other artifacts the study builds, uses or releases.",
        ["Prototypes", "Datasets", "Replication package", "Third-party tools", "Benchmarks"],
    ),
    "findings": (
        "What the study reports as its results, in the authors' own framing.",
        [
            "Main results",
            "Unexpected results",
            "Negative results",
            "Effect sizes",
            "Practitioner feedback",
        ],
    ),
    "validity": (
        "Threats to the validity of the study and what the authors did about them.",
        [
            "Construct validity",
            "Internal validity",
            "External validity",
            "Conclusion validity",
            "Reliability",
        ],
    ),
    "related_work": (
        "How the paper positions itself against earlier research.",
        ["Prior studies", "Competing approaches", "Gaps named", "Replications"],
    ),
    "implications": (
        "What the results mean for people beyond the study.",
        ["For practitioners", "For researchers", "For educators", "For tool builders"],
    ),
    "ethics": (
        "Ethical questions the study raises or handles.",
        ["Review board", "Privacy", "Harm to participants", "Dual use"],
    ),
    "open_science": (
        "How openly the study shares its materials, data and process.",
        ["Preregistration", "Open data", "Open materials", "Licensing"],
    ),
    "presentation": (
        "How the paper communicates: structure, figures and the claims it makes.",
        ["Figures and tables", "Claims and hedging", "Terminology", "Limitations section"],
    ),
}
ASPECTS = [
    ("rationale", "the reasons the authors give for", "why it was chosen over alternatives"),
    ("procedure", "the concrete steps of", "what was done, in which order, by whom"),
    ("difficulties", "problems the authors met with", "delays, failures, workarounds"),
    ("evaluation", "how the authors judge the quality of", "criteria, checks, comparisons"),
    ("reporting gaps", "what the paper leaves out about", "details a reader would need"),
]
LEAVES_OF_FIVE = 20  # the first 20 middle categories get five leaves, the other 35 four


def big_codebook() -> Taxonomy:
    """The 307-code taxonomy (12 + 55 grouping parents, not codable; 240 leaves)."""
    categories = []
    middle_index = 0
    for top_id, (definition, middles) in TOPS.items():
        children = []
        for middle in middles:
            middle_id = f"{top_id}__{_slug(middle)}"
            count = 5 if middle_index < LEAVES_OF_FIVE else 4
            middle_index += 1
            leaves = []
            for number, (aspect, phrase, detail) in enumerate(ASPECTS[:count]):
                leaf = {
                    "id": f"{middle_id}__{_slug(aspect)}",
                    "name": aspect.capitalize(),
                    "definition": (
                        f"Passages that describe {phrase} {middle.lower()} in this study "
                        f"({detail}). Code the passage where the paper states it, not where "
                        f"it only mentions {middle.lower()} in passing."
                    ),
                }
                if number % 2 == 0:
                    leaf["include"] = [
                        f"Statements about {aspect} of {middle.lower()} in the method or "
                        "discussion sections"
                    ]
                leaves.append(leaf)
            children.append(
                {
                    "id": middle_id,
                    "name": middle,
                    "definition": f"{middle} in the study. Never apply this parent: code a leaf.",
                    "codable": False,
                    "children": leaves,
                }
            )
        categories.append(
            {
                "id": top_id,
                "name": top_id.replace("_", " ").capitalize(),
                "definition": definition + " Never apply this parent: code a leaf.",
                "codable": False,
                "children": children,
            }
        )
    return Taxonomy.model_validate(
        {
            "name": "papers-307",
            "version": "1",
            "description": "Synthetic codebook for coding empirical software engineering papers.",
            "multi_label": True,
            "categories": categories,
        }
    )


def write_big_codebook(path: Path) -> Path:
    """Write the 307-code taxonomy as YAML at ``path``."""
    path.write_text(dump_taxonomy(big_codebook()), encoding="utf-8")
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_").replace("__", "_")
