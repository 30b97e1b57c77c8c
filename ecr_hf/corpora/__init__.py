"""Readers and writers for the formats clinical corpora come in, all to the one span model.

Every reader gives documents ``{"doc_id", "text", "entities": [{"start", "end", "label", "text",
...}], ...}`` (code-point offsets, end exclusive, each checked against the text on reading: a
mismatch raises :class:`CorpusError` naming the file and the annotation), the form of
``shared/data/*/*.jsonl`` and of the CLI's JSONL files; :func:`load_corpus` gives them as a
``datasets.Dataset``. Every writer takes such documents (or a ``Dataset``) and writes atomically,
refusing to replace an existing output unless ``overwrite=True``.

==============  =========================================  =====================================
format          path                                       module
==============  =========================================  =====================================
``jsonl``       ``*.jsonl`` (one document per line)        :mod:`ecr_hf.corpora.jsonl`
``brat``        a folder of ``.txt`` + ``.ann``, or a pair  :mod:`ecr_hf.corpora.brat`
``pubtator``    ``*.pubtator``, or a file that starts so   :mod:`ecr_hf.corpora.pubtator`
``bioc-xml``    ``*.xml``                                  :mod:`ecr_hf.corpora.bioc`
``bioc-json``   ``*.json`` holding a ``documents`` list     :mod:`ecr_hf.corpora.bioc`
``spacy``       ``*.spacy`` (a ``DocBin``)                 :mod:`ecr_hf.corpora.spacy_docs`
``bigbio``      ``*.parquet``, or JSON (Lines) of BigBIO   :mod:`ecr_hf.corpora.bigbio` (read only)
                ``kb`` records
==============  =========================================  =====================================
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..utils.outputs import atomic_write_text
from .bigbio import is_bigbio_record, read_bigbio, read_bigbio_located
from .bioc import (format_bioc_json, format_bioc_xml, read_bioc_json, read_bioc_located, read_bioc_xml,
                   write_bioc_json, write_bioc_xml)
from .brat import brat_files, read_brat, read_brat_located, write_brat
from .documents import DISCONTINUOUS, CorpusError, documents_of
from .jsonl import DocumentFile, json_line, read_jsonl
from .pairing import DocumentError, locate_error, pair_documents, pair_files
from .pubtator import format_pubtator, read_pubtator, read_pubtator_located, write_pubtator
from .spacy_docs import from_spacy, read_docbin, to_spacy, write_docbin

__all__ = ["FORMATS", "DISCONTINUOUS", "CorpusError", "detect_format", "read_corpus", "read_documents",
           "load_corpus", "save_corpus", "to_dataset", "DocumentFile", "read_jsonl", "json_line", "read_brat",
           "write_brat", "brat_files", "read_pubtator", "write_pubtator", "format_pubtator", "read_bioc_xml",
           "read_bioc_json", "write_bioc_xml", "write_bioc_json", "format_bioc_xml", "format_bioc_json",
           "from_spacy", "to_spacy", "read_docbin", "write_docbin", "read_bigbio", "DocumentError", "pair_documents",
           "pair_files", "locate_error"]

FORMATS = ("jsonl", "brat", "pubtator", "bioc-xml", "bioc-json", "spacy", "bigbio")
_PUBTATOR_TITLE = re.compile(r"[^|\t\n]+\|t\|")
_BY_SUFFIX = {".ann": "brat", ".spacy": "spacy", ".xml": "bioc-xml", ".pubtator": "pubtator", ".jsonl": "jsonl"}


def _first_line(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(1 << 16).decode("utf-8", "replace").lstrip("\ufeff")
    return next((line for line in head.split("\n") if line.strip()), "")


def _first_record(path: Path) -> Any:
    """The first line of ``path`` that is not blank, as JSON (``None`` if it is not JSON)."""
    with open(path, "rb") as f:
        line = f.readline()
        while line and not line.strip():
            line = f.readline()
    try:
        return json.loads(line.decode("utf-8").lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return None


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path``: a folder is BRAT; by suffix ``.ann`` BRAT, ``.spacy`` spaCy,
    ``.xml`` BioC XML, ``.pubtator`` PubTator, ``.parquet`` BigBIO; a ``.json`` file is BioC JSON
    if it holds one object with a ``documents`` list, BigBIO if it holds a list whose first item is
    a BigBIO kb record (:func:`~ecr_hf.corpora.bigbio.is_bigbio_record`); a ``.txt`` file is one
    half of a BRAT pair if its ``.ann`` is beside it; any other file but ``.jsonl`` and ``.json``
    is PubTator if its first line is ``PMID|t|...``. Every other file is BigBIO if its first line
    is a kb record, else JSONL (so a JSONL file keeps reading as JSONL whatever its name)."""
    path = Path(path)
    if path.is_dir():
        return "brat"
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "bigbio"
    if suffix in _BY_SUFFIX and suffix != ".jsonl":
        return _BY_SUFFIX[suffix]
    if suffix == ".json":
        try:
            tree = json.loads(path.read_bytes())
        except (ValueError, RecursionError):
            tree = None  # JSON Lines, perhaps of BigBIO records
        if isinstance(tree, dict) and isinstance(tree.get("documents"), list):
            return "bioc-json"
        if isinstance(tree, list):
            return "bigbio" if tree and is_bigbio_record(tree[0]) else "jsonl"
    elif suffix == ".txt" and path.with_suffix(".ann").is_file():
        return "brat"
    elif suffix != ".jsonl" and _PUBTATOR_TITLE.match(_first_line(path)):
        return "pubtator"
    return "bigbio" if is_bigbio_record(_first_record(path)) else "jsonl"


