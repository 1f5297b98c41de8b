"""A REFI-QDA project as items (``-i project.qdpx``): one item per text source, its exact text."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from llmcode.errors import ItemsError
from llmcode.interchange.refi.importer import read_project
from llmcode.items import load_items

ROOT = Path(__file__).resolve().parents[1]
INTERVIEWS = ROOT / "examples" / "interviews"
PROJECT = INTERVIEWS / "interviews.qdpx"


def project(tmp_path: Path, sources: list[tuple[str, str]], members: dict[str, bytes]) -> Path:
    """A project with TextSources (name, plainTextPath) and archive members."""
    listed = "".join(
        f'<TextSource guid="d0d0d0d0-0000-4000-8000-00000000000{i}" name="{name}" '
        f'plainTextPath="{where}"/>'
        for i, (name, where) in enumerate(sources)
    )
    qde = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Project xmlns="urn:QDA-XML:project:1.0" name="p"><Sources>{listed}</Sources></Project>'
    )
    path = tmp_path / "project.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde)
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_project_gives_one_item_per_text_source_with_the_text_the_archive_holds():
    items = load_items(PROJECT)
    assert [i.item_id for i in items.items] == [
        "p1-logistics", "p2-bank", "p3-hospital", "p4-mobile", "p5-agency"
    ]  # fmt: skip
    for item in items.items:
        transcript = INTERVIEWS / "transcripts" / f"{item.item_id}.txt"
        assert item.text == transcript.read_text(encoding="utf-8")
        assert item.metadata == {"file": "interviews.qdpx"}
    assert items.source == str(PROJECT) and not items.skipped


def test_offsets_into_the_items_are_the_projects_selection_positions():
    texts = {i.item_id: i.text for i in load_items(PROJECT).items}
    codes = read_project(PROJECT).codes
    assert len(codes) > 10
    for row in codes.itertuples():
        assert texts[row.item_id][row.start : row.end] == row.evidence


def test_text_is_kept_exactly_crlf_and_leading_blanks_and_a_bom_dropped(tmp_path):
    text = "  \r\nFirst line.\r\nCafe\u0301 \U0001f600 second line.\n"
    path = project(
        tmp_path,
        [("a", "internal://a.txt"), ("a", "internal://b.txt")],
        {"sources/a.txt": b"\xef\xbb\xbf" + text.encode(), "sources/b.txt": b"other text"},
    )
    items = load_items(path).items
    assert [i.item_id for i in items] == ["a", "a (2)"]  # as `import qdpx` names them
    assert items[0].text == text and items[1].text == "other text"


def test_a_source_outside_the_archive_is_skipped_naming_it_and_never_read(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("never read", encoding="utf-8")
    import builtins
    import io

    opened: list[str] = []
    real_open = io.open

    def watch(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watch)
    monkeypatch.setattr(io, "open", watch)
    path = project(
        tmp_path,
        [("outside", f"file://{secret}"), ("missing", "internal://gone.txt"),
         ("inside", "internal://in.txt")],
        {"sources/in.txt": b"inside text"},
    )  # fmt: skip
    items = load_items(path)
    assert [i.item_id for i in items.items] == ["inside"]
    reasons = dict(items.skipped)
    assert "points outside the archive" in reasons["outside"]
    assert "missing from the archive" in reasons["missing"]
    assert opened and str(secret) not in opened  # the archive was opened, the secret never


def test_a_project_without_a_readable_source_is_an_error_naming_it(tmp_path):
    path = project(tmp_path, [("empty", "internal://e.txt")], {"sources/e.txt": b"  \n"})
    with pytest.raises(ItemsError, match=r"project\.qdpx: no source of the project"):
        load_items(path)
    bad = tmp_path / "broken.qdpx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ItemsError, match="not a REFI-QDA project"):
        load_items(bad)


def test_a_project_expanding_beyond_the_bound_is_refused(tmp_path, monkeypatch):
    from llmcode import qdpxfiles

    monkeypatch.setattr(qdpxfiles, "MAX_EXPANDED_BYTES", 10_000)
    path = project(tmp_path, [("big", "internal://big.txt")], {"sources/big.txt": b"a" * 50_000})
    with pytest.raises(ItemsError, match="expand"):
        load_items(path)


def test_the_project_codes_in_passages_from_the_command_line(cli, tmp_path):
    result = cli(
        "code", "-t", INTERVIEWS / "ptm-interviews.yaml", "-i", PROJECT, "--unit", "segment",
        "--level", "leaves", "--backend", "openai", "--model", "m", "--dry-run", "--json",
        "--runs-dir", tmp_path, env={"OPENAI_API_KEY": "sk-test"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"items": 5' in result.stdout and '"windows": 5' in result.stdout


def test_agreement_on_passages_reads_the_texts_from_the_project_as_from_the_files(cli, tmp_path):
    team = tmp_path / "team.csv"
    assert cli("import", "qdpx", PROJECT, "-o", team).exit_code == 0
    args = ["agree", team, "--unit", "segment", "--coder", "ana", "--coder", "ben", "--json"]
    from_project = cli(*args, "--items", PROJECT)
    from_files = cli(*args, "--items", INTERVIEWS / "transcripts")
    assert from_project.exit_code == 0, from_project.output
    alpha = json.loads(from_project.stdout)["unitizing_alpha"]
    assert alpha == json.loads(from_files.stdout)["unitizing_alpha"]
    assert alpha["overall"] > 0.5
