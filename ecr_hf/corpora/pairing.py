"""Predicted documents paired with reference documents by doc_id, with errors that name the files.

The command line and the leaderboard app read two files (:func:`ecr_hf.corpora.read_documents`)
and pair them here: every reference needs one prediction and no prediction may be extra, a
prediction's text must be its reference's, and predictions given as ``marked`` generations are
decoded onto the reference text (:func:`ecr_hf.spans.decode_corpus`). An error of the metric core,
which names a document by its index, gets its doc_id and its places in both files
(:func:`locate_error`).
"""

from __future__ import annotations

import re
from typing import Any

from .jsonl import DocumentFile
from ..spans.decode import decode_corpus

__all__ = ["DocumentError", "pair_documents", "pair_files", "locate_error"]


class DocumentError(ValueError):
    """A problem of one document, ``key`` its doc_id (:func:`pair_files` adds its files and lines)."""

    def __init__(self, key: Any, message: str):
        super().__init__(message)
        self.key = key


def pair_documents(references: dict[Any, dict], predictions: dict[Any, dict],
                   typed: bool = False) -> tuple[list, list, list[str] | None, dict[str, float]]:
    """Predicted and reference documents by doc_id to span lists in reference order, the reference
    texts (if every document has one), and the ``faithfulness_*`` report when predictions given as
    ``marked`` generations were decoded."""
    missing = [k for k in references if k not in predictions]
    extra = [k for k in predictions if k not in references]
    if missing or extra:
        raise ValueError(f"the files hold different documents: {len(missing)} doc_ids only in the references "
                         f"{missing[:5]}, {len(extra)} only in the predictions {extra[:5]}; give one prediction "
                         "line per reference document (with an empty 'entities' list where nothing was found)")
    texts = [doc.get("text") for doc in references.values()]
    for key, doc in references.items():
        other = predictions[key].get("text")
        if other is not None and doc.get("text") is not None and other != doc["text"]:
            raise DocumentError(key, f"doc_id {key!r}: the prediction's text differs from the reference text, so "
                                 "its offsets refer to another text")
    refs = [doc["entities"] for doc in references.values()]
    preds = [predictions[key].get("entities") for key in references]
    generated = [k for k, p in enumerate(preds) if p is None]  # 'marked' lines: decode onto the gold text
    faithfulness: dict[str, float] = {}
    if generated:
        keys = list(references)
        for k in generated:
            if not isinstance(texts[k], str):
                raise DocumentError(keys[k], f"doc_id {keys[k]!r}: predictions given as 'marked' generations are "
                                     "decoded onto the reference 'text'; the reference lacks it")
        if typed:
            raise ValueError("'marked' generations carry no labels: typed scores need 'entities' with labels")
        spans, report = decode_corpus([predictions[keys[k]]["marked"] for k in generated],
                                      [texts[k] for k in generated])
        for k, found in zip(generated, spans):
            preds[k] = found
        faithfulness = report.to_dict(prefix="faithfulness_")
    return refs, preds, texts if all(isinstance(t, str) for t in texts) else None, faithfulness


def pair_files(references: DocumentFile, predictions: DocumentFile,
                typed: bool = False) -> tuple[list, list, list[str] | None, dict[str, float]]:
    """:func:`pair_documents` of two files; its errors name the files and the lines."""
    try:
        return pair_documents(references.docs, predictions.docs, typed)
    except DocumentError as e:
        raise ValueError(f"{predictions.where(e.key)}: {e} (reference: {references.where(e.key)})") from None
    except ValueError as e:
        raise ValueError(f"{references.path} (references), {predictions.path} (predictions): {e}") from None


def locate_error(error: ValueError, references: DocumentFile, predictions: DocumentFile) -> ValueError:
    """The metric core names a document by its index in the corpus: add its doc_id and lines."""
    found = re.search(r"\bdocument (\d+)\b", str(error))
    keys = list(references.docs)
    if found is None or int(found.group(1)) >= len(keys):
        return ValueError(f"{references.path} / {predictions.path}: {error}")
    key = keys[int(found.group(1))]
    return ValueError(f"{error} [document {found.group(1)} is doc_id {key!r}: {references.where(key)} "
                      f"(references), {predictions.where(key)} (predictions)]")
