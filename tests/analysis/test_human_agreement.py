"""The report's comparison with human codes, on its own (the whole report: test_report)."""

import pandas as pd

from llmcode.analysis.human_agreement import agreement_section


def test_agreement_with_no_shared_items_is_a_note_not_a_crash():
    llm = pd.DataFrame({"item_id": ["a"], "coder": ["m"], "code": ["x"]})
    human = pd.DataFrame({"item_id": ["b"], "coder": ["h"], "code": ["x"]})
    section = agreement_section(llm, human, ["x"], multi_label=False, bootstrap=0)
    assert section.coefficients.empty
    assert "two or more" in section.notes[0]
