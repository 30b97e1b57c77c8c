"""Span documents -> TRL instruction-tuning datasets (prompt-completion or conversational).

Each training unit (a sentence or a whole document) becomes one example whose completion is the
unit with its gold spans wrapped in markers (paper 000, Figure 3), e.g.
``"@@感染性心内膜炎##（IE）はその経過中に@@脳梗塞##を合併した。"``. The dataset also keeps the unit's
``source`` text, its gold ``entities`` (offsets into ``source``), ``doc_index`` and ``offset`` (the
unit's start in its document), so that generations can be decoded and scored, and unit spans
mapped back to document offsets (``span.start + offset``).

The result is what TRL's ``SFTTrainer`` accepts as is: with ``"prompt"``/``"completion"`` string
columns it tokenizes ``prompt`` and ``prompt + completion``, appends EOS to the completion and, with
``SFTConfig(completion_only_loss=None)`` (the default), computes the loss on the completion tokens
only; with conversational columns it applies the chat template instead. Extra columns are left in
the dataset and dropped from the model's batches by the ``Trainer``.

Typed extraction (``typed=``, with the label set ``labels``; see :mod:`ecr_hf.instruct`):

* ``typed="markers"``: one example per unit, its completion with typed markers
  (``"@@aspirin##Chemical-induced @@asthma##Disease"``, :func:`ecr_hf.spans.spans_to_marked`), the
  prompt naming the label set; a ``label_set`` column holds the set (for generation and scoring).
* ``typed="queries"``: one example per unit and label, in label order; the prompt names the label,
  the completion marks that label's spans with untyped markers, ``entities`` holds that label's gold
  spans and a ``query_label`` column the label. Spans of different labels may overlap here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from datasets import Dataset, Features, List, Value

from ..spans.formats import check_labels, spans_to_marked
from ..spans.span import SpanError, to_spans
from .templates import TEMPLATES, TYPED_MODES, render_prompt, resolve_template

__all__ = ["sentence_units", "to_instruction_dataset"]

# A sentence ends after 。．！？!? (and closing brackets/quotes right after them), after a "." that
# is followed by whitespace or the end but not by whitespace and a digit (so "3.5 mg" and the
# pre-tokenised "0 . 01" of CoNLL corpora stay whole), and at a newline.
_SENTENCE_END = re.compile(r"[。．！？!?][」』）)\]\"'”’]*|\.(?=\s|$)(?!\s+\d)|\n")

_SPAN = {"start": Value("int64"), "end": Value("int64"), "label": Value("string")}
_MESSAGES = List({"role": Value("string"), "content": Value("string")})


def sentence_units(text: str, spans: Iterable[Any] | None = None) -> list[tuple[int, int]]:
    """Sentence ``[start, end)`` ranges of ``text`` that no span crosses.

    The text is cut after each sentence end; a cut that falls inside a span is dropped, which
    merges the sentences the span touches into one unit (a concept written across a line break
    stays whole). Units are trimmed of surrounding whitespace, never into a span, and
    whitespace-only units are dropped.

    Examples:
        >>> sentence_units("発熱あり。咳嗽なし。")
        [(0, 5), (5, 10)]
        >>> sentence_units("Dose 3.5 mg. Chest\\npain.", [(13, 23)])
        [(0, 12), (13, 24)]
        >>> sentence_units("p < 0 . 01 . Fine .")
        [(0, 12), (13, 19)]
    """
    spans = to_spans(spans, text=text)
    cuts = np.fromiter((m.end() for m in _SENTENCE_END.finditer(text)), dtype=np.int64)
    if spans:
        starts = np.array([s.start for s in spans], dtype=np.int64)
        ends = np.array([s.end for s in spans], dtype=np.int64)
        inside = ((starts[None, :] < cuts[:, None]) & (cuts[:, None] < ends[None, :])).any(axis=1)
        cuts = cuts[~inside]
    bounds = np.unique(np.concatenate([[0], cuts, [len(text)]]))
    span_starts = np.array([s.start for s in spans], dtype=np.int64)
    span_ends = np.array([s.end for s in spans], dtype=np.int64)
    units = []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        mine = (span_starts >= a) & (span_ends <= b)
        lo, hi = a + lead, b - trail
        if mine.any():
            lo, hi = min(lo, int(span_starts[mine].min())), max(hi, int(span_ends[mine].max()))
        if lo < hi:
            units.append((lo, hi))
    return units


def _messages(role: str, content: str) -> list[dict[str, str]]:
    return [{"role": role, "content": content}]


def to_instruction_dataset(
    documents: Dataset | Sequence[Mapping[str, Any]],
    *,
    template: str = "ja",
    unit: Literal["sentence", "document"] = "sentence",
    conversational: bool = False,
    system_prompt: str | None = None,
    open_marker: str = "@@",
    close_marker: str = "##",
    text_column: str = "text",
    entities_column: str = "entities",
    typed: Literal["markers", "queries"] | None = None,
    labels: Sequence[str] | None = None,
) -> Dataset:
    """Build a TRL instruction-tuning dataset from span documents.

    Args:
        documents: a ``datasets.Dataset`` or a list of dicts, each with a text and its gold spans
            (``{"text": str, "entities": [{"start", "end", "label"}, ...]}``, offsets in characters,
            end exclusive). A ``doc_id`` column, if present, is carried over.
        template: ``"ja"`` (the paper's prompt), ``"en"``, or a template string holding ``{input}``.
        unit: ``"sentence"`` splits each document with :func:`sentence_units` (spans never cross a
            unit: sentences a span crosses are merged); ``"document"`` keeps documents whole.
        conversational: if True, ``prompt``/``completion`` are single user/assistant messages (TRL's
            conversational prompt-completion type, rendered with the tokenizer's chat template);
            else plain strings.
        system_prompt: conversational only: a system message put before each prompt. Without one,
            some chat templates (SmolLM2's, Qwen2's) insert a default system line of their own.
        open_marker / close_marker: the span markers; the built-in templates name ``@@`` and ``##``,
            so other markers need a template of your own.
        text_column / entities_column: where to read the text and the spans.
        typed: ``None`` (untyped, the paper's format), ``"markers"`` (a label after each ``##``) or
            ``"queries"`` (one example per unit and label); the built-in templates are then the
            typed ones (:data:`~ecr_hf.instruct.TYPED_TEMPLATES`,
            :data:`~ecr_hf.instruct.QUERY_TEMPLATES`), and a template of your own must hold
            ``{labels}`` (markers) or ``{label}`` (queries).
        labels: the label set, in the order the prompt names it (typed only). Default: the gold
            labels of ``documents``, sorted; pass it when building dev or test sets, which may lack a
            label. A gold span whose label is not in it (or unlabelled) raises :class:`SpanError`.

    Returns:
        A ``Dataset`` with ``prompt``, ``completion``, ``source``, ``entities`` (offsets into
        ``source``), ``doc_index``, ``offset`` (and ``doc_id``) columns, one row per unit (typed:
        plus ``label_set``; queries: one row per unit and label, plus ``query_label``).

    Examples:
        >>> docs = [{"text": "発熱を認めた。咳はない。", "entities": [{"start": 0, "end": 2, "label": "C"}]}]
        >>> ds = to_instruction_dataset(docs, template="Input: {input}\\nOutput:")
        >>> list(ds["completion"]), list(ds["offset"])
        (['@@発熱##を認めた。', '咳はない。'], [0, 7])
        >>> docs = [{"text": "aspirin-induced asthma", "entities": [{"start": 0, "end": 7, "label": "Chemical"},
        ...                                                        {"start": 16, "end": 22, "label": "Disease"}]}]
        >>> to_instruction_dataset(docs, template="{labels}: {input}", typed="markers")[0]["completion"]
        '@@aspirin##Chemical-induced @@asthma##Disease'
        >>> list(to_instruction_dataset(docs, template="{label}: {input}", typed="queries")["completion"])
        ['@@aspirin##-induced asthma', 'aspirin-induced @@asthma##']
    """
    if unit not in ("sentence", "document"):
        raise ValueError(f"unit must be 'sentence' or 'document', got {unit!r}")
    if system_prompt is not None and not conversational:
        raise ValueError("system_prompt applies to conversational datasets; pass conversational=True, or put "
                         "the instruction into the template")
    if typed is not None and typed not in TYPED_MODES:
        raise ValueError(f"typed must be None, 'markers' or 'queries', got {typed!r}")
    if typed is None and labels is not None:
        raise ValueError("labels= names the label set of typed extraction; pass typed='markers' or typed='queries'")
    resolve_template(template, typed)
    if template in TEMPLATES and (open_marker, close_marker) != ("@@", "##"):
        raise ValueError(f"the built-in template {template!r} tells the model to use @@ and ##, but the markers "
                         f"are {open_marker!r} and {close_marker!r}; pass a template of your own")
    if not isinstance(documents, Dataset):
        documents = Dataset.from_list([dict(d) for d in documents])
    missing = [c for c in (text_column, entities_column) if c not in documents.column_names]
    if missing:
        raise KeyError(f"documents lack column(s) {missing}; found {documents.column_names}. Set "
                       "text_column=/entities_column=")
    keep_id = "doc_id" in documents.column_names
    label_set: tuple[str, ...] = ()
    if typed is not None:
        if labels is None:
            found = {e.get("label") if isinstance(e, Mapping) else None
                     for ents in documents[entities_column] for e in (ents or [])}
            found.discard(None)
            if not found:
                raise SpanError("typed extraction needs labelled spans, and the documents have none; pass labels=")
            labels = sorted(found)
        label_set = check_labels(labels, open_marker, close_marker)
    known = set(label_set)

    def build(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        out: dict[str, list] = {k: [] for k in ("prompt", "completion", "source", "entities", "doc_index", "offset")}
        if keep_id:
            out["doc_id"] = []
        if typed is not None:
            out["label_set"] = []
        if typed == "queries":
            out["query_label"] = []
        for row, k in enumerate(indices):
            text = batch[text_column][row]
            if not isinstance(text, str):
                raise SpanError(f"document {k}: {text_column!r} must be a str, got {type(text).__name__}")
            spans = to_spans(batch[entities_column][row], doc=k, text=text)
            if typed is not None:
                for s in spans:
                    if s.label not in known:
                        raise SpanError(f"document {k}: span {tuple(s)} has label {s.label!r}, not one of the labels "
                                        f"{list(label_set)}; pass labels= with it, or filter the spans")
            ranges = sentence_units(text, spans) if unit == "sentence" else [(0, len(text))]
            for a, b in ranges:
                local = [s._replace(start=s.start - a, end=s.end - a) for s in spans if a <= s.start and s.end <= b]
                source = text[a:b]
                if typed is None:
                    examples = [(render_prompt(template, source),
                                 spans_to_marked(source, local, open_marker, close_marker, doc=k), local, None)]
                elif typed == "markers":
                    examples = [(render_prompt(template, source, labels=label_set),
                                 spans_to_marked(source, local, open_marker, close_marker, doc=k, labels=label_set),
                                 local, None)]
                else:
                    examples = []
                    for name in label_set:
                        mine = [s for s in local if s.label == name]
                        examples.append((render_prompt(template, source, label=name),
                                         spans_to_marked(source, mine, open_marker, close_marker, doc=k), mine, name))
                for prompt, marked, gold, name in examples:
                    if conversational:
                        system = _messages("system", system_prompt) if system_prompt is not None else []
                        out["prompt"].append(system + _messages("user", prompt))
                    else:
                        out["prompt"].append(prompt)
                    out["completion"].append(_messages("assistant", marked) if conversational else marked)
                    out["source"].append(source)
                    out["entities"].append([s.to_dict() for s in gold])
                    out["doc_index"].append(k)
                    out["offset"].append(a)
                    if keep_id:
                        out["doc_id"].append(str(batch["doc_id"][row]))
                    if typed is not None:
                        out["label_set"].append(list(label_set))
                    if typed == "queries":
                        out["query_label"].append(name)
        return out

    text_type = _MESSAGES if conversational else Value("string")
    features = Features({"prompt": text_type, "completion": text_type, "source": Value("string"),
                         "entities": List(_SPAN), "doc_index": Value("int64"), "offset": Value("int64"),
                         **({"doc_id": Value("string")} if keep_id else {}),
                         **({"label_set": List(Value("string"))} if typed is not None else {}),
                         **({"query_label": Value("string")} if typed == "queries" else {})})
    return documents.map(build, batched=True, with_indices=True, remove_columns=documents.column_names,
                         features=features, desc=f"Formatting {unit}s as instructions")
