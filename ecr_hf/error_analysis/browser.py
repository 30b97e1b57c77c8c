"""The error browser: one self-contained HTML page of a prediction set's errors (``ecr-hf errors``).

The page holds its data as embedded JSON and its CSS and JavaScript inline: it opens from disk,
offline, in any browser (nothing is fetched). It shows the scores at each p, the errors of
:func:`ecr_hf.error_analysis.analyze_errors` in a table sorted by cost (highest first), filterable
by class, label and length bin (the counts per class follow the label and length filters), and the
documents with gold spans underlined and predicted spans shaded (both where they overlap), 20 per
page; clicking an error shows its document and flashes its spans. The table renders 500 rows at a
time, so a corpus of thousands of documents opens quickly.

A SemEval-2013 panel (:mod:`ecr_hf.scoring.semeval`, nervaluate's schemas) sits beside the scores: per
schema the COR, INC, PAR, MIS, SPU counts and precision, recall, F1, and, in the documents, each
given span's strict and partial category in its tooltip. SemEval scores the spans as given, one to
one, while the error classes and costs use the metric's merged spans, so the two can differ where
spans overlap (a merged prediction is one ``merged`` error, but one INC or PAR and a MIS there).

All text goes into the page as data, never as markup: the JSON is escaped so that no ``</script>``
can end its element, and the script writes text with ``textContent``. Offsets are converted to the
browser's UTF-16 indices (a character outside the BMP is two there, one in Python).
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..scoring.semeval import CATEGORIES, SCHEMAS, UNTYPED, semeval_outcomes
from ..scoring.soft_match import DEFAULT_LENGTH_BINS, DEFAULT_P_VALUES, format_p
from ..spans import pair_arrays
from ..utils import OutputExistsError, atomic_write_text
from .analysis import ERROR_CLASSES, ErrorAnalysis, analyze_error_arrays

__all__ = ["error_page", "error_report_html", "write_error_report"]

_SURROGATES = re.compile("[\ud800-\udfff]")
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _utf16(text: str) -> np.ndarray | None:
    """UTF-16 index of every code-point offset of ``text`` (``None`` if they are equal: no
    character outside the BMP). Lone surrogates count one in both."""
    if text.isascii():
        return None
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    astral = points > 0xFFFF
    if not astral.any():
        return None
    return np.arange(len(points) + 1) + np.r_[0, np.cumsum(astral)]


def _script_json(data: Any) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>`` and ``&`` as escapes; non-ASCII kept, a
    lone surrogate (UTF-8 cannot hold it) as its escape."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = _SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text)


def _semeval_data(scores: Mapping[str, Any] | None,
                  spans: Sequence[Mapping[str, Sequence[Mapping[str, Any]]]] | None,
                  at: Callable[[int, int], int]) -> dict[str, Any]:
    """The SemEval panel's rows (counts, precision, recall, F1 per schema) and, per document, the
    given spans as ``[start, end, label, strict, partial]`` (label and categories as indices)."""
    out: dict[str, Any] = {"semeval": None, "semLabels": [], "categories": list(CATEGORIES)}
    if scores is not None:
        out["semeval"] = {s: [scores[s][k] for k in ("correct", "incorrect", "partial", "missed", "spurious")]
                          + [round(scores[s][k], 6) for k in ("precision", "recall", "f1")] for s in SCHEMAS}
    if spans is not None:
        names = sorted({r["label"] or UNTYPED for doc in spans for side in ("gold", "pred") for r in doc[side]})
        index, code = {n: k for k, n in enumerate(names)}, {c: k for k, c in enumerate(CATEGORIES)}
        out["semLabels"] = names
        out["given"] = [[[[at(d, r["start"]), at(d, r["end"]), index[r["label"] or UNTYPED], code[r["strict"]],
                           code[r["partial"]]] for r in doc[side]] for side in ("gold", "pred")]
                        for d, doc in enumerate(spans)]
    return out


def _page_data(analysis: ErrorAnalysis, texts: Sequence[str], title: str,
               semeval: Mapping[str, Any] | None = None,
               semeval_records: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The page's data: documents, spans and errors as compact lists, offsets in UTF-16."""
    labels = sorted({s[2] for units in (analysis.gold_units, analysis.pred_units) for doc in units for s in doc})
    label_index = {name: k for k, name in enumerate(labels)}
    bin_index = {name: k for k, name in enumerate(analysis.length_bins)}
    maps = [_utf16(t) for t in texts]

    def at(doc: int, offset: int) -> int:
        m = maps[doc]
        return offset if m is None else int(m[offset])

    def spans(doc: int, units: Iterable[tuple[int, int, str]]) -> list[list[int]]:
        return [[at(doc, s), at(doc, e), label_index[label]] for s, e, label in units]

    def scored(doc: int, items: Iterable[Any]) -> list[list[Any]]:
        return [[at(doc, s.start), at(doc, s.end), label_index[s.label],
                 [round(s.scores[p], 6) for p in analysis.p_values]] for s in items]

    docs = [{"id": str(key), "text": text, "gold": spans(d, analysis.gold_units[d]),
             "pred": spans(d, analysis.pred_units[d])}
            for d, (key, text) in enumerate(zip(analysis.doc_ids, texts))]
    panel = _semeval_data(semeval, semeval_records, at)
    for doc, (gold, pred) in zip(docs, panel.pop("given", ())):
        doc["sg"], doc["sp"] = gold, pred
    errors = [{"kind": ERROR_CLASSES.index(e.kind), "doc": e.doc, "start": at(e.doc, e.start), "end": at(e.doc, e.end),
               "label": label_index[e.label], "bin": bin_index[e.length_bin], "cost": round(e.cost, 6),
               "costF1": e.cost_f1, "gold": scored(e.doc, e.gold), "pred": scored(e.doc, e.pred)}
              for e in analysis.errors]
    scores = {format_p(p): {k: analysis.scores["p"][p][k] for k in ("precision", "recall", "f1")}
              for p in analysis.p_values}
    return {"title": title, "classes": list(ERROR_CLASSES), "labels": labels, "bins": list(analysis.length_bins),
            "p": [format_p(p) for p in analysis.p_values], "scoreP": format_p(analysis.score_p),
            "typed": analysis.typed, "counts": analysis.counts, "scores": scores,
            "totalCost": analysis.total_cost, "nGold": analysis.scores["n_gold"], "nPred": analysis.scores["n_pred"],
            **panel, "docs": docs, "errors": errors}


