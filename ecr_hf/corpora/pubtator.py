"""PubTator: ``PMID|t|title``, ``PMID|a|abstract``, then one tab-separated line per mention,
``PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>concept id]``; a blank line between documents.

Reading (as NCBI-disease's ``original-data`` and ``shared/data/ncbi_disease/ncbi_disease.pubtator.jsonl``):

* text = title + ``" "`` + abstract (offsets count code points of that string); a document with an
  empty or no abstract line has text = title. Line ends (``\\n`` or ``\\r\\n``) are not text.
* Each mention becomes ``{"start", "end", "label": type, "text", "id": concept id}``; columns past
  the sixth are kept as ``"columns"``. The mention column must equal the text at the offsets; one
  that differs only by whitespace at its ends (NCBI-disease has one, PMID 10923035) is accepted
  and kept as ``"mention_in_file"``, as the shared JSONL does. Any other mismatch, a bad or
  out-of-range offset, or a line of another document raises :class:`CorpusError` naming the file,
  the line and the PMID.
* Lines whose second column is a word, not an offset (BC5CDR's ``PMID<TAB>CID<TAB>D1<TAB>D2`` relations)
  are kept as lists of columns under ``"relations"``.
* ``"passages"`` records where the title and the abstract lie (``offset``, ``length``,
  ``infons.type``), so that writing gives the same two lines. A PMID may repeat (NCBI-disease
  holds 8528200 twice): the reader keeps both; the CLI, which pairs documents by doc_id, refuses it.

Writing: a document without ``"passages"`` is written as one title line with an empty abstract.
Text or fields holding a line break (or a tab, in columns) cannot be written and raise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..utils.outputs import atomic_write_text
from .documents import CorpusError, decode_utf8, documents_of, entity, spans_of

__all__ = ["read_pubtator", "format_pubtator", "write_pubtator"]

_PASSAGE = re.compile(r"([^|\t]*)\|([a-z])\|")
_INT = re.compile(r"\d+")
_RELATION = re.compile(r"[A-Za-z_][\w-]*")


def read_pubtator(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The documents of a PubTator file, in file order: ``{"doc_id", "text", "entities",
    "relations", "passages"}``. See the module docstring for the rules."""
    return [doc for doc, _ in read_pubtator_located(path)]


def read_pubtator_located(path: str | os.PathLike) -> list[tuple[dict[str, Any], str]]:
    """:func:`read_pubtator`, each document with ``file:line`` of its title line."""
    lines = decode_utf8(Path(path).read_bytes(), path).split("\n")
    out: list[tuple[dict[str, Any], str]] = []
    block: list[tuple[int, str]] = []
    for n, line in enumerate(lines + [""], 1):
        line = line[:-1] if line.endswith("\r") else line
        if line.strip():
            block.append((n, line[1:] if n == 1 and line.startswith("\ufeff") else line))
        elif block:
            out.append((_document(path, block), f"{path}:{block[0][0]}"))
            block = []
    return out


