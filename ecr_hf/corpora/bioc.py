"""BioC, XML (https://bioc.sourceforge.net, ``BioC.dtd``) and JSON (the same tree as the ``bioc``
package's ``biocjson``): collection / document / passage (``offset``, ``text``) / annotation
(``infon``s, ``location``s ``offset`` + ``length``, ``text``) / relation.

Read and written with the standard library (``xml.etree`` and ``json``): the ``bioc`` package on
PyPI would add lxml, intervaltree, jsonlines and docopt for what a few dozen lines do here.

Reading:

* doc_id: the document's ``id`` (its index if it has none); document ``infon``s are kept as ``"infons"``.
* text: the passages' texts placed at their (document) offsets, in file order; a gap between
  passages is filled with spaces (PubTator-derived BioC puts the abstract one character after the
  title: that character becomes the space of PubTator's title + " " + abstract). A passage without
  text takes its sentences' texts at their offsets. A passage that starts before the previous one
  ends raises. ``"passages"`` keeps each passage's ``offset``, ``length`` and ``infons``;
  sentences themselves are not kept (their annotations are).
* spans: every annotation of the document, its passages and sentences; location offsets are
  document offsets (BioC's rule), counted in code points. The label is the annotation's infon
  ``label_key`` (default ``"type"``; e.g. ``"entityType"`` for the Ada case reports, whose
  ``type`` is always ``AdaEntity``); the entity keeps the annotation ``"id"`` and its other
  ``"infons"``. The annotation's text must equal the text at its location (several locations: the
  fragments' texts joined by one space, or the whole stretch from the first to the last);
  locations with several entries follow ``discontinuous`` as in :mod:`ecr_hf.corpora.brat`.
  Offsets given as digit strings are read as integers; a ``locations`` object instead of a list
  (``CaseReportCorpus.bioc.json``) as a list of one.
* relations of the document, its passages and sentences: ``"relations"``, as
  ``{"id", "infons", "nodes": [{"refid", "role"}]}``, written back at the document level.

Writing: one passage per kept ``"passages"`` entry (else one passage at offset 0 holding the whole
text; text between passages must be spaces, or it would be lost), each annotation in the passage
where it starts, consecutive fragments of one ``"id"`` (as a split read gives them) as one
annotation with several locations; annotation ids are the entities' ``"id"`` where distinct, else
numbers. XML is
written by hand, not by ElementTree, so that ``\\r`` survives (as ``&#13;``) and the layout is
fixed; characters XML 1.0 cannot hold (most control characters, lone surrogates) raise.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..utils.outputs import atomic_write_text
from .documents import (CorpusError, annotation_ids, check_discontinuous, decode_utf8, documents_of, fragments,
                        group_fragments, pieces_of, spans_of)

_LOG = logging.getLogger(__name__)

__all__ = ["read_bioc_xml", "read_bioc_json", "format_bioc_xml", "format_bioc_json", "write_bioc_xml",
           "write_bioc_json"]

_SURROGATES = re.compile("[\ud800-\udfff]")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---- reading: both syntaxes give the JSON tree, which one function reads --------------------------

def read_bioc_json(path: str | os.PathLike, *, label_key: str = "type", discontinuous: str = "split") -> list[dict]:
    """The documents of a BioC JSON collection (see the module docstring)."""
    return [doc for doc, _ in read_bioc_located(path, "bioc-json", label_key=label_key, discontinuous=discontinuous)]


def read_bioc_xml(path: str | os.PathLike, *, label_key: str = "type", discontinuous: str = "split") -> list[dict]:
    """The documents of a BioC XML collection (see the module docstring)."""
    return [doc for doc, _ in read_bioc_located(path, "bioc-xml", label_key=label_key, discontinuous=discontinuous)]


def read_bioc_located(path: str | os.PathLike, syntax: str, *, label_key: str = "type",
                      discontinuous: str = "split") -> list[tuple[dict[str, Any], str]]:
    """The documents of a BioC file, each with its place (``file: document k (id ...)``)."""
    check_discontinuous(discontinuous)
    tree = _json_tree(path) if syntax == "bioc-json" else _xml_tree(path)
    documents = tree.get("documents") if isinstance(tree, Mapping) else None
    if not isinstance(documents, list):
        raise CorpusError(f"{path}: not a BioC collection (expected an object with a 'documents' list)")
    out = []
    for k, doc in enumerate(documents):
        place = f"{path}: document {k}" + (f" (id {doc.get('id')!r})" if isinstance(doc, Mapping) else "")
        if not isinstance(doc, Mapping):
            raise CorpusError(f"{place}: expected an object, got {type(doc).__name__}")
        out.append((_document(doc, k, place, label_key, discontinuous), place))
    _hint_label_key(path, [e for doc, _ in out for e in doc["entities"]], label_key)
    return out


def _hint_label_key(path: str | os.PathLike, entities: list[dict[str, Any]], label_key: str) -> None:
    """Warn when every annotation has one label but another infon tells them apart (the Ada case
    reports: ``type`` is always ``AdaEntity``, ``entityType`` holds finding/condition/...): scores
    by that one label are right but say nothing per type, so name the infon to use instead."""
    labels = {e["label"] for e in entities}
    if len(entities) < 2 or len(labels) != 1:
        return
    values: dict[str, set[str]] = {}
    for e in entities:
        for key, value in (e.get("infons") or {}).items():
            if isinstance(value, str):
                values.setdefault(key, set()).add(value)
    useful = sorted(key for key, seen in values.items() if 2 <= len(seen) <= 50)
    if useful:
        key = useful[0]
        _LOG.warning("%s: every annotation's %r infon is %r, while the infon %r has %d values (%s); pass "
                     "label_key=%r (CLI: --label-infon %s) to label the spans by it", path, label_key,
                     labels.pop(), key, len(values[key]), ", ".join(sorted(values[key])[:5]), key, key)


def _json_tree(path: str | os.PathLike) -> Any:
    try:
        return json.loads(decode_utf8(Path(path).read_bytes(), path).lstrip("\ufeff"))
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None


def _xml_tree(path: str | os.PathLike) -> dict[str, Any]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise CorpusError(f"{path}:{e.position[0]}: not well-formed XML ({e})") from None
    if root.tag != "collection":
        raise CorpusError(f"{path}: the root element is <{root.tag}>, not a BioC <collection>")
    return {"documents": [_xml_node(d) for d in root.findall("document")]}


def _infons(el: ET.Element) -> dict[str, str]:
    return {i.get("key", ""): i.text or "" for i in el.findall("infon")}


def _xml_node(el: ET.Element) -> dict[str, Any]:
    """A document, passage or sentence element as the JSON tree has it."""
    node: dict[str, Any] = {"infons": _infons(el), "offset": el.findtext("offset"), "text": el.findtext("text"),
                            "id": el.findtext("id")}
    node["annotations"] = [{"id": a.get("id"), "infons": _infons(a), "text": a.findtext("text"),
                            "locations": [dict(loc.attrib) for loc in a.findall("location")]}
                           for a in el.findall("annotation")]
    node["relations"] = [{"id": r.get("id"), "infons": _infons(r), "nodes": [dict(n.attrib) for n in r.findall("node")]}
                         for r in el.findall("relation")]
    node["passages"] = [_xml_node(p) for p in el.findall("passage")]
    node["sentences"] = [_xml_node(s) for s in el.findall("sentence")]
    return node


def _int(value: Any, what: str, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise CorpusError(f"{where}: {what} {value!r} is not a non-negative integer")


def _list(node: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = node.get(key) or []
    if not isinstance(value, list):
        raise CorpusError(f"{where}: '{key}' must be a list, got {type(value).__name__}")
    return value


def _document(doc: Mapping[str, Any], k: int, place: str, label_key: str, discontinuous: str) -> dict[str, Any]:
    parts, passages, holders, pos = [], [], [doc], 0
    for i, passage in enumerate(_list(doc, "passages", place)):
        where = f"{place}, passage {i}"
        holders.append(passage)
        pieces = [passage]
        if not passage.get("text") and passage.get("sentences"):
            pieces = _list(passage, "sentences", where)
            holders += pieces
        start = None
        for piece in pieces:
            offset = _int(piece.get("offset"), "offset", where)
            text = piece.get("text") or ""
            if not isinstance(text, str):
                raise CorpusError(f"{where}: text must be a string, got {type(text).__name__}")
            if offset < pos:
                raise CorpusError(f"{where}: offset {offset} lies inside the text before it (which ends at {pos}); "
                                  "passages (and sentences) must follow each other in offset order")
            parts += [" " * (offset - pos), text]
            start = offset if start is None else start
            pos = offset + len(text)
        start = _int(passage.get("offset"), "offset", where) if start is None else start
        kept = {"offset": start, "length": pos - start}
        if passage.get("infons"):
            kept["infons"] = dict(passage["infons"])
        passages.append(kept)
    text = "".join(parts)
    entities, relations = [], []
    for holder in holders:
        for a in _list(holder, "annotations", place):
            entities += _annotation(a, text, place, label_key, discontinuous)
        relations += [_relation(r) for r in _list(holder, "relations", place)]
    out = {"doc_id": doc["id"] if doc.get("id") is not None else k, "text": text, "entities": entities,
           "relations": relations, "passages": passages}
    if doc.get("infons"):
        out["infons"] = dict(doc["infons"])
    return out


def _annotation(a: Mapping[str, Any], text: str, place: str, label_key: str, discontinuous: str) -> list[dict]:
    where = f"{place}, annotation {a.get('id')!r}"
    infons = dict(a.get("infons") or {})
    label = infons.pop(label_key, None)
    if not label:
        raise CorpusError(f"{where}: no infon {label_key!r} to label it (its infons: {sorted(a.get('infons') or {})}); "
                          "choose the label's infon with label_key=")
    locations = a.get("locations")
    locations = [locations] if isinstance(locations, Mapping) else locations or []
    pieces = []
    for loc in locations:
        start = _int(loc.get("offset"), "location offset", where)
        pieces.append((start, start + _int(loc.get("length"), "location length", where)))
    if not pieces:
        raise CorpusError(f"{where}: no location")
    extra: dict[str, Any] = {"id": a.get("id")} if a.get("id") is not None else {}
    if infons:
        extra["infons"] = infons
    found = fragments(text, pieces, str(label), where, discontinuous, **extra)
    given = a.get("text")
    if given is not None:
        accepted = {" ".join(text[s:e] for s, e in pieces), text[min(p[0] for p in pieces):max(p[1] for p in pieces)]}
        if given not in accepted:
            raise CorpusError(f"{where}: its text {given!r} differs from the text at {pieces}: "
                              f"{' '.join(text[s:e] for s, e in pieces)!r} (offsets count code points)")
    return found


def _kept(infons: Mapping[str, Any] | None) -> dict[str, Any]:
    """Infons without ``None`` values (a ``datasets`` row fills the keys other rows have with ``None``)."""
    return {k: v for k, v in (infons or {}).items() if v is not None}


def _relation(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": r.get("id"), "infons": _kept(r.get("infons")),
            "nodes": [{"refid": n.get("refid"), "role": n.get("role", "")} for n in r.get("nodes") or []]}


# ---- writing: our documents -> the JSON tree -> JSON or XML ------------------------------------------

def _tree(documents: Iterable[Any], label_key: str) -> list[dict[str, Any]]:
    out = []
    for doc in documents_of(documents):
        where = f"doc_id {doc['doc_id']!r}"
        text = doc["text"]
        kept = doc.get("passages") or [{"offset": 0, "length": len(text)}]
        passages, pos = [], 0
        for p in kept:
            start, end = int(p["offset"]), int(p["offset"]) + int(p["length"])
            if start < pos or end > len(text) or text[pos:start].strip(" "):
                raise CorpusError(f"{where}: passage [{start}, {end}) overlaps the one before, passes the end of the "
                                  "text, or leaves non-space text out of every passage")
            passages.append({"offset": start, "infons": _kept(p.get("infons")), "text": text[start:end],
                             "sentences": [], "annotations": [], "relations": []})
            pos = end
        if text[pos:].strip(" "):
            raise CorpusError(f"{where}: text after the last passage (from {pos}) would be lost")
        starts = [p["offset"] for p in passages]
        groups = group_fragments(spans_of(doc, where), where)
        for key, group in zip(annotation_ids(groups, "", bool), groups):
            pieces = [p for e in group for p in pieces_of(e)]
            annotation = {"id": key, "infons": {label_key: group[0]["label"], **_kept(group[0].get("infons"))},
                          "text": " ".join(text[s:e] for s, e in pieces),
                          "locations": [{"offset": s, "length": e - s} for s, e in pieces]}
            passages[max(bisect.bisect_right(starts, pieces[0][0]) - 1, 0)]["annotations"].append(annotation)
        out.append({"id": str(doc["doc_id"]), "infons": _kept(doc.get("infons")), "passages": passages,
                    "annotations": [], "relations": [_relation(r) for r in doc.get("relations") or []]})
    return out


def format_bioc_json(documents: Iterable[Any], *, label_key: str = "type", source: str = "", date: str = "",
                     key: str = "") -> str:
    """``documents`` (dicts or a ``datasets.Dataset``) as a BioC JSON collection (indented; non-ASCII
    text as is, lone surrogates as ``\\u`` escapes)."""
    collection = {"source": source, "date": date, "key": key, "infons": {}, "documents": _tree(documents, label_key)}
    text = json.dumps(collection, ensure_ascii=False, indent=1)
    return _SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def _xml(value: Any, where: str, attribute: bool = False) -> str:
    value = str(value)
    bad = _NOT_XML.search(value)
    if bad:
        raise CorpusError(f"{where}: the character {bad.group()!r} at {bad.start()} of {value[:40]!r} cannot be "
                          "written in XML 1.0")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    if attribute:
        value = value.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return value


def format_bioc_xml(documents: Iterable[Any], *, label_key: str = "type", source: str = "", date: str = "",
                    key: str = "") -> str:
    """``documents`` (dicts or a ``datasets.Dataset``) as a BioC XML collection (UTF-8, indented
    between elements, never inside text)."""
    out = ["<?xml version='1.0' encoding='UTF-8'?>", '<!DOCTYPE collection SYSTEM "BioC.dtd">', "<collection>",
           f"  <source>{_xml(source, 'source')}</source>", f"  <date>{_xml(date, 'date')}</date>",
           f"  <key>{_xml(key, 'key')}</key>"]

    def infons(values: Mapping[str, Any], indent: str, where: str) -> list[str]:
        return [f'{indent}<infon key="{_xml(k, where, True)}">{_xml(v, where)}</infon>' for k, v in values.items()]

    for doc in _tree(documents, label_key):
        where = f"doc_id {doc['id']!r}"
        out += ["  <document>", f"    <id>{_xml(doc['id'], where)}</id>", *infons(doc["infons"], "    ", where)]
        for p in doc["passages"]:
            out += ["    <passage>", *infons(p["infons"], "      ", where), f"      <offset>{p['offset']}</offset>",
                    f"      <text>{_xml(p['text'], where)}</text>"]
            for a in p["annotations"]:
                out += [f'      <annotation id="{_xml(a["id"], where, True)}">',
                        *infons(a["infons"], "        ", where)]
                out += [f'        <location offset="{loc["offset"]}" length="{loc["length"]}"/>'
                        for loc in a["locations"]]
                out += [f"        <text>{_xml(a['text'], where)}</text>", "      </annotation>"]
            out.append("    </passage>")
        for r in doc["relations"]:
            key = "" if r["id"] is None else f' id="{_xml(r["id"], where, True)}"'
            out += [f"    <relation{key}>", *infons(r["infons"], "      ", where)]
            out += [f'      <node refid="{_xml(n["refid"], where, True)}" role="{_xml(n["role"], where, True)}"/>'
                    for n in r["nodes"]]
            out.append("    </relation>")
        out.append("  </document>")
    return "\n".join(out + ["</collection>"]) + "\n"


def write_bioc_json(documents: Iterable[Any], path: str | os.PathLike, *, overwrite: bool = False,
                    **options: Any) -> Path:
    """Write :func:`format_bioc_json` atomically (an existing file is refused unless ``overwrite``)."""
    return atomic_write_text(path, format_bioc_json(documents, **options), overwrite=overwrite)


def write_bioc_xml(documents: Iterable[Any], path: str | os.PathLike, *, overwrite: bool = False,
                   **options: Any) -> Path:
    """Write :func:`format_bioc_xml` atomically (an existing file is refused unless ``overwrite``)."""
    return atomic_write_text(path, format_bioc_xml(documents, **options), overwrite=overwrite)