def error_page(analysis: ErrorAnalysis, texts: Sequence[str], *, title: str | None = None,
               semeval: Mapping[str, Any] | None = None,
               semeval_records: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The self-contained HTML page of ``analysis`` (module docstring); ``texts`` are its documents'.
    ``semeval`` (:func:`ecr_hf.scoring.semeval_scores` of the same spans) adds the SemEval panel,
    ``semeval_records`` (:func:`ecr_hf.scoring.semeval_spans`) the categories in the tooltips."""
    if len(texts) != len(analysis.doc_ids):
        raise ValueError(f"got {len(texts)} texts for {len(analysis.doc_ids)} documents")
    if semeval_records is not None and len(semeval_records) != len(texts):
        raise ValueError(f"got SemEval spans of {len(semeval_records)} documents for {len(texts)} documents")
    title = title or "E-CCR error browser"
    data = _script_json(_page_data(analysis, texts, title, semeval, semeval_records))
    parts = {"TITLE": html.escape(title), "STYLE": _STYLE, "SCRIPT": _SCRIPT, "DATA": data}
    return re.sub("@(TITLE|STYLE|SCRIPT|DATA)@", lambda m: parts[m[1]], _TEMPLATE)  # one pass: no text is re-read


def error_report_html(references: Sequence[Iterable[Any] | None], predictions: Sequence[Iterable[Any] | None], *,
                      texts: Sequence[str], doc_ids: Sequence[Any] | None = None,
                      p_values: Sequence[float] = DEFAULT_P_VALUES, score_p: float | None = None,
                      typed: bool = False, length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
                      title: str | None = None, empty_spans: str = "error") -> str:
    """:func:`~ecr_hf.error_analysis.analyze_errors` then :func:`error_page`, with the SemEval panel
    of the spans as given (:func:`~ecr_hf.scoring.semeval_scores` without its per-label part, and
    :func:`~ecr_hf.scoring.semeval_spans`, default options): the page as a string."""
    if texts is None:
        raise ValueError("the error browser shows the documents: give their texts")
    gold, pred = pair_arrays(references, predictions, texts, empty_spans)  # validated once, matched once below
    analysis = analyze_error_arrays(gold, pred, len(references), texts=texts, doc_ids=doc_ids, p_values=p_values,
                                    score_p=score_p, typed=typed, length_bins=length_bins, empty_spans=empty_spans)
    scores, records = semeval_outcomes(gold, pred, len(references))
    return error_page(analysis, texts, title=title, semeval=scores, semeval_records=records)


def write_error_report(references: Sequence[Iterable[Any] | None], predictions: Sequence[Iterable[Any] | None],
                       output: str | os.PathLike, *, texts: Sequence[str], doc_ids: Sequence[Any] | None = None,
                       p_values: Sequence[float] = DEFAULT_P_VALUES, score_p: float | None = None,
                       typed: bool = False, length_bins: Sequence[tuple[int, int | None]] = DEFAULT_LENGTH_BINS,
                       title: str | None = None, empty_spans: str = "error", overwrite: bool = False) -> Path:
    """Write the error browser of ``predictions`` against ``references`` to ``output`` (one HTML
    file, atomically); arguments as :func:`~ecr_hf.error_analysis.analyze_errors` (``score_p``
    gives the costs; default the first p). An existing ``output`` raises
    :class:`~ecr_hf.utils.OutputExistsError` unless ``overwrite``, before any work is done.

    Examples:
        >>> import tempfile
        >>> text = "Acute renal failure and fever."
        >>> gold = [[{"start": 0, "end": 19, "label": "Disease"}, {"start": 24, "end": 29, "label": "Disease"}]]
        >>> pred = [[{"start": 6, "end": 19, "label": "Disease"}]]
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = write_error_report(gold, pred, f"{tmp}/report.html", texts=[text])
        ...     path.read_text(encoding="utf-8").count('{"kind":')  # the errors: 'fever' missed, a boundary
        2
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} exists; pass overwrite=True (--overwrite) to replace it")
    page = error_report_html(references, predictions, texts=texts, doc_ids=doc_ids, p_values=p_values,
                             score_p=score_p, typed=typed, length_bins=length_bins, title=title,
                             empty_spans=empty_spans)
    return atomic_write_text(output, page, overwrite=overwrite)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>@STYLE@</style>
