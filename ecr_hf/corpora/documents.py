"""What every corpus reader and writer shares: the document dict, its checks and errors.

A document is ``{"doc_id", "text", "entities": [{"start", "end", "label", "text", ...}], ...}``:
half-open code-point offsets into ``text`` (:mod:`ecr_hf.spans.span`), as in ``shared/data/*/*.jsonl``.
Readers keep each format's extra fields (concept ids, annotation ids, passages) under documented
keys, so that writing a document back gives the file it came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..spans.span import SpanError, to_span

__all__ = ["CorpusError", "DISCONTINUOUS"]

DISCONTINUOUS = ("split", "join", "error")


class CorpusError(SpanError):
    """A corpus file (or document) that does not hold what its format says; the message names the
    file and the place in it (line, annotation id) and what was expected."""


def check_discontinuous(discontinuous: str) -> str:
    if discontinuous not in DISCONTINUOUS:
        raise ValueError(f"discontinuous must be one of {DISCONTINUOUS}, got {discontinuous!r}")
    return discontinuous


def decode_utf8(data: bytes, path: str | os.PathLike) -> str:
    """``data`` as UTF-8 text, kept exactly (no newline translation, a BOM stays a character, as
    the annotation tools count it); other bytes raise :class:`CorpusError` naming the file and line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CorpusError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as "
                          "UTF-8") from None


def entity(text: str, start: Any, end: Any, label: str, where: str, **extra: Any) -> dict[str, Any]:
    """One checked entity dict ``{"start", "end", "label", "text", **extra}`` (``text`` is the slice).
    Offsets must be integers with ``0 <= start < end <= len(text)``; ``where`` (file and annotation)
    starts the error message."""
    try:
        span = to_span((start, end, label), text=text)
    except SpanError as e:
        raise CorpusError(f"{where}: {e}") from None
    return {"start": span.start, "end": span.end, "label": label, "text": text[span.start:span.end], **extra}


def fragments(text: str, pieces: list[tuple[int, int]], label: str, where: str, discontinuous: str,
              **extra: Any) -> list[dict[str, Any]]:
    """The entities of one annotation made of ``pieces`` (``(start, end)`` fragments, in file order):
    one per fragment (``"split"``: each keeps ``extra``, e.g. the annotation id, and its index as
    ``"fragment"``, which :func:`group_fragments` reads), one from the first start to the last end
    with ``"fragments"`` kept (``"join"``), or a :class:`CorpusError` (``"error"``)."""
    if len(pieces) == 1:
        return [entity(text, *pieces[0], label, where, **extra)]
    if discontinuous == "error":
        raise CorpusError(f"{where}: a discontinuous annotation ({len(pieces)} fragments {pieces}); read it with "
                          "discontinuous='split' (one span per fragment) or 'join' (first start to last end)")
    found = [entity(text, s, e, label, where, **extra, fragment=k) for k, (s, e) in enumerate(pieces)]
    if discontinuous == "split":
        return found
    start, end = min(e["start"] for e in found), max(e["end"] for e in found)
    return [{**entity(text, start, end, label, where), **extra, "fragments": [list(p) for p in pieces]}]


def pieces_of(entity: Mapping[str, Any]) -> list[tuple[int, int]]:
    """An entity's fragments: its ``"fragments"`` (a joined discontinuous one) or its own span."""
    kept = entity.get("fragments")
    return [(int(s), int(e)) for s, e in kept] if kept else [(int(entity["start"]), int(entity["end"]))]


def group_fragments(entities: list[Mapping[str, Any]], where: str) -> list[list[Mapping[str, Any]]]:
    """Entities grouped into annotations, in order: an entity with ``"fragment": k > 0`` joins the
    one before it if that is fragment ``k - 1`` of the same ``"id"`` (the pieces a ``"split"`` read
    gave come back as one discontinuous annotation); every other entity is an annotation of its
    own, whatever its ``"id"`` (PubTator's ``"id"`` is a concept id, shared by distinct mentions).
    The fragments of one annotation must share a label."""
    groups: list[list[Mapping[str, Any]]] = []
    for e in entities:
        k = e.get("fragment")
        last = groups[-1][-1] if groups else None
        if k and last is not None and last.get("fragment") == k - 1 and last.get("id") == e.get("id"):
            if last.get("label") != e.get("label"):
                raise CorpusError(f"{where}: fragments {k - 1} and {k} of annotation {e.get('id')!r} have different "
                                  f"labels {last.get('label')!r} and {e.get('label')!r}")
            groups[-1].append(e)
        else:
            groups.append([e])
    return groups


