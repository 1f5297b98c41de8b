"""REFI-QDA codebooks (``.qdc``): a taxonomy as nested Codes, and a codebook back as a taxonomy.

A Code's ``Description`` carries the definition, then the include / exclude criteria and
examples as readable sections, then a last line ``llmcode id: <id>`` so the round trip keeps
ids. GUIDs are uuid5 of the taxonomy name and the category id: the same taxonomy always gives
the same GUIDs, so codes exported twice (or in a codebook and a project) are one code in a QDA
tool. Codebooks from other tools (no id line) get ids made from their code names. A Code's
``isCodable="false"`` (a parent that only groups its children) is the category's ``codable:
false``, and is written back so. A Code's ``color`` is the category's ``color`` and is written
back as it was (a category without one gets its top-level category's colour from a palette).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from llmcode import __version__
from llmcode.errors import InterchangeError
from llmcode.qdpxfiles import PARSER as PARSER
from llmcode.qdpxfiles import PROJECT_NS as PROJECT_NS
from llmcode.taxonomy.model import NONE_CODE, Category, Taxonomy

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
GUID_NAMESPACE = uuid.UUID("6f1f3a52-8a7e-5c1e-9d0b-6c6c6d636f64")
PALETTE = (
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
_SECTIONS = {"include": "Include:", "exclude": "Exclude:", "examples": "Examples:"}
_ID_LINE = re.compile(r"\n*llmcode id: ([a-z][a-z0-9_]*)\s*$")
_TAXONOMY_LINE = re.compile(r"\n*llmcode taxonomy: (\{.*\})\s*$")
_SECTION_START = re.compile(r"\n\n(Include|Exclude|Examples):\n")
_COLOR = re.compile(r"#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def stable_guid(*parts: str) -> str:
    """A GUID that depends only on ``parts`` (uuid5), so exports are reproducible."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(parts)))


def code_guid(taxonomy_name: str, code_id: str) -> str:
    """The GUID of a category in REFI files: from the taxonomy name and the category id."""
    return stable_guid("code", taxonomy_name, code_id)


def normal_guid(guid: str) -> str:
    """A GUID as REFI files may write it (braces, upper case) in one comparable form."""
    return guid.strip().strip("{}").lower()


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids (terminal escapes, NUL) replaced by U+FFFD."""
    return _XML_BAD.sub("\ufffd", text)


def describe(category: Category) -> str:
    """A category's Description: definition, criteria, examples, and the id line."""
    blocks = [category.definition]
    for key, header in _SECTIONS.items():
        values = getattr(category, key)
        if not values:
            continue
        if key == "examples":
            bullets = [_bullet(e.text + (f"\nwhy: {e.why}" if e.why else "")) for e in values]
        else:
            bullets = [_bullet(v) for v in values]
        blocks.append(header + "\n" + "\n".join(bullets))
    blocks.append(f"llmcode id: {category.id}")
    return xml_text("\n\n".join(blocks))


def codes_element(taxonomy: Taxonomy, namespace: str) -> etree._Element:
    """``<Codes>`` with one nested ``<Code>`` per category, in the given REFI namespace."""
    codes = etree.Element(f"{{{namespace}}}Codes", nsmap={None: namespace})
    for index, category in enumerate(taxonomy.categories):
        _add_code(codes, category, taxonomy.name, PALETTE[index % len(PALETTE)], namespace)
    return codes


