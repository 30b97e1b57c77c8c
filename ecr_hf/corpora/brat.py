"""BRAT standoff: a folder of ``<name>.txt`` (the text) + ``<name>.ann`` (the annotations) pairs.

Reading (https://brat.nlplab.org/standoff.html):

* doc_id: the ``.ann`` file's path below the folder, without the suffix (``sub/doc1``); every
  ``.ann`` needs its ``.txt``, a ``.txt`` without an ``.ann`` is not a document, and hidden files
  and folders (``.name``, e.g. macOS ``._doc.ann``) are skipped.
* Offsets count Unicode code points of the ``.txt`` read as UTF-8 exactly as stored, as brat does:
  ``\\r\\n`` is two characters (no newline translation), a BOM is one.
* ``T`` lines (``T1<TAB>Label 0 5<TAB>text``) are the spans, event triggers included; the entity
  keeps the annotation id as ``"id"``. The text field must equal the text at the offsets (for a
  discontinuous annotation, the fragments' texts joined by one space, as brat writes them; a line
  break inside an annotated stretch reads as a space, since a ``.ann`` line cannot hold one). A
  mismatch, a bad or out-of-range offset raises :class:`CorpusError` naming the ``.ann`` file, the
  line and the annotation id.
* Discontinuous annotations (``T1<TAB>Label 0 5;10 15<TAB>...``): ``discontinuous="split"`` (the
  default) gives one span per fragment, all with the same ``"id"`` and numbered ``"fragment"``
  0, 1, ... (so scores count each annotated stretch, and writing groups them back into one
  annotation); ``"join"`` gives one span from the
  first start to the last end, keeping ``"fragments"``; ``"error"`` refuses them.
* Every other line (``R``, ``E``, ``A``, ``M``, ``N``, ``*``, ``#`` notes) is kept verbatim under
  ``"ann_lines"`` and written back after the ``T`` lines; nothing else reads them.

Writing gives one ``.txt`` (the text as is) and one ``.ann`` per document: ``T`` lines in entity
order (consecutive fragments of one ``"id"``, as a split read gives them, as one discontinuous
annotation; an entity keeps its ``"id"`` if it is a ``T<n>`` not taken before, else gets the next
free ``T<n>``), then the kept lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..utils.outputs import atomic_write_folder
from .documents import (CorpusError, check_discontinuous, check_relative_id, decode_utf8, documents_of, fragments,
                        annotation_ids, group_fragments, iter_files, pieces_of, relative_id, spans_of)

__all__ = ["read_brat", "brat_files", "write_brat"]

_OFFSETS = re.compile(r"\d+ \d+(?:;\d+ \d+)*")
_BREAKS = str.maketrans("\r\n", "  ")
_T_ID = re.compile(r"T\d+")


def read_brat(path: str | os.PathLike, *, discontinuous: str = "split") -> list[dict[str, Any]]:
    """The documents of a BRAT folder (or of one ``.ann`` / ``.txt`` file of a pair), sorted by path:
    ``{"doc_id", "text", "entities", "ann_lines"}``. See the module docstring for the rules."""
    return [doc for doc, _ in read_brat_located(path, discontinuous=discontinuous)]


def read_brat_located(path: str | os.PathLike, *, discontinuous: str = "split") -> list[tuple[dict[str, Any], str]]:
    """:func:`read_brat`, each document with its ``.ann`` file (for error messages)."""
    check_discontinuous(discontinuous)
    path = Path(path)
    if path.is_dir():
        root, anns = path, list(iter_files(path, ".ann"))
        if not anns:
            raise CorpusError(f"{path}: no .ann files in this folder, so no BRAT documents")
    elif path.suffix in (".ann", ".txt"):
        root, anns = path.parent, [path.with_name(path.name[:-len(path.suffix)] + ".ann")]
    else:
        raise CorpusError(f"{path}: a BRAT corpus is a folder of .txt + .ann pairs, or one .ann file")
    return [(_read_pair(ann, relative_id(ann, root), discontinuous), str(ann)) for ann in anns]


def _read_pair(ann: Path, doc_id: str, discontinuous: str) -> dict[str, Any]:
    txt = ann.with_name(ann.name[:-len(".ann")] + ".txt")
    if not txt.is_file():
        raise CorpusError(f"{ann}: no text file {txt.name} beside it; each .ann needs its .txt")
    text = decode_utf8(txt.read_bytes(), txt)
    entities: list[dict[str, Any]] = []
    other: list[str] = []
    for n, line in enumerate(decode_utf8(ann.read_bytes(), ann).lstrip("\ufeff").split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip():
            continue
        if not line.startswith("T"):
            other.append(line)
            continue
        fields = line.split("\t", 2)
        where = f"{ann}:{n}: annotation {fields[0]}"
        head = fields[1].split(" ", 1) if len(fields) > 1 else []
        if len(head) < 2 or not head[0] or not _OFFSETS.fullmatch(head[1]):
            raise CorpusError(f"{where}: expected 'T<n><TAB><label> <start> <end>[;<start> <end>...]<TAB><text>', got "
                              f"{line[:100]!r}")
        pieces = [(int(s), int(e)) for s, e in (p.split(" ") for p in head[1].split(";"))]
        found = fragments(text, pieces, head[0], where, discontinuous, id=fields[0])
        if len(fields) == 3:
            covered = " ".join(text[s:e] for s, e in pieces).translate(_BREAKS)
            if fields[2] != covered:
                raise CorpusError(f"{where}: its text field {fields[2]!r} differs from the text at {head[1]}: "
                                  f"{covered!r} (offsets count code points of {ann.name[:-4]}.txt)")
        entities += found
    return {"doc_id": doc_id, "text": text, "entities": entities, "ann_lines": other}


def brat_files(documents: Iterable[Any]) -> dict[str, str]:
    """``{relative path: content}`` of the ``.txt`` + ``.ann`` pairs of ``documents`` (dicts or a
    ``datasets.Dataset``); each ``doc_id`` becomes a relative path (``/`` makes subfolders)."""
    files: dict[str, str] = {}
    for doc in documents_of(documents):
        where = f"doc_id {doc['doc_id']!r}"
        name = check_relative_id(doc["doc_id"], where)
        if f"{name}.ann" in files:
            raise CorpusError(f"{where}: appears twice")
        groups = group_fragments(spans_of(doc, where), where)
        lines = []
        for key, group in zip(annotation_ids(groups, "T", _T_ID.fullmatch), groups):
            label = group[0]["label"]
            if not label or any(c.isspace() for c in label):
                raise CorpusError(f"{where}: label {label!r} holds whitespace; BRAT labels are single words")
            pieces = [p for e in group for p in pieces_of(e)]
            covered = " ".join(doc["text"][s:e] for s, e in pieces).translate(_BREAKS)
            lines.append(f"{key}\t{label} {';'.join(f'{s} {e}' for s, e in pieces)}\t{covered}\n")
        lines += [f"{line}\n" for line in doc.get("ann_lines") or []]
        files[f"{name}.txt"] = doc["text"]
        files[f"{name}.ann"] = "".join(lines)
    return files


def write_brat(documents: Iterable[Any], folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``documents`` as a BRAT folder, atomically (:func:`ecr_hf.utils.atomic_write_folder`:
    a non-empty folder is refused unless ``overwrite``, which replaces it whole)."""
    return atomic_write_folder(folder, brat_files(documents), overwrite=overwrite)
