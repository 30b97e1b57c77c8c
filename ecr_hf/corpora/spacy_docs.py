"""spaCy ``Doc`` objects and ``DocBin`` files (``.spacy``), with spaCy as an optional extra
(``pip install 'ecr-hf[spacy]'``; only imported when these functions run).

* Spans come from ``doc.ents`` (one layer, never overlapping: what spaCy's NER and its scorer use),
  or, with ``spans_key``, from the span group ``doc.spans[spans_key]`` (may overlap: spancat's
  layer). Offsets are ``start_char``/``end_char``: code points, like ours.
* doc_id: ``doc.user_data["doc_id"]`` (kept by :func:`write_docbin`), else the document's index.
* Back: the text is tokenized by ``nlp.make_doc`` (default ``spacy.blank(lang)``, no model
  download) and each span placed with ``doc.char_span(..., alignment_mode="strict")``: a span
  whose ends are not token boundaries raises :class:`CorpusError` naming it and the tokens there
  (no silent snapping to tokens); overlapping spans need ``spans_key``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..utils.outputs import atomic_write_bytes
from .documents import CorpusError, documents_of, entity, spans_of

__all__ = ["from_spacy", "to_spacy", "read_docbin", "write_docbin"]


def _spacy() -> Any:
    try:
        import spacy
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(f"{e}; reading or writing spaCy documents needs the spacy extra: pip install "
                                  "'ecr-hf[spacy]'", name="spacy") from None
    return spacy


def from_spacy(docs: Iterable[Any], *, spans_key: str | None = None) -> list[dict[str, Any]]:
    """Our documents from spaCy ``Doc`` objects: ``doc.ents`` (or ``doc.spans[spans_key]``) as spans."""
    out = []
    for k, doc in enumerate(docs):
        doc_id = doc.user_data.get("doc_id", k)
        if spans_key is not None and spans_key not in doc.spans:
            raise CorpusError(f"document {k} (doc_id {doc_id!r}): no span group {spans_key!r} (its groups: "
                              f"{sorted(doc.spans)})")
        layer = doc.ents if spans_key is None else doc.spans[spans_key]
        where = f"document {k} (doc_id {doc_id!r})"
        out.append({"doc_id": doc_id, "text": doc.text,
                    "entities": [entity(doc.text, s.start_char, s.end_char, s.label_, where) for s in layer]})
    return out


def to_spacy(documents: Iterable[Any], *, nlp: Any = None, lang: str = "en", spans_key: str | None = None) -> list[Any]:
    """spaCy ``Doc`` objects of our documents (dicts or a ``datasets.Dataset``): the spans as
    ``doc.ents`` (or the span group ``spans_key``), doc_id in ``doc.user_data["doc_id"]``."""
    nlp = nlp if nlp is not None else _spacy().blank(lang)
    out = []
    for doc in documents_of(documents):
        where = f"doc_id {doc['doc_id']!r}"
        made = nlp.make_doc(doc["text"])
        made.user_data["doc_id"] = doc["doc_id"]
        spans = []
        for e in spans_of(doc, where):
            span = made.char_span(e["start"], e["end"], label=e["label"], alignment_mode="strict")
            if span is None:
                near = made.char_span(e["start"], e["end"], alignment_mode="expand")
                raise CorpusError(f"{where}: span [{e['start']}, {e['end']}) {e['label']!r} "
                                  f"{doc['text'][e['start']:e['end']]!r} does not start and end on token boundaries "
                                  f"(the tokens there: {[t.text for t in near] if near is not None else []}); "
                                  "tokenize so that spans fall on token boundaries")
            spans.append(span)
        if spans_key is not None:
            made.spans[spans_key] = spans
        else:
            try:
                made.ents = spans
            except ValueError as err:
                raise CorpusError(f"{where}: {err}; overlapping spans cannot be doc.ents, write them to a span group "
                                  "(spans_key=)") from None
        out.append(made)
    return out


def read_docbin(path: str | os.PathLike, *, spans_key: str | None = None) -> list[dict[str, Any]]:
    """The documents of a ``DocBin`` file (``.spacy``), via :func:`from_spacy`."""
    spacy = _spacy()
    from spacy.tokens import DocBin

    try:
        docbin = DocBin().from_disk(path)
    except (ValueError, KeyError, TypeError) as e:
        raise CorpusError(f"{path}: not a spaCy DocBin file ({type(e).__name__}: {e})") from None
    return from_spacy(docbin.get_docs(spacy.blank("xx").vocab), spans_key=spans_key)


def write_docbin(documents: Iterable[Any], path: str | os.PathLike, *, overwrite: bool = False, **options: Any) -> Path:
    """Write :func:`to_spacy` of ``documents`` as a ``DocBin`` file with user data (the doc_ids),
    atomically (an existing file is refused unless ``overwrite``)."""
    _spacy()
    from spacy.tokens import DocBin

    docbin = DocBin(store_user_data=True, docs=to_spacy(documents, **options))
    return atomic_write_bytes(path, docbin.to_bytes(), overwrite=overwrite)
