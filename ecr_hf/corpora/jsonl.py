"""JSONL span documents, one per line: the form of ``shared/data/*/*.jsonl`` and of the CLI's files.

Each line is ``{"doc_id", "text", "entities": [{"start", "end", "label"}, ...]}`` (a prediction
may give a ``marked`` generation instead of ``entities``). The reader checks every line and keeps
where each document came from, so that any later error can name the file and the line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DocumentFile", "read_jsonl", "json_line"]

_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class DocumentFile:
    """A file's documents by doc_id, and where each came from (for error messages): its line in a
    JSONL file, or ``places`` (``file:line``, a BRAT ``.ann`` file, ``file: document k``) for the
    other corpus formats."""

    path: str
    docs: dict[Any, dict[str, Any]]
    lines: dict[Any, int]
    places: dict[Any, str] = field(default_factory=dict)

    def where(self, key: Any) -> str:
        return self.places[key] if key in self.places else f"{self.path}:{self.lines[key]}"


def _lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 file (a leading BOM is dropped); bytes that are not UTF-8
    raise ``ValueError`` naming the file, the line and the column."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{n}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
                                 f"{e.start + 1}); save the file as UTF-8") from None
            yield n, line[1:] if n == 1 and line.startswith("\ufeff") else line


def read_jsonl(path: str | os.PathLike, *, marked: bool = False, entities: bool = True) -> DocumentFile:
    """The documents of a JSONL file by doc_id. Every line needs ``doc_id`` (a string or an integer,
    once per file) and ``entities`` (or, with ``marked``, a ``marked`` string: a generation to
    decode; with ``entities=False``, a ``text`` instead). The file is UTF-8 (a BOM is allowed);
    any bad line raises ``ValueError`` naming the file and the line."""
    docs: dict[Any, dict[str, Any]] = {}
    lines: dict[Any, int] = {}
    for n, line in _lines(path):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            detail = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            raise ValueError(f"{path}:{n}: not valid JSON ({detail})") from None
        if not entities:
            if not isinstance(doc, dict) or "doc_id" not in doc or not isinstance(doc.get("text"), str):
                raise ValueError(f"{path}:{n}: each line must be a JSON object with 'doc_id' and a 'text' string")
        elif not isinstance(doc, dict) or "doc_id" not in doc or not (
                isinstance(doc.get("entities"), list) or (marked and isinstance(doc.get("marked"), str))):
            raise ValueError(f"{path}:{n}: each line must be a JSON object with 'doc_id' and an 'entities' list "
                             "of {'start', 'end', 'label'}" + (" or a 'marked' string" if marked else ""))
        key = doc["doc_id"]
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise ValueError(f"{path}:{n}: doc_id must be a string or an integer, got {type(key).__name__} "
                             f"{json.dumps(key)[:60]}")
        if key in docs:
            raise ValueError(f"{path}:{n}: doc_id {key!r} appears twice (first on line {lines[key]})")
        docs[key], lines[key] = doc, n
    return DocumentFile(str(path), docs, lines)


def json_line(obj: Any) -> str:
    """One JSONL line, non-ASCII text as is; a lone surrogate (a JSON escape such as "\\ud800"
    reads as one, and UTF-8 cannot hold it) is written back as its escape."""
    text = json.dumps(obj, ensure_ascii=False)
    return _SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
