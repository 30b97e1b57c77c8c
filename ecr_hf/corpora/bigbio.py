"""BigBIO's ``kb`` schema (https://github.com/bigscience-workshop/biomedical): the one form in which
BigBIO publishes 100+ biomedical NER and entity-linking corpora (NCBI-disease, BC5CDR, MedMentions...).

Read from local files only: since ``datasets`` 4 the BigBIO loading scripts no longer run ("Dataset
scripts are no longer supported"), so a corpus reaches us exported: Parquet (``*.parquet``, e.g. a
Hub ``refs/convert/parquet`` file or ``Dataset.to_parquet``), JSON Lines (one record a line, as
``Dataset.to_json`` writes, whatever the suffix) or a JSON list of records.

Reading, one record per document (``{"id", "document_id", "passages", "entities", "events",
"coreferences", "relations"}``, as ``bigbio/utils/schemas/kb.py`` defines it):

* doc_id: the record's ``document_id`` (else its ``id``, else its index).
* text: the passages' ``text`` pieces placed at their ``offsets``, in offset order; a gap between
  passages (and before the first) is filled with spaces. BigBIO's offsets count characters of the
  passage texts joined by one space, so a title at ``[0, 50]`` and an abstract at ``[51, 900]`` give
  title + " " + abstract, as PubTator does; placing by offsets also reads passages further apart.
  A piece whose offsets do not span its text's length, or that overlaps another passage, raises.
  ``"passages"`` keeps each passage's ``offset``, ``length``, ``id`` and ``type`` (as
  ``infons.type``, the form the PubTator and BioC writers read: NCBI-disease's title and abstract
  write back as PubTator's two lines).
* spans: every entity, label ``type``; the entity keeps its ``"id"`` and, when it has any, its
  ``"normalized"`` links (``[{"db_name", "db_id"}, ...]``, as is). Its ``text`` list must equal the
  text at its offsets, piece by piece (one string for several pieces may equal them joined by one
  space, or the whole stretch, as BRAT and BioC accept). A piece that differs only by whitespace at
  its ends is accepted, and the file's text kept as ``"mention_in_file"`` (pieces joined by a
  space), as :mod:`ecr_hf.corpora.pubtator` does: BigBIO's NCBI-disease takes its mentions from the
  PubTator file, which has one such (PMID 10923035). Any other mismatch, a bad or out-of-range
  offset raises :class:`CorpusError` naming the file, the record (and its document_id) and the
  entity id.
  Entities of several offset pairs follow ``discontinuous`` as in :mod:`ecr_hf.corpora.brat`
  (``"split"``: one span per piece, numbered ``"fragment"`` 0, 1, ...; ``"join"``; ``"error"``).
* ``"bigbio"`` keeps the record's ``id``, ``relations``, ``events`` and ``coreferences`` as read;
  nothing here scores them.

There is no writer: BigBIO is a source of gold corpora; write them on in any other format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .documents import CorpusError, check_discontinuous, decode_utf8, fragments

__all__ = ["read_bigbio", "is_bigbio_record"]

_KEPT = ("relations", "events", "coreferences")


def _items(record: Any) -> list[Any] | None:
    """A record's passages and entities, or ``None`` unless it is an object holding both as lists."""
    if isinstance(record, Mapping) and all(isinstance(record.get(k), list) for k in ("passages", "entities")):
        return record["passages"] + record["entities"]
    return None


def _has_offsets(item: Any) -> bool:
    return isinstance(item, Mapping) and isinstance(item.get("offsets"), list)


def is_bigbio_record(obj: Any) -> bool:
    """Whether ``obj`` looks like a BigBIO kb record: ``passages`` and ``entities`` lists, not both
    empty, whose items all carry an ``offsets`` list (the span documents' passages have ``offset``,
    their entities ``start``)."""
    items = _items(obj)
    return bool(items) and all(map(_has_offsets, items))


def read_bigbio(path: str | os.PathLike, *, discontinuous: str = "split") -> list[dict[str, Any]]:
    """The documents of a BigBIO kb file (Parquet, JSON Lines or a JSON list), in file order:
    ``{"doc_id", "text", "entities", "passages", "bigbio"}``. See the module docstring for the rules."""
    return [doc for doc, _ in read_bigbio_located(path, discontinuous=discontinuous)]


def read_bigbio_located(path: str | os.PathLike, *,
                        discontinuous: str = "split") -> list[tuple[dict[str, Any], str]]:
    """:func:`read_bigbio`, each document with its place (``file:line``, or ``file: row k`` /
    ``file: record k``, with its document_id)."""
    check_discontinuous(discontinuous)
    out = []
    for k, (record, place) in enumerate(_records(Path(path))):
        if isinstance(record, Mapping) and record.get("document_id") is not None:
            place += f" (document_id {record['document_id']!r})"
        out.append((_document(record, k, place, discontinuous), place))
    return out


def _records(path: Path) -> Iterator[tuple[Any, str]]:
    """The file's records, each with its place."""
    if path.suffix.lower() == ".parquet":
        yield from _parquet_records(path)
        return
    data = decode_utf8(path.read_bytes(), path)
    data = data[1:] if data.startswith("\ufeff") else data
    if data.lstrip().startswith("["):
        try:
            records = json.loads(data)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
        yield from ((record, f"{path}: record {k}") for k, record in enumerate(records))
        return
    for n, line in enumerate(data.split("\n"), 1):
        if line.strip():
            try:
                yield json.loads(line), f"{path}:{n}"
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno}); a BigBIO file is "
                                  "Parquet, JSON Lines or a JSON list of kb records") from None