</head>
<body>
<header><h1 id="title"></h1><div class="head"><table id="scores"></table>
<table id="semeval" hidden><caption>SemEval-2013 (nervaluate's schemas) of the spans as given, one to one, not
merged: the error classes and costs use the metric's merged spans</caption></table><p id="summary"></p></div></header>
<main>
<section id="panel">
  <div class="filters">
    <fieldset id="f-class"><legend>class</legend></fieldset>
    <fieldset id="f-label"><legend>label</legend></fieldset>
    <fieldset id="f-bin"><legend>length (characters)</legend></fieldset>
  </div>
  <p id="shown"></p>
  <table id="errors"><colgroup><col style="width: 3.5em"><col style="width: 7.5em"><col style="width: 9em">
  <col style="width: 4.5em"><col style="width: 3.8em"><col style="width: 4em"><col style="width: 6.5em"><col><col>
  </colgroup>
  <thead><tr><th>#</th><th>class</th><th>label</th><th>length</th><th title="characters of recall and precision
  the error costs at the score p">cost</th><th title="the F1 the error costs, in percentage points (exact at
  p = 1)">% F1</th><th>document</th><th>gold</th><th>predicted</th></tr></thead><tbody></tbody></table>
  <button id="more" type="button" hidden></button>
</section>
<section id="documents">
  <p class="legend"><span class="g">gold</span> <span class="p">predicted</span> <span class="g p">both</span></p>
  <nav id="pager"><button id="prev" type="button">&larr;</button> <span id="page"></span>
  <button id="next" type="button">&rarr;</button></nav>
  <div id="doclist"></div>
</section>
</main>
<script type="application/json" id="data">@DATA@</script>
<script>@SCRIPT@</script>
</body>
</html>
"""

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; }
header { padding: 8px 16px; border-bottom: 1px solid #ddd; }
h1 { font-size: 18px; margin: 4px 0; }
main { display: flex; gap: 16px; padding: 8px 16px; align-items: flex-start; }
#panel { flex: 3 1 0; min-width: 0; }
#documents { flex: 2 1 0; min-width: 0; position: sticky; top: 0; max-height: 100vh; overflow: auto; }
.filters { display: flex; gap: 8px; flex-wrap: wrap; }
fieldset { border: 1px solid #ccc; border-radius: 4px; padding: 4px 8px; }
fieldset label { margin-right: 10px; white-space: nowrap; }
table { border-collapse: collapse; }
#scores td, #scores th, #semeval td, #semeval th { padding: 1px 8px; text-align: right; }
#semeval { font-variant-numeric: tabular-nums; }
#semeval caption { caption-side: bottom; font-size: 11px; color: #666; max-width: 34em; text-align: left; }
.head { display: flex; gap: 24px; align-items: flex-start; }
#summary { margin: 2px 0; max-width: 60em; }
#errors { width: 100%; margin-top: 6px; table-layout: fixed; }
#errors th, #errors td { border-bottom: 1px solid #eee; padding: 2px 6px; text-align: left; vertical-align: top;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#errors tbody tr { cursor: pointer; }
#errors tbody tr:hover { background: #f4f7ff; }
#errors td.num { text-align: right; font-variant-numeric: tabular-nums; }
.kind { border-radius: 3px; padding: 0 4px; color: #fff; font-size: 12px; }
.k0 { background: #b3261e; } .k1 { background: #7d5260; } .k2 { background: #e65100; }
.k3 { background: #8e6c00; } .k4 { background: #6750a4; } .k5 { background: #00696f; }
.doc { border: 1px solid #ddd; border-radius: 4px; padding: 6px 10px; margin: 8px 0; }
.doc h3 { font-size: 13px; margin: 0 0 4px; color: #555; }
.text { white-space: pre-wrap; word-wrap: break-word; margin: 0; }
.g { border-bottom: 3px solid #1b8a3a; }
.p { background: #cfe0ff; }
.g.p { background: #cfe0ff; border-bottom-color: #0b5d1e; }
.flash { outline: 2px solid #ff8f00; background: #ffe0a3; }
.legend span { padding: 0 4px; margin-right: 6px; }
"""

_SCRIPT = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const PAGE = 20, CHUNK = 500;
const byDoc = D.docs.map(() => []);
D.errors.forEach((e, k) => byDoc[e.doc].push(k));
let shownRows = CHUNK, page = 0, filtered = [];

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function fmt(x, digits) { return Number(x).toFixed(digits); }
function spanText(doc, s) {
  const t = D.docs[doc].text.slice(s[0], s[1]);
  return t.length > 60 ? t.slice(0, 57) + "..." : t;
}

function header() {
  document.getElementById("title").textContent = D.title;
  const c = D.counts, errors = D.errors.length;
  document.getElementById("summary").textContent =
    `${D.docs.length} documents, ${D.nGold} gold and ${D.nPred} predicted spans (overlaps merged), ` +
    `${errors} errors, ${c.correct} correct; ${D.typed ? "typed" : "untyped"} scores; costs at p=${D.scoreP}: ` +
    `${fmt(D.totalCost, 1)} characters of recall and precision in all`;
  const table = document.getElementById("scores");
  const head = el("tr"); head.append(el("th", {}, "p"));
  ["precision", "recall", "F1"].forEach(m => head.append(el("th", {}, m)));
  table.append(head);
  for (const p of D.p) {
    const row = el("tr"); row.append(el("th", {}, p));
    ["precision", "recall", "f1"].forEach(m => row.append(el("td", {}, fmt(D.scores[p][m], 4))));
    table.append(row);
  }
  if (!D.semeval) return;
  const sem = document.getElementById("semeval"), cols = [...D.categories, "P", "R", "F1"];
  const top = el("tr"); top.append(el("th", {}, "SemEval"));
  cols.forEach(c => top.append(el("th", {}, c)));
  sem.append(top);
  for (const [schema, values] of Object.entries(D.semeval)) {
    const row = el("tr", {"data-schema": schema}); row.append(el("th", {}, schema));
    values.forEach((v, i) => row.append(el("td", {"data-col": cols[i]}, i < 5 ? String(v) : fmt(v, 4))));
    sem.append(row);
  }
  sem.hidden = false;
}

function checkboxes(id, names, key) {
  const box = document.getElementById(id);
  names.forEach((name, k) => {
    const label = el("label");
    const input = el("input", {type: "checkbox", value: String(k), "data-filter": key});
    input.checked = true;
    input.addEventListener("change", () => { shownRows = CHUNK; update(); });
    label.append(input, document.createTextNode(" " + name));
    if (key === "kind") label.append(document.createTextNode(" "), el("span", {class: "count", "data-kind": name}, ""));
    box.append(label);
  });
}
function chosen(key) {
  return new Set([...document.querySelectorAll(`input[data-filter=${key}]`)].filter(i => i.checked).map(i => +i.value));
}

function update() {
  const kinds = chosen("kind"), labels = chosen("label"), bins = chosen("bin");
  const counts = D.classes.map(() => 0);
  filtered = [];
  D.errors.forEach((e, k) => {
    if (!labels.has(e.label) || !bins.has(e.bin)) return;
    counts[e.kind] += 1;
    if (kinds.has(e.kind)) filtered.push(k);
  });
  D.classes.forEach((name, k) => {
    document.querySelector(`.count[data-kind=${name}]`).textContent = String(counts[k]);
  });
  document.getElementById("shown").textContent =
    `${filtered.length} of ${D.errors.length} errors shown, highest cost first`;
  renderRows();
}

function renderRows() {
  const body = document.querySelector("#errors tbody");
  body.replaceChildren();
  const rows = filtered.slice(0, shownRows).map(k => {
    const e = D.errors[k];
    const tr = el("tr", {"data-error": String(k), "data-kind": D.classes[e.kind],
                         "data-label": D.labels[e.label], "data-bin": D.bins[e.bin], "data-cost": String(e.cost)});
    const kind = el("td"); kind.append(el("span", {class: "kind k" + e.kind}, D.classes[e.kind]));
    let label = D.labels[e.label];
    if (D.classes[e.kind] === "wrong_type") label += " \u2192 " + D.labels[e.pred[0][2]];
    let gold = e.gold.map(s => spanText(e.doc, s)).join(" | ");
    if (D.classes[e.kind] === "fragmented") {
      const frag = e.gold.find(s => e.pred.filter(q => q[0] < s[1] && s[0] < q[1]).length > 1) || e.gold[0];
      tr.title = "gold score " + D.p.map((p, i) => `p=${p}: ${fmt(frag[3][i], 3)}`).join(", ");
      gold += "  [" + D.p.map((p, i) => `p${p} ${fmt(frag[3][i], 2)}`).join(" ") + "]";
    }
    tr.append(el("td", {class: "num"}, String(k + 1)), kind, el("td", {}, label), el("td", {}, D.bins[e.bin]),
              el("td", {class: "num"}, fmt(e.cost, 1)), el("td", {class: "num"}, fmt(100 * e.costF1, 2)),
              el("td", {}, D.docs[e.doc].id), el("td", {title: gold}, gold),
              el("td", {}, e.pred.map(s => spanText(e.doc, s)).join(" | ")));
    tr.addEventListener("click", () => show(k));
    return tr;
  });
  body.append(...rows);
  const more = document.getElementById("more");
  more.hidden = filtered.length <= shownRows;
  more.textContent = `show ${Math.min(CHUNK, filtered.length - shownRows)} more`;
}

function renderDoc(d) {
  const doc = D.docs[d];
  const box = el("div", {class: "doc", id: "doc-" + d, "data-doc": String(d)});
  const n = byDoc[d].length;
  box.append(el("h3", {}, `${doc.id}: ${n} error${n === 1 ? "" : "s"}`));
  const cuts = new Set([0, doc.text.length]);
  const given = [(doc.sg || []).map(s => ["gold", s]), (doc.sp || []).map(s => ["predicted", s])].flat();
  for (const s of doc.gold.concat(doc.pred, given.map(x => x[1]))) { cuts.add(s[0]); cuts.add(s[1]); }
  const points = [...cuts].sort((a, b) => a - b);
  const events = new Map();  // offset -> [gold delta, pred delta, spans starting]
  const add = (at, which, delta) => {
    if (!events.has(at)) events.set(at, [0, 0]);
    events.get(at)[which] += delta;
  };
  doc.gold.forEach(s => { add(s[0], 0, 1); add(s[1], 0, -1); });
  doc.pred.forEach(s => { add(s[0], 1, 1); add(s[1], 1, -1); });
  const text = el("p", {class: "text"});
  let g = 0, p = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i], b = points[i + 1];
    const ev = events.get(a);
    if (ev) { g += ev[0]; p += ev[1]; }
    if (a === b) continue;
    const piece = doc.text.slice(a, b);
    if (!g && !p) { text.append(document.createTextNode(piece)); continue; }
    const cls = (g ? "g" : "") + (g && p ? " " : "") + (p ? "p" : "");
    const tips = [];
    doc.gold.forEach(s => { if (s[0] <= a && b <= s[1]) tips.push(`gold ${D.labels[s[2]]} [${s[0]}, ${s[1]})`); });
    doc.pred.forEach(s => { if (s[0] <= a && b <= s[1]) tips.push(`predicted ${D.labels[s[2]]} [${s[0]}, ${s[1]})`); });
    given.forEach(([side, s]) => {
      if (s[0] <= a && b <= s[1]) tips.push(`SemEval ${side} ${D.semLabels[s[2]]} [${s[0]}, ${s[1]}): ` +
                                            `strict ${D.categories[s[3]]}, partial ${D.categories[s[4]]}`);
    });
    text.append(el("span", {class: cls, "data-s": String(a), "data-e": String(b), title: tips.join("; ")}, piece));
  }
  box.append(text);
  return box;
}