def annotation_ids(groups: list[list[Mapping[str, Any]]], prefix: str, keep: Callable[[str], Any]) -> list[str]:
    """One distinct id per annotation: its own ``"id"`` where ``keep`` accepts it and no earlier
    annotation took it, else the next free ``<prefix><n>``."""
    own: list[str | None] = [str(g[0]["id"]) if g[0].get("id") is not None and keep(str(g[0]["id"])) else None
                             for g in groups]
    taken: set[str] = set()
    for k, key in enumerate(own):
        if key in taken:
            own[k] = None
        elif key is not None:
            taken.add(key)
    n = 0
    for k, key in enumerate(own):
        if key is None:
            n += 1
            while f"{prefix}{n}" in taken:
                n += 1
            own[k] = f"{prefix}{n}"
    return own


def documents_of(documents: Any) -> list[dict[str, Any]]:
    """Documents from a list of dicts or a ``datasets.Dataset`` (its rows), each with a ``doc_id``
    (default: its index), a ``text`` string and an ``entities`` list (``None`` reads as empty)."""
    if isinstance(documents, Mapping) or isinstance(documents, (str, bytes, os.PathLike)):
        raise CorpusError(f"expected a list of documents or a datasets.Dataset, got {type(documents).__name__}")
    out = []
    for k, doc in enumerate(documents):
        if not isinstance(doc, Mapping) or not isinstance(doc.get("text"), str):
            raise CorpusError(f"document {k}: expected a dict with a 'text' string, got {repr(doc)[:80]}")
        doc = dict(doc)
        doc["doc_id"] = doc["doc_id"] if doc.get("doc_id") is not None else k
        doc["entities"] = [{key: v for key, v in e.items() if v is not None} for e in doc.get("entities") or []]
        out.append(doc)
    return out


def spans_of(doc: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """A document's entities checked against its text before writing: integer offsets inside the
    text, a label, and an entity ``text`` (if given) equal to the slice, so no file is written
    whose annotations disagree with its text."""
    text = doc["text"]
    out = []
    for i, e in enumerate(doc["entities"]):
        try:
            span = to_span(e, i=i, text=text)
            for piece in pieces_of(e):
                to_span(piece, i=i, text=text)
        except (SpanError, TypeError, ValueError) as err:
            raise CorpusError(f"{where}: {err}") from None
        if span.label is None:
            raise CorpusError(f"{where}: entity {i} {dict(e)!r} has no label; this format needs one per span")
        if "fragments" not in e and e.get("text") is not None and e["text"] != text[span.start:span.end]:
            raise CorpusError(f"{where}: entity {i} has text {e['text']!r} but the text at [{span.start}, {span.end}) "
                              f"is {text[span.start:span.end]!r}")
        out.append({**e, "start": span.start, "end": span.end, "label": span.label})
    return out


def relative_id(path: Path, root: Path) -> str:
    """A file's doc_id in a folder corpus: its path below ``root`` without the suffix, ``/``-separated."""
    return path.relative_to(root).as_posix()[:-len(path.suffix)]


def check_relative_id(doc_id: Any, where: str) -> str:
    """``doc_id`` as a file name below a folder, refused unless :func:`relative_id` reads it back the
    same: ``/``-separated parts, none empty, hidden (``.x``), ``..`` or holding a backslash or line break."""
    name = str(doc_id)
    parts = name.split("/")
    if any(not part or part.startswith(".") or "\\" in part or "\n" in part or "\r" in part for part in parts):
        raise CorpusError(f"{where}: a doc_id becomes a file path here, so it must be '/'-separated names, none "
                          "empty or starting with '.' (rename the documents, e.g. to their index)")
    return name


def iter_files(root: Path, suffix: str) -> Iterable[Path]:
    """The files below ``root`` whose names end in ``suffix``, sorted; hidden ones (a part of the
    path below ``root`` starts with ``.``) are left out, as :func:`check_relative_id` never writes them."""
    return sorted(p for p in root.rglob(f"*{suffix}")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