def _parquet_records(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise CorpusError(f"{path}: not a Parquet file ({e})") from None
    columns = table.schema_arrow.names
    missing = [c for c in ("passages", "entities") if c not in columns]
    if missing:
        raise CorpusError(f"{path}: not a BigBIO kb table: no column {', '.join(missing)} (its columns: "
                          f"{', '.join(columns)}); export the dataset's <name>_bigbio_kb config")
    k = 0
    for batch in table.iter_batches(batch_size=512):
        for row in batch.to_pylist():
            yield row, f"{path}: row {k}"
            k += 1


def _list(node: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = node.get(key)
    if not isinstance(value, list):
        raise CorpusError(f"{where}: '{key}' must be a list, got {type(value).__name__}")
    return value


def _pairs(node: Mapping[str, Any], where: str) -> list[tuple[int, int]]:
    """A node's ``offsets``: a list of ``[start, end]`` integer pairs."""
    pairs = _list(node, "offsets", where)
    if not all(isinstance(p, (list, tuple)) and len(p) == 2 and all(
            isinstance(x, int) and not isinstance(x, bool) for x in p) for p in pairs):
        raise CorpusError(f"{where}: offsets must be [[start, end], ...] of integers, got {str(pairs)[:80]}")
    return [(s, e) for s, e in pairs]


def _name(node: Mapping[str, Any], k: int) -> Any:
    """A passage's or entity's id for messages (its index if it has none)."""
    return node["id"] if node.get("id") is not None else k


def _document(record: Any, k: int, place: str, discontinuous: str) -> dict[str, Any]:
    items = _items(record)
    if items is None or items and not any(map(_has_offsets, items)):  # a span document's passages have "offset"
        got = f"keys {sorted(record)}" if isinstance(record, Mapping) else type(record).__name__
        raise CorpusError(f"{place}: not a BigBIO kb record (expected 'passages' and 'entities' lists of objects with "
                          f"'offsets'; got {got}); export the dataset's <name>_bigbio_kb config")
    text, passages = _text(record["passages"], place)
    entities = []
    for j, e in enumerate(record["entities"]):
        if not isinstance(e, Mapping):
            raise CorpusError(f"{place}, entity {j}: expected an object, got {type(e).__name__}")
        entities += _entity(e, text, f"{place}, entity {_name(e, j)!r}", discontinuous)
    doc_id = next((record[key] for key in ("document_id", "id") if record.get(key) not in (None, "")), k)
    return {"doc_id": doc_id, "text": text, "entities": entities, "passages": passages,
            "bigbio": {"id": record.get("id"), **{key: list(record.get(key) or []) for key in _KEPT}}}


def _text(passages: list[Any], place: str) -> tuple[str, list[dict[str, Any]]]:
    """The document text (every passage piece at its offsets, gaps as spaces) and the kept passages."""
    pieces, kept = [], []
    for i, p in enumerate(passages):
        if not isinstance(p, Mapping):
            raise CorpusError(f"{place}, passage {i}: expected an object, got {type(p).__name__}")
        name = f"passage {_name(p, i)!r}"
        where = f"{place}, {name}"
        texts, pairs = _list(p, "text", where), _pairs(p, where)
        if len(texts) != len(pairs):
            raise CorpusError(f"{where}: {len(texts)} text pieces but {len(pairs)} offset pairs; each piece needs one")
        for piece, (start, end) in zip(texts, pairs):
            if not isinstance(piece, str) or start < 0 or end - start != len(piece):
                raise CorpusError(f"{where}: offsets [{start}, {end}] do not hold its text {str(piece)[:40]!r} "
                                  f"({len(piece) if isinstance(piece, str) else 'not a string'} characters)")
            pieces.append((start, end, piece, name))
        if pairs:
            start = min(s for s, _ in pairs)
            entry: dict[str, Any] = {"offset": start, "length": max(e for _, e in pairs) - start}
            entry.update({"id": p["id"]} if p.get("id") is not None else {})
            entry.update({"infons": {"type": p["type"]}} if p.get("type") else {})
            kept.append(entry)
    parts, pos, before = [], 0, ""
    for start, end, piece, name in sorted(pieces, key=lambda x: x[:2]):
        if start < pos:
            raise CorpusError(f"{place}, {name}: [{start}, {end}] overlaps {before}, which ends at {pos}; passages "
                              "must not overlap")
        parts += [" " * (start - pos), piece]
        pos, before = end, name
    return "".join(parts), kept


def _entity(e: Mapping[str, Any], text: str, where: str, discontinuous: str) -> list[dict[str, Any]]:
    label = e.get("type")
    if not isinstance(label, str) or not label:
        raise CorpusError(f"{where}: no 'type' to label it (got {label!r})")
    pieces = _pairs(e, where)
    if not pieces:
        raise CorpusError(f"{where}: no offsets")
    extra: dict[str, Any] = {"id": e["id"]} if e.get("id") is not None else {}
    if e.get("normalized"):
        extra["normalized"] = list(_list(e, "normalized", where))
    found = fragments(text, pieces, label, where, discontinuous, **extra)
    given, covered = e.get("text"), [text[s:end] for s, end in pieces]
    if given is None:
        return found
    whole = (" ".join(covered), text[min(s for s, _ in pieces):max(end for _, end in pieces)])
    if isinstance(given, list) and len(pieces) > 1 and len(given) == 1 and given[0] in whole:
        return found
    if not isinstance(given, list) or len(given) != len(pieces) or any(
            not isinstance(g, str) or c not in (g, g.strip()) for g, c in zip(given, covered)):
        raise CorpusError(f"{where}: its text {given!r} differs from the text at {[list(p) for p in pieces]}: "
                          f"{covered!r} (offsets count code points of the passages placed at their offsets)")
    if given != covered:
        for f in found:
            f["mention_in_file"] = " ".join(given)
    return found