def _document(path: str | os.PathLike, block: list[tuple[int, str]]) -> dict[str, Any]:
    heads = []
    for n, line in block:
        found = _PASSAGE.match(line)
        if found is None:
            break
        heads.append((n, found.group(1), found.group(2), line[found.end():]))
    if not heads or heads[0][2] != "t" or [h[2] for h in heads[1:]] not in ([], ["a"]) or len(
            {h[1] for h in heads}) > 1:
        n = block[0][0]
        raise CorpusError(f"{path}:{n}: a PubTator document starts with 'PMID|t|title' and then 'PMID|a|abstract' "
                          f"(same PMID), got {block[len(heads) if heads else 0][1][:80]!r}")
    doc_id, title = heads[0][1], heads[0][3]
    abstract = heads[1][3] if len(heads) > 1 else ""
    text = f"{title} {abstract}" if abstract else title
    passages = [{"offset": 0, "length": len(title), "infons": {"type": "title"}}]
    if abstract:
        passages.append({"offset": len(title) + 1, "length": len(abstract), "infons": {"type": "abstract"}})
    entities, relations = [], []
    for n, line in block[len(heads):]:
        cols = line.split("\t")
        where = f"{path}:{n}: PMID {doc_id}"
        if cols[0] != doc_id:
            raise CorpusError(f"{where}: the line {line[:80]!r} names PMID {cols[0]!r}; the document's lines must "
                              "follow its title and abstract, with a blank line before the next document")
        if len(cols) > 1 and _RELATION.fullmatch(cols[1]):
            relations.append(cols[1:])
            continue
        if len(cols) < 5 or not _INT.fullmatch(cols[1]) or not _INT.fullmatch(cols[2]):
            raise CorpusError(f"{where}: expected 'PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>id]', got "
                              f"{line[:100]!r}")
        extra: dict[str, Any] = {}
        if len(cols) > 5:
            extra["id"] = cols[5]
        if len(cols) > 6:
            extra["columns"] = cols[6:]
        found = entity(text, int(cols[1]), int(cols[2]), cols[4], where, **extra)
        if cols[3] != found["text"]:
            if cols[3].strip() != found["text"]:
                raise CorpusError(f"{where}: the mention {cols[3]!r} differs from the text at [{cols[1]}, {cols[2]}): "
                                  f"{found['text']!r} (offsets count code points of title + ' ' + abstract)")
            found["mention_in_file"] = cols[3]
        entities.append(found)
    return {"doc_id": doc_id, "text": text, "entities": entities, "relations": relations, "passages": passages}


def _clean(value: Any, what: str, where: str, tabs: bool = False) -> str:
    value = str(value)
    bad = ("\n", "\r", "\t") if tabs else ("\n", "\r")
    if any(c in value for c in bad):
        raise CorpusError(f"{where}: {what} {value[:60]!r} holds a line break{' or a tab' if tabs else ''}, which "
                          "PubTator cannot hold")
    return value


def format_pubtator(documents: Iterable[Any]) -> str:
    """``documents`` (dicts or a ``datasets.Dataset``) as PubTator text; the title and abstract come
    from ``"passages"`` (as :func:`read_pubtator` keeps them), else the whole text is the title."""
    out = []
    for doc in documents_of(documents):
        doc_id = _clean(doc["doc_id"], "doc_id", f"doc_id {doc['doc_id']!r}", tabs=True)
        where = f"PMID {doc_id}"
        if "|" in doc_id or not doc_id:
            raise CorpusError(f"{where}: a PubTator PMID must be non-empty and hold no '|'")
        text = doc["text"]
        title, abstract = text, ""
        passages = doc.get("passages") or []
        if len(passages) == 2:
            cut = int(passages[0]["offset"]) + int(passages[0]["length"])
            if passages[0]["offset"] != 0 or text[cut:cut + 1] != " " or int(passages[1]["offset"]) != cut + 1:
                raise CorpusError(f"{where}: its passages are not a title at 0 and an abstract one space after it")
            title, abstract = text[:cut], text[cut + 1:]
        elif len(passages) > 2:
            raise CorpusError(f"{where}: {len(passages)} passages; PubTator holds a title and an abstract")
        lines = [f"{doc_id}|t|{_clean(title, 'the text', where)}\n",
                 f"{doc_id}|a|{_clean(abstract, 'the text', where)}\n"]
        for e in spans_of(doc, where):
            cols = [str(e["start"]), str(e["end"]), e.get("mention_in_file", doc["text"][e["start"]:e["end"]]),
                    e["label"]]
            cols += [e["id"]] if e.get("id") is not None else []
            cols += list(e.get("columns") or [])
            lines.append("\t".join([doc_id] + [_clean(c, "a column", where, tabs=True) for c in cols]) + "\n")
        lines += ["\t".join([doc_id] + [_clean(c, "a column", where, tabs=True) for c in r]) + "\n"
                  for r in doc.get("relations") or []]
        out.append("".join(lines))
    return "\n".join(out)


def write_pubtator(documents: Iterable[Any], path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write :func:`format_pubtator` of ``documents`` atomically (an existing file is refused
    unless ``overwrite``)."""
    return atomic_write_text(path, format_pubtator(documents), overwrite=overwrite)