def read_located(path: str | os.PathLike, format: str | None = None, *, discontinuous: str = "split",
                 label_key: str = "type", spans_key: str | None = None) -> list[tuple[dict[str, Any], str]]:
    """:func:`read_corpus`, each document with its place for error messages (``file:line``, the
    ``.ann`` file, ``file: document k``, or BigBIO's ``file:line`` / ``file: row k``). JSONL's places are
    ``file:line``."""
    format = detect_format(path) if format is None else format
    if format == "jsonl":
        file = read_jsonl(path)
        return [(doc, file.where(key)) for key, doc in file.docs.items()]
    if format == "brat":
        return read_brat_located(path, discontinuous=discontinuous)
    if format == "pubtator":
        return read_pubtator_located(path)
    if format in ("bioc-xml", "bioc-json"):
        return read_bioc_located(path, format, label_key=label_key, discontinuous=discontinuous)
    if format == "spacy":
        return [(doc, f"{path}: document {k}") for k, doc in enumerate(read_docbin(path, spans_key=spans_key))]
    if format == "bigbio":
        return read_bigbio_located(path, discontinuous=discontinuous)
    raise ValueError(f"unknown corpus format {format!r}; choose one of {FORMATS} (or None: detect it)")


def read_documents(path: str | os.PathLike, format: str | None = None, *, marked: bool = False,
                   entities: bool = True, discontinuous: str = "split", label_key: str = "type") -> DocumentFile:
    """The documents of ``path`` by doc_id, each with its place for error messages, as the CLI reads
    its inputs: a JSONL file (``format`` ``"jsonl"``) line by line as :func:`read_jsonl` checks it
    (``marked``, ``entities``), any other format of :data:`FORMATS` (``None``: detected) through its
    reader. A doc_id given twice raises ``ValueError`` naming both places."""
    format = detect_format(path) if format is None else format
    if format == "jsonl":
        return read_jsonl(path, marked=marked, entities=entities)
    docs: dict[Any, dict[str, Any]] = {}
    places: dict[Any, str] = {}
    for doc, place in read_located(path, format, discontinuous=discontinuous, label_key=label_key):
        key = doc["doc_id"]
        if key in docs:
            raise ValueError(f"{place}: doc_id {key!r} appears twice (first at {places[key]})")
        docs[key], places[key] = doc, place
    return DocumentFile(str(path), docs, {}, places)


def read_corpus(path: str | os.PathLike, format: str | None = None, *, split: str | None = None,
                discontinuous: str = "split", label_key: str = "type",
                spans_key: str | None = None) -> list[dict[str, Any]]:
    """The documents of a corpus file or folder in any of :data:`FORMATS` (``None``: detected, see
    :func:`detect_format`). ``split`` sets every document's ``"split"``. ``discontinuous``
    (BRAT, BioC, BigBIO: ``"split"``, ``"join"`` or ``"error"``), ``label_key`` (BioC: the infon holding
    the label) and ``spans_key`` (spaCy: a span group instead of ``doc.ents``) apply where the
    format has them; each module's docstring gives its rules."""
    docs = [doc for doc, _ in read_located(path, format, discontinuous=discontinuous, label_key=label_key,
                                           spans_key=spans_key)]
    return docs if split is None else [{**doc, "split": split} for doc in docs]


def to_dataset(documents: Iterable[Any]) -> Any:
    """A ``datasets.Dataset`` of ``documents``, one row each; keys a document (or an entity) lacks
    but others have are filled with ``None``, so every row has the same columns."""
    from datasets import Dataset

    documents = documents_of(documents)
    keys = list(dict.fromkeys(k for doc in documents for k in doc))
    entity_keys = list(dict.fromkeys(k for doc in documents for e in doc["entities"] for k in e))
    rows = [{**{k: doc.get(k) for k in keys},
             "entities": [{k: e.get(k) for k in entity_keys} for e in doc["entities"]]} for doc in documents]
    return Dataset.from_list(rows)


def load_corpus(path: str | os.PathLike, format: str | None = None, **options: Any) -> Any:
    """:func:`read_corpus` as a ``datasets.Dataset`` (:func:`to_dataset`)."""
    return to_dataset(read_corpus(path, format, **options))


def save_corpus(documents: Iterable[Any], path: str | os.PathLike, format: str | None = None, *,
                overwrite: bool = False, **options: Any) -> Path:
    """Write ``documents`` (dicts, as the readers give them, or a ``datasets.Dataset``) in ``format``
    (``None``: from the suffix as :func:`detect_format` reads it; a path without one is a BRAT
    folder). Atomic; an existing output is refused unless ``overwrite``. ``options`` go to the
    format's writer (``label_key`` for BioC, ``lang``/``nlp``/``spans_key`` for spaCy)."""
    path = Path(path)
    if format is None:
        format = {**_BY_SUFFIX, ".json": "bioc-json", "": "brat"}.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"{path}: cannot tell the format from the suffix {path.suffix!r}; give format= (one of "
                             f"{FORMATS})")
    if format == "jsonl":
        return atomic_write_text(path, "".join(map(json_line, documents_of(documents))), overwrite=overwrite)
    writers = {"brat": write_brat, "pubtator": write_pubtator, "bioc-xml": write_bioc_xml,
               "bioc-json": write_bioc_json, "spacy": write_docbin}
    if format not in writers:
        raise ValueError(f"cannot write corpus format {format!r}; choose one of {('jsonl', *writers)}"
                         + (" (BigBIO is read only)" if format == "bigbio" else ""))
    return writers[format](documents, path, overwrite=overwrite, **options)
