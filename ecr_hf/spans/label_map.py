"""Label normalisation: a model's labels onto a data set's labels, before anything is scored.

A model trained elsewhere names its types its own way (``DISEASE``, ``Disease_Disorder``,
``CHEMICAL``); a data set has its own (``Disease``, ``Chemical``). A :class:`LabelMap` says, per data
set, which model label is which data-set label, which model labels to drop (a gene tagger's
``GENE`` on a disease corpus) and whether to score without types (a model that has none). A
predicted label that the map does not cover and the data set does not have is an error that lists
every such label: a wrong label is never silently scored as a wrong type.

The JSON form (``--label-map map.json``)::

    {"map": {"DISEASE": "Disease", "CHEMICAL": "Chemical"}, "drop": ["GENE"], "untyped": false}

Every key is optional; a label the data set already has maps to itself.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .span import SpanError, to_span

__all__ = ["LabelMap", "LabelMapError"]

_KEYS = ("map", "drop", "untyped")


class LabelMapError(SpanError):
    """Predicted labels that the label map does not cover, or a malformed map."""


@dataclass(frozen=True)
class LabelMap:
    """Model labels -> data-set labels (see the module docstring).

    Examples:
        >>> lm = LabelMap(mapping={"DISEASE": "Disease"}, drop=("GENE",))
        >>> refs = [[{"start": 0, "end": 6, "label": "Disease"}]]
        >>> preds = [[{"start": 0, "end": 6, "label": "DISEASE"}, {"start": 10, "end": 14, "label": "GENE"}]]
        >>> lm.apply(refs, preds)[1]
        [[{'start': 0, 'end': 6, 'label': 'Disease'}]]
        >>> LabelMap().apply(refs, preds)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ecr_hf.spans.label_map.LabelMapError: predicted labels ['DISEASE' (1 span), 'GENE' (1 span)] are not ...
    """

    mapping: Mapping[str, str] = field(default_factory=dict, metadata={"help": "model label -> data-set label"})
    drop: tuple[str, ...] = field(default=(), metadata={"help": "model labels whose spans are left out"})
    untyped: bool = field(default=False, metadata={"help": "score without types: every label is removed, "
                                                           "on both sides"})

    def __post_init__(self):
        if not isinstance(self.mapping, Mapping):
            raise LabelMapError(f"'map' must be an object of model label -> data-set label, got {self.mapping!r}")
        bad = [(k, v) for k, v in self.mapping.items() if not (isinstance(k, str) and k and isinstance(v, str) and v)]
        if bad:
            raise LabelMapError(f"'map' entries must be non-empty strings, got {bad[0]}")
        if not isinstance(self.drop, (list, tuple)) or not all(isinstance(x, str) and x for x in self.drop):
            raise LabelMapError(f"'drop' must be a list of label names, got {self.drop!r}")
        if both := sorted(set(self.drop) & set(self.mapping)):
            raise LabelMapError(f"labels {both} are both mapped and dropped; keep each in one place")
        if not isinstance(self.untyped, bool):
            raise LabelMapError(f"'untyped' must be true or false, got {self.untyped!r}")
        object.__setattr__(self, "mapping", dict(self.mapping))
        object.__setattr__(self, "drop", tuple(sorted(set(self.drop))))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LabelMap":
        """From the JSON form; unknown keys are an error (a typo would otherwise map nothing)."""
        if not isinstance(data, Mapping):
            raise LabelMapError(f"a label map is a JSON object with keys {list(_KEYS)}, got {type(data).__name__}")
        if unknown := sorted(set(data) - set(_KEYS)):
            raise LabelMapError(f"unknown label map keys {unknown}; the keys are {list(_KEYS)}")
        return cls(mapping=data.get("map", {}), drop=data.get("drop", ()), untyped=data.get("untyped", False))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "LabelMap":
        """Read a label map file (module docstring); errors name the file."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise LabelMapError(f"{path}: not valid JSON: {e}") from None
        except LabelMapError as e:
            raise LabelMapError(f"{path}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (sorted, so that results files that embed it compare equal)."""
        return {"map": dict(sorted(self.mapping.items())), "drop": sorted(self.drop), "untyped": self.untyped}

    def apply(self, references: Sequence[Iterable[Any] | None], predictions: Sequence[Iterable[Any] | None], *,
              labels: Iterable[str | None] | None = None) -> tuple[list[list[dict]], list[list[dict]]]:
        """``(references, predictions)`` as span dicts ``{"start", "end", "label"}``, predictions relabelled
        (and both unlabelled when ``untyped``). The inputs are not changed. ``labels``: the data set's
        labels (None: those of ``references``; give them when ``references`` is one fold of several).

        Raises:
            LabelMapError: a predicted label that is neither a data-set label, mapped nor dropped
                (all of them are listed, with their span counts).
        """
        refs = _dicts(references)
        preds = [[s for s in doc if s["label"] not in self.drop] for doc in _dicts(predictions)]
        if self.untyped:
            for spans in (*refs, *preds):
                for s in spans:
                    s["label"] = None
            return refs, preds
        gold_labels = {s["label"] for doc in refs for s in doc} if labels is None else set(labels)
        unknown = Counter(s["label"] for doc in preds for s in doc
                          if s["label"] not in gold_labels and s["label"] not in self.mapping
                          and s["label"] not in self.drop)
        if unknown:
            shown = ", ".join(f"{label!r} ({n} span{'s' if n > 1 else ''})" for label, n in sorted(
                unknown.items(), key=lambda kv: (kv[0] is None, str(kv[0]))))
            known = sorted(x for x in gold_labels if x is not None)
            raise LabelMapError(f"predicted labels [{shown}] are not labels of the data set ({known}) and the label "
                                'map neither maps nor drops them; add them to its "map" or "drop"'
                                + ("; a model without types needs \"untyped\": true" if None in unknown else ""))
        used = {s["label"] for doc in preds for s in doc}
        if wrong := sorted((k, v) for k, v in self.mapping.items() if k in used and v not in gold_labels):
            raise LabelMapError(f"the label map maps {', '.join(f'{k!r} to {v!r}' for k, v in wrong)}, not to labels "
                                f"of the data set ({sorted(x for x in gold_labels if x is not None)})")
        for spans in preds:
            for s in spans:
                s["label"] = self.mapping.get(s["label"], s["label"])
        return refs, preds


def _dicts(corpus: Sequence[Iterable[Any] | None]) -> list[list[dict[str, Any]]]:
    """Fresh span dicts of every document, checked by the span model (empty spans are left for the
    scorer's ``empty_spans`` option to decide); the caller's objects are not touched."""
    if isinstance(corpus, (str, bytes, Mapping)):
        raise SpanError(f"expected one span list per document, got {type(corpus).__name__}")
    out = []
    for k, doc in enumerate(corpus):
        if isinstance(doc, (str, bytes, Mapping)):
            raise SpanError(f"document {k}: expected a list of spans, got {type(doc).__name__}")
        spans = (to_span(o, doc=k, i=i, allow_empty=True) for i, o in enumerate(doc or ()))
        out.append([{"start": s.start, "end": s.end, "label": s.label} for s in spans])
    return out