def sets_element(taxonomy: Taxonomy, namespace: str) -> etree._Element:
    """``<Sets>`` with one Set of all codes, carrying the taxonomy's name, version, description."""
    sets = etree.Element(f"{{{namespace}}}Sets", nsmap={None: namespace})
    group = etree.SubElement(
        sets, f"{{{namespace}}}Set", guid=stable_guid("set", taxonomy.name), name=taxonomy.name
    )
    meta = {
        "name": taxonomy.name,
        "version": taxonomy.version,
        "multi_label": taxonomy.multi_label,
        "colors": [c.id for c in taxonomy.walk() if c.color],  # the rest are the palette's
    }
    head = taxonomy.description.strip()
    tail = "llmcode taxonomy: " + json.dumps(meta, ensure_ascii=False)
    etree.SubElement(group, f"{{{namespace}}}Description").text = xml_text(
        f"{head}\n\n{tail}" if head else tail
    )
    member = "guid" if namespace == CODEBOOK_NS else "targetGUID"  # the schemas differ here
    for category in taxonomy.walk():
        etree.SubElement(
            group, f"{{{namespace}}}MemberCode", {member: code_guid(taxonomy.name, category.id)}
        )
    return sets


def codebook_xml(taxonomy: Taxonomy) -> bytes:
    """The ``.qdc`` document for a taxonomy (UTF-8, with XML declaration)."""
    root = etree.Element(
        f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS}, origin=f"llmcode {__version__}"
    )
    root.append(codes_element(taxonomy, CODEBOOK_NS))
    root.append(sets_element(taxonomy, CODEBOOK_NS))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_codebook(taxonomy: Taxonomy, path: str | Path) -> int:
    """Write a ``.qdc`` codebook; returns the number of codes written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(codebook_xml(taxonomy))
    return sum(1 for _ in taxonomy.walk())


@dataclass
class CodebookImport:
    """A taxonomy read from REFI codes, the code id of each GUID, and what had to be guessed."""

    taxonomy: Taxonomy
    ids: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_codebook(path: str | Path, name: str | None = None) -> CodebookImport:
    """Read a ``.qdc`` file (or a project's ``.qde``) as a taxonomy."""
    path = Path(path)
    try:
        root = etree.parse(str(path), PARSER).getroot()
    except OSError:
        raise InterchangeError(f"{path}: no such codebook file") from None
    except etree.XMLSyntaxError as exc:
        raise InterchangeError(f"{path}: not an XML codebook ({exc})") from exc
    namespace = etree.QName(root).namespace or ""
    sets = root
    if etree.QName(root).localname == "Project":
        book = root.find(f"{{{namespace}}}CodeBook")
        if book is None:
            raise InterchangeError(f"{path}: the project has no CodeBook")
        root = book
    if etree.QName(root).localname != "CodeBook":
        raise InterchangeError(
            f"{path}: the root element is <{etree.QName(root).localname}>, not <CodeBook>",
            hint='a REFI-QDA codebook (.qdc) starts with <CodeBook xmlns="urn:QDA-XML:...">',
        )
    return codes_to_taxonomy(root, str(path), default_name=name or path.stem, sets=sets)


def codes_to_taxonomy(
    book: etree._Element, source: str, default_name: str, sets: etree._Element | None = None
) -> CodebookImport:
    """Build a taxonomy from a ``<CodeBook>`` (codebook or project namespace).

    ``sets`` is the element holding ``<Sets>``: the codebook itself, or a project's root.
    """
    ns = etree.QName(book).namespace or ""
    codes = book.find(f"{{{ns}}}Codes")
    if codes is None or codes.find(f"{{{ns}}}Code") is None:
        raise InterchangeError(f"{source}: the codebook has no codes")
    meta: dict[str, Any] = {"name": default_name, "version": "1", "multi_label": True}
    description = ""
    holder = book if sets is None else sets
    for text in holder.iterfind(f"{{{ns}}}Sets/{{{ns}}}Set/{{{ns}}}Description"):
        found = _TAXONOMY_LINE.search(text.text or "")
        if found:
            meta.update(json.loads(found.group(1)))
            description = (text.text or "")[: found.start()].strip()
            break
    reader = _Reader()
    categories = [reader.category(c, ns) for c in codes.iterfind(f"{{{ns}}}Code")]
    if "colors" in meta:  # our export: only these colours are the taxonomy's own
        _keep_colors(categories, set(meta.pop("colors") or []))
    try:
        taxonomy = Taxonomy(**meta, description=description, categories=categories)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InterchangeError(f"{source}: not a valid taxonomy: {where}: {first['msg']}") from exc
    return CodebookImport(taxonomy=taxonomy, ids=reader.ids, warnings=reader.warnings)


def parse_description(text: str) -> dict[str, Any]:
    """Split a Description into definition, include, exclude, examples and id (if present)."""
    text = text.replace("\r\n", "\n")
    out: dict[str, Any] = {}
    found = _ID_LINE.search(text)
    if found:
        out["id"] = found.group(1)
        text = text[: found.start()]
    starts = list(_SECTION_START.finditer(text))
    out["definition"] = (text[: starts[0].start()] if starts else text).strip("\n")
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        key = match.group(1).lower()
        bullets = _bullets(text[match.end() : end])
        if key == "examples":
            out[key] = [_example(b) for b in bullets]
        else:
            out[key] = bullets
    return out


def slug(name: str) -> str:
    """A category id made from a code name: lower case, ``_`` for the rest, starting a-z."""
    ident = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "code"
    if not ident[0].isalpha():
        ident = "c_" + ident
    return ident + "_code" if ident == NONE_CODE else ident


def _add_code(
    parent: etree._Element, category: Category, taxonomy: str, color: str, ns: str
) -> None:
    code = etree.SubElement(
        parent,
        f"{{{ns}}}Code",
        guid=code_guid(taxonomy, category.id),
        name=xml_text(category.name),
        isCodable="true" if category.codable else "false",
        color=category.color or color,
    )
    etree.SubElement(code, f"{{{ns}}}Description").text = describe(category)
    for child in category.children:
        _add_code(code, child, taxonomy, category.color or color, ns)


@dataclass
class _Reader:
    """Turns REFI Code elements into category dicts, keeping ids unique."""

    ids: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    def category(self, code: etree._Element, ns: str) -> dict[str, Any]:
        name = (code.get("name") or "").strip() or "unnamed"
        fields = parse_description(code.findtext(f"{{{ns}}}Description") or "")
        ident = fields.pop("id", None)
        if ident is None or ident in self.taken:
            ident = _unique(slug(name), self.taken)
        self.taken.add(ident)
        if not fields["definition"].strip():
            fields["definition"] = name
            self.warnings.append(f"code '{name}' has no description: its definition is its name")
        self.ids[normal_guid(code.get("guid") or "")] = ident
        children = [self.category(c, ns) for c in code.iterfind(f"{{{ns}}}Code")]
        codable = (code.get("isCodable") or "true").strip().lower() not in ("false", "0")
        color = _COLOR.fullmatch((code.get("color") or "").strip())
        return {
            "id": ident,
            "name": name,
            **fields,
            "codable": codable,
            "color": color.group(0).upper() if color else None,
            "children": children,
        }


def _keep_colors(categories: list[dict[str, Any]], own: set[str]) -> None:
    """Drop the colours of categories not in ``own`` (a palette's, given on export)."""
    stack = list(categories)
    while stack:
        category = stack.pop()
        if category["id"] not in own:
            category["color"] = None
        stack.extend(category["children"])


def _unique(ident: str, taken: set[str]) -> str:
    candidate, number = ident, 2
    while candidate in taken:
        candidate, number = f"{ident}_{number}", number + 1
    return candidate


def _bullet(text: str) -> str:
    return "- " + text.replace("\n", "\n  ")


def _bullets(block: str) -> list[str]:
    out: list[str] = []
    for line in block.strip("\n").split("\n"):
        if line.startswith("- "):
            out.append(line[2:])
        elif out:
            out[-1] += "\n" + (line[2:] if line.startswith("  ") else line)
    return out


def _example(bullet: str) -> dict[str, str]:
    text, sep, why = bullet.rpartition("\nwhy: ")
    return {"text": text, "why": why} if sep else {"text": bullet, "why": ""}
