"""Documents as items: .txt, .md, .docx and .pdf files or a folder of them, one item per file."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pypdf
import pytest

from llmcode.documents import document_text, read_documents
from llmcode.errors import ItemsError
from llmcode.items import load_items


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica, written object by object with its xref."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def encrypted(pdf: bytes) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def word_document(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Interviewer: How did you start?")
    document.add_paragraph("")
    document.add_paragraph("Respondent: With a pre-trained model.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "age"
    table.rows[0].cells[1].text = "34"
    document.save(path)
    return path


def test_a_folder_gives_one_item_per_document_in_name_order(tmp_path):
    (tmp_path / "b_notes.md").write_text("# Notes\n\nSecond.", encoding="utf-8")
    (tmp_path / "a_interview.txt").write_bytes("\ufeffLine one\r\nLine two\r\n".encode())
    word_document(tmp_path / "c_memo.docx")
    (tmp_path / "d_paper.pdf").write_bytes(pdf_with_text("Reuse saves weeks of training."))
    (tmp_path / ".hidden.txt").write_text("ignored")
    items = load_items(tmp_path)
    assert [i.item_id for i in items.items] == ["a_interview", "b_notes", "c_memo", "d_paper"]
    texts = {i.item_id: i.text for i in items.items}
    assert texts["a_interview"] == "Line one\r\nLine two\r\n"  # kept as written, BOM dropped
    assert texts["b_notes"] == "# Notes\n\nSecond."
    assert texts["c_memo"] == (
        "Interviewer: How did you start?\n\nRespondent: With a pre-trained model.\n\nage\t34"
    )
    assert texts["d_paper"] == "Reuse saves weeks of training."
    assert items.items[0].metadata == {"file": "a_interview.txt"}
    assert items.skipped == []
    assert len(items.sha256) == 64


def test_an_unreadable_document_is_skipped_naming_the_file_and_the_rest_go_on(tmp_path):
    (tmp_path / "good.txt").write_text("A readable transcript.")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "locked.pdf").write_bytes(encrypted(pdf_with_text("secret text")))
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "scan.pdf").write_bytes(pdf_with_text(""))
    items = load_items(tmp_path)
    assert [i.item_id for i in items.items] == ["good"]
    reasons = dict(items.skipped)
    assert set(reasons) == {"broken", "locked", "empty", "latin1", "scan"}
    assert "broken.docx: cannot read as .docx" in reasons["broken"]
    assert "locked.pdf: an encrypted PDF" in reasons["locked"]
    assert "empty.txt: no text in it" in reasons["empty"]
    assert "latin1.txt: not UTF-8 text" in reasons["latin1"]
    assert "scan.pdf: no text in it (a scanned PDF needs OCR first)" in reasons["scan"]


def test_a_pdf_encrypted_without_a_user_password_is_read(tmp_path):
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf_with_text("open"))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "open.pdf"
    path.write_bytes(buffer.getvalue())
    assert document_text(path) == "open"


def test_one_unreadable_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"nonsense")
    with pytest.raises(ItemsError, match=r"no document could be read \(.*broken\.docx: cannot"):
        load_items(path)


def test_a_single_document_file_is_one_item(tmp_path):
    path = tmp_path / "interview.md"
    path.write_text("Only this.")
    items = load_items(path)
    assert [(i.item_id, i.text) for i in items.items] == [("interview", "Only this.")]


def test_two_documents_with_one_name_are_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / "a.md").write_text("two")
    with pytest.raises(ItemsError, match=r"same name would share an item id: a\.md, a\.txt"):
        read_documents(tmp_path)


def test_a_folder_without_documents_is_an_error(tmp_path):
    (tmp_path / "data.csv").write_text("item_id,text\n1,x\n")
    with pytest.raises(ItemsError, match="no documents in the folder"):
        load_items(tmp_path)


def test_table_settings_do_not_apply_to_documents(tmp_path):
    (tmp_path / "a.txt").write_text("one")
    with pytest.raises(ItemsError, match="text_columns apply to tables, not to documents"):
        load_items(tmp_path, text_columns=["body"])