function renderPage() {
  const pages = Math.max(1, Math.ceil(D.docs.length / PAGE));
  page = Math.min(Math.max(page, 0), pages - 1);
  const list = document.getElementById("doclist");
  list.replaceChildren();
  for (let d = page * PAGE; d < Math.min(D.docs.length, (page + 1) * PAGE); d++) list.append(renderDoc(d));
  document.getElementById("page").textContent =
    `documents ${page * PAGE + 1}\u2013${Math.min(D.docs.length, (page + 1) * PAGE)} of ${D.docs.length}`;
  document.getElementById("prev").disabled = page === 0;
  document.getElementById("next").disabled = page === pages - 1;
}

function show(k) {
  const e = D.errors[k];
  if (Math.floor(e.doc / PAGE) !== page) { page = Math.floor(e.doc / PAGE); renderPage(); }
  document.querySelectorAll(".flash").forEach(x => x.classList.remove("flash"));
  const box = document.getElementById("doc-" + e.doc);
  const hit = [...box.querySelectorAll("[data-s]")].filter(x => +x.dataset.s >= e.start && +x.dataset.e <= e.end);
  hit.forEach(x => x.classList.add("flash"));
  (hit[0] || box).scrollIntoView({block: "center"});
}

header();
checkboxes("f-class", D.classes, "kind");
checkboxes("f-label", D.labels, "label");
checkboxes("f-bin", D.bins, "bin");
document.getElementById("more").addEventListener("click", () => { shownRows += CHUNK; renderRows(); });
document.getElementById("prev").addEventListener("click", () => { page -= 1; renderPage(); });
document.getElementById("next").addEventListener("click", () => { page += 1; renderPage(); });
update();
renderPage();
document.body.dataset.ready = "1";
"""
