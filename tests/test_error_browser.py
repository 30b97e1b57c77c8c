"""The error browser page (ecr_hf.error_analysis.browser): written atomically, self-contained, text escaped; in
headless Chromium (Debian's package, driven by Playwright): counts, filters, order, navigation."""

import doctest
import json
import re
from collections import Counter

import numpy as np
import pytest

from ecr_hf.error_analysis import ERROR_CLASSES, analyze_errors
from ecr_hf.scoring import CATEGORIES, SCHEMAS, semeval_scores, semeval_spans
from ecr_hf.error_analysis import browser as error_browser
from ecr_hf.error_analysis import error_report_html, write_error_report
from ecr_hf.utils import OutputExistsError


HOSTILE = "Risk of </script><script>alert(1)</script> and <b>bold</b> & co: \U0001F600 renal failure here."
TEXTS = [
    "Patient with chronic kidney disease and lung cancer; severe anemia was noted on day two.",
    HOSTILE,
    "Familial adenomatous polyposis and colorectal cancer, no diabetes mellitus or asthma reported.",
]


def _at(text, phrase, label, cut=(0, 0)):
    start = text.index(phrase)
    return {"start": start + cut[0], "end": start + len(phrase) - cut[1], "label": label}


GOLD = [
    [_at(TEXTS[0], "chronic kidney disease", "Disease"), _at(TEXTS[0], "lung cancer", "Disease"),
     _at(TEXTS[0], "severe anemia", "Finding")],
    [_at(TEXTS[1], "renal failure", "Disease"), _at(TEXTS[1], "<b>bold</b>", "Finding")],
    [_at(TEXTS[2], "Familial adenomatous polyposis", "Disease"), _at(TEXTS[2], "colorectal cancer", "Disease"),
     _at(TEXTS[2], "diabetes mellitus", "Disease")],
]
PRED = [
    [_at(TEXTS[0], "chronic kidney", "Disease"), _at(TEXTS[0], "disease", "Disease"),  # fragmented
     _at(TEXTS[0], "lung cancer", "Finding"), _at(TEXTS[0], "severe anemia", "Finding", (1, 0))],  # type, boundary
    [_at(TEXTS[1], "renal failure", "Disease"), _at(TEXTS[1], "</script>", "Finding")],  # correct, spurious
    [_at(TEXTS[2], "Familial adenomatous polyposis and colorectal cancer", "Disease"),  # merged; diabetes missed
     _at(TEXTS[2], "asthma", "Finding")],  # spurious
]
DOC_IDS = ["doc-a", "doc-<b>", "doc-c"]


def _data(page):
    """The JSON embedded in a page."""
    raw = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)[1]
    return json.loads(raw)


def test_write_is_atomic_and_never_overwrites(tmp_path):
    path = tmp_path / "sub" / "report.html"
    out = write_error_report(GOLD, PRED, path, texts=TEXTS, doc_ids=DOC_IDS)
    assert out == path and path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    path.write_text("keep me")
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_error_report(GOLD, PRED, path, texts=TEXTS)
    assert path.read_text() == "keep me"
    write_error_report(GOLD, PRED, path, texts=TEXTS, overwrite=True)
    assert "keep me" not in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left
    with pytest.raises(ValueError, match="give their texts"):
        error_report_html(GOLD, PRED, texts=None)


def test_page_is_self_contained_and_escapes_text():
    page = error_report_html(GOLD, PRED, texts=TEXTS, doc_ids=DOC_IDS, title="<i>run</i> </script>")
    assert not re.search(r"(src|href)\s*=|https?:|@import|url\(", page)  # nothing to fetch
    assert page.count("</script>") == 2  # the two script elements' own ends: no text ends one
    assert "<b>bold</b>" not in page and "<title>&lt;i&gt;run&lt;/i&gt; &lt;/script&gt;</title>" in page
    data = _data(page)
    assert [d["text"] for d in data["docs"]] == TEXTS and [d["id"] for d in data["docs"]] == DOC_IDS
    # offsets in UTF-16 code units: the emoji before 'renal failure' counts two there
    doc = data["docs"][1]
    start, end, _ = doc["gold"][1]
    assert len(HOSTILE.encode("utf-16-le")[2 * start:2 * end].decode("utf-16-le")) == len("renal failure")
    assert doc["gold"][1][0] == GOLD[1][0]["start"] + 1


def test_lone_surrogates_stay_valid():
    text = "x \ud800 fever"
    page = error_report_html([[(4, 9, "S")]], [[]], texts=[text])
    page.encode("utf-8")  # would raise on a raw lone surrogate
    assert _data(page)["docs"][0]["text"] == text


# -- in the browser ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = write_error_report(GOLD, PRED, tmp_path_factory.mktemp("report") / "report.html", texts=TEXTS,
                              doc_ids=DOC_IDS, title="toy </script> report")
    return path, analyze_errors(GOLD, PRED, texts=TEXTS, doc_ids=DOC_IDS)


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=10000)
    assert errors == [] and requests == [path.as_uri()]  # the page itself, nothing else: no network at view time
    return page


def _rows(page):
    return page.locator("#errors tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.kind, r.dataset.label, r.dataset.bin, +r.dataset.cost])")


def _counts(page):
    return {k: int(page.locator(f".count[data-kind={k}]").inner_text()) for k in ERROR_CLASSES}


def test_browser_renders_counts_and_cost_order(browser, report, tmp_path):
    path, analysis = report
    page = _open(browser, path)
    assert page.title() == "toy </script> report"
    assert _counts(page) == {k: analysis.counts[k] for k in ERROR_CLASSES}
    assert analysis.counts == {"missed": 2, "spurious": 2, "fragmented": 1, "merged": 1, "wrong_type": 1,
                               "boundary": 1, "correct": 1}
    rows = _rows(page)
    assert rows == [[e.kind, e.label, e.length_bin, pytest.approx(e.cost, abs=1e-6)] for e in analysis.errors]
    assert [r[3] for r in rows] == sorted((r[3] for r in rows), reverse=True)
    # the hostile document renders as text: its markup is characters, not elements
    doc = page.locator("#doc-1")
    assert doc.locator("b, script").count() == 0
    assert doc.locator(".text").inner_text() == HOSTILE
    assert page.locator("#doc-1 h3").inner_text().startswith("doc-<b>")
    gold = page.locator("#doc-1 .g").all_inner_texts()
    assert "".join(gold) == "<b>bold</b>renal failure"  # UTF-16 offsets: the spans land on their words
    both = page.locator("#doc-1 .g.p").all_inner_texts()
    assert both == ["renal failure"]
    page.screenshot(path=str(tmp_path / "error_browser.png"), full_page=True)
    assert (tmp_path / "error_browser.png").stat().st_size > 10_000
    page.close()


def test_browser_filters(browser, report):
    path, analysis = report
    page = _open(browser, path)

    def expect(kinds=None, labels=None, bins=None):
        keep = [e for e in analysis.errors if (labels is None or e.label in labels)
                and (bins is None or e.length_bin in bins)]
        counts = {k: sum(e.kind == k for e in keep) for k in ERROR_CLASSES}
        rows = [[e.kind, e.label, e.length_bin] for e in keep if kinds is None or e.kind in kinds]
        assert [r[:3] for r in _rows(page)] == rows
        assert _counts(page) == counts  # per class, after the label and length filters
        assert page.locator("#shown").inner_text().startswith(f"{len(rows)} of {len(analysis.errors)} errors")

    page.locator("#f-class label", has_text="spurious").locator("input").uncheck()
    expect(kinds=set(ERROR_CLASSES) - {"spurious"})
    page.locator("#f-label label", has_text="Finding").locator("input").uncheck()
    expect(kinds=set(ERROR_CLASSES) - {"spurious"}, labels={"Disease"})
    page.locator("#f-class label", has_text="spurious").locator("input").check()
    page.locator("#f-bin label", has_text="21+").locator("input").uncheck()
    expect(labels={"Disease"}, bins={"1-2", "3-6", "7-10", "11-20"})
    page.close()


def test_browser_click_shows_the_error(browser, report):
    path, analysis = report
    page = _open(browser, path)
    k = next(i for i, e in enumerate(analysis.errors) if e.kind == "fragmented")
    page.locator(f"#errors tbody tr[data-error='{k}']").click()
    flashed = page.locator("#doc-0 .flash").all_inner_texts()
    assert "".join(flashed) == "chronic kidney disease"
    assert page.locator("#doc-0 .flash").first.evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    title = page.locator(f"#errors tbody tr[data-error='{k}']").get_attribute("title")
    score = analysis.errors[k].gold[0].scores
    assert title == "gold score " + ", ".join(f"p={p:g}: {s:.3f}" for p, s in score.items())
    page.close()


def test_browser_large_corpus_pages_and_chunks(browser, tmp_path):
    """600 documents: the table shows 500 rows, then the rest on demand; an error of a document on
    another page opens that page."""
    texts = [f"case {k}: fever and cough" for k in range(600)]
    gold = [[(len(f"case {k}: "), len(f"case {k}: fever"), "S")] for k in range(600)]
    pred = [[] if k % 2 else [(len(f"case {k}: "), len(f"case {k}: fev"), "S")] for k in range(600)]
    path = write_error_report(gold, pred, tmp_path / "big.html", texts=texts, doc_ids=[f"n{k}" for k in range(600)])
    page = _open(browser, path)
    assert page.locator("#errors tbody tr").count() == 500 and page.locator(".doc").count() == 20
    page.locator("#more").click()
    assert page.locator("#errors tbody tr").count() == 600 and page.locator("#more").is_hidden()
    last = page.locator("#errors tbody tr").last
    assert last.evaluate("r => r.dataset.kind") == "boundary"  # missed (cost 5) first, boundaries (2) last
    last.click()
    doc = int(last.evaluate("r => r.cells[6].textContent")[1:])
    assert page.locator("#page").inner_text() == f"documents {doc // 20 * 20 + 1}\u2013{doc // 20 * 20 + 20} of 600"
    assert page.locator(f"#doc-{doc} .flash").all_inner_texts() == ["fev", "er"]
    page.close()


def test_doctests():
    assert doctest.testmod(error_browser).failed == 0


# -- the SemEval panel ---------------------------------------------------------------------------

# GOLD/PRED by hand: 'chronic kidney disease' is paired with one of its two pieces (overlap, same label:
# strict INC, partial PAR), the other piece SPU; 'lung cancer' same boundaries, other label (strict INC,
# exact and partial COR); 'evere anemia' overlap, same label; 'renal failure' COR; '<b>bold</b>' MIS and
# '</script>' SPU (they do not overlap); the merged prediction pairs with one of its two gold spans, the
# other and 'diabetes mellitus' MIS; 'asthma' SPU.
HAND = {  # COR, INC, PAR, MIS, SPU, precision, recall, F1 (8 gold, 8 predicted)
    "strict": [1, 4, 0, 3, 3, 0.125, 0.125, 0.125],
    "exact": [2, 3, 0, 3, 3, 0.25, 0.25, 0.25],
    "partial": [2, 0, 3, 3, 3, 0.4375, 0.4375, 0.4375],
    "ent_type": [4, 1, 0, 3, 3, 0.5, 0.5, 0.5],
}


def _panel(page):
    """The SemEval panel as shown: {schema: [the eight cells' texts]}."""
    return page.locator("#semeval tr[data-schema]").evaluate_all(
        "rows => Object.fromEntries(rows.map(r => [r.dataset.schema, [...r.cells].slice(1).map(c => c.textContent)]))")


def _expected_panel(gold, pred):
    """The panel from semeval_spans' categories (a pair counted once, from its gold span; SPU from the
    predictions) and semeval_scores (P, R, F1), checked to agree."""
    records = semeval_spans(gold, pred)
    scores = semeval_scores(gold, pred)
    out = {}
    for schema in SCHEMAS:
        gold_side, pred_side = (Counter(r[schema] for doc in records for r in doc[side]) for side in ("gold", "pred"))
        assert all(gold_side[c] == pred_side[c] for c in ("COR", "INC", "PAR"))  # a pair's two spans agree
        row = [gold_side[c] for c in ("COR", "INC", "PAR", "MIS")] + [pred_side["SPU"]]
        assert row == [scores[schema][k] for k in ("correct", "incorrect", "partial", "missed", "spurious")]
        out[schema] = [str(n) for n in row] + [f"{scores[schema][k]:.4f}" for k in ("precision", "recall", "f1")]
    return out, records


def _given_tips(page, doc):
    """The SemEval lines of the tooltips of one document's pieces of text."""
    titles = page.locator(f"#doc-{doc} .text span").evaluate_all("spans => spans.map(s => s.title)")
    return {line for title in titles for line in title.split("; ") if line.startswith("SemEval ")}


def _tips_of(records, doc, shift=lambda offset: offset):
    return {f"SemEval {name} {r['label'] or '_'} [{shift(r['start'])}, {shift(r['end'])}): "
            f"strict {r['strict']}, partial {r['partial']}"
            for side, name in (("gold", "gold"), ("pred", "predicted")) for r in records[doc][side]}


def test_semeval_panel_data():
    page = error_report_html(GOLD, PRED, texts=TEXTS)
    data = _data(page)
    assert data["semeval"] == HAND and data["categories"] == list(CATEGORIES)
    assert [len(d["sg"]) for d in data["docs"]] == [3, 2, 3] and [len(d["sp"]) for d in data["docs"]] == [4, 2, 2]
    analysis = analyze_errors(GOLD, PRED, texts=TEXTS)
    assert "sg" not in _data(error_browser.error_page(analysis, TEXTS))["docs"][0]  # no SemEval given: no panel
    with pytest.raises(ValueError, match="SemEval spans of 2 documents for 3"):
        error_browser.error_page(analysis, TEXTS, semeval_records=semeval_spans(GOLD[:2], PRED[:2]))


def test_browser_semeval_panel_hand_checked(browser, report, tmp_path):
    path, analysis = report
    page = _open(browser, path)
    expected, records = _expected_panel(GOLD, PRED)
    assert _panel(page) == expected == {s: [str(v) for v in row[:5]] + [f"{v:.4f}" for v in row[5:]]
                                        for s, row in HAND.items()}
    caption = " ".join(page.locator("#semeval caption").inner_text().split())
    assert "of the spans as given, one to one, not merged" in caption
    assert _counts(page) == {k: analysis.counts[k] for k in ERROR_CLASSES}  # the error classes still the analysis'
    assert _given_tips(page, 0) == _tips_of(records, 0) and _given_tips(page, 2) == _tips_of(records, 2)
    assert "SemEval gold Disease [13, 35): strict INC, partial PAR" in _given_tips(page, 0)
    assert "SemEval predicted Finding [40, 51): strict INC, partial COR" in _given_tips(page, 0)
    emoji = HOSTILE.index("\U0001F600")  # UTF-16 offsets after the emoji, as the highlighting
    assert _given_tips(page, 1) == _tips_of(records, 1, lambda offset: offset + (offset > emoji))
    page.screenshot(path=str(tmp_path / "semeval_panel.png"), full_page=True)
    assert (tmp_path / "semeval_panel.png").stat().st_size > 10_000
    page.close()


def _random_corpus(rng, n_docs):
    """Texts with gold spans and predictions that drop, shift, relabel, split, merge and add spans."""
    texts, gold, pred = [], [], []
    for _ in range(n_docs):
        words = ["".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 9))) for _ in range(rng.integers(5, 30))]
        text = " ".join(words)
        starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
        g, p = [], []
        for k in sorted(rng.choice(len(words), size=rng.integers(0, len(words) // 2 + 1), replace=False)):
            s = int(starts[k])
            e = int(starts[min(k + int(rng.integers(0, 3)), len(words) - 1)] + len(words[min(k + 2, len(words) - 1)]))
            e = max(e, s + 1)
            label = str(rng.choice(["A", "B"]))
            g.append((s, e, label))
            r = rng.random()
            if r < 0.15:
                continue
            if r < 0.3:
                s = min(s + int(rng.integers(1, 3)), e - 1)
            elif r < 0.4:
                label = "B" if label == "A" else "A"
            elif r < 0.5 and e - s > 3:
                p.append((s, (s + e) // 2 - 1, label))
                s = (s + e) // 2
            elif r < 0.6:
                e = min(len(text), e + int(rng.integers(1, 12)))
            p.append((s, e, label))
        if rng.random() < 0.5:
            s = int(rng.integers(0, len(text) - 1))
            p.append((s, min(len(text), s + int(rng.integers(1, 8))), "A"))
        texts.append(text), gold.append(g), pred.append(p)
    return texts, gold, pred


def test_browser_semeval_panel_random_corpus(browser, tmp_path):
    """A random corpus with overlapping, nested and merged spans: the panel equals semeval_spans'
    categories and semeval_scores, the tooltips carry every span's categories, the error classes are
    error_analysis'."""
    texts, gold, pred = _random_corpus(np.random.default_rng(7), 45)
    path = write_error_report(gold, pred, tmp_path / "random.html", texts=texts)
    analysis = analyze_errors(gold, pred, texts=texts)
    expected, records = _expected_panel(gold, pred)
    assert sum(r["partial"] == "PAR" for doc in records for r in doc["gold"]) > 5  # every category occurs
    assert all(expected[s][c] != "0" for s, c in (("strict", 0), ("strict", 1), ("strict", 3), ("strict", 4)))
    page = _open(browser, path)
    assert _panel(page) == expected
    assert _counts(page) == {k: analysis.counts[k] for k in ERROR_CLASSES}
    for doc in range(20):  # the first page of documents
        assert _given_tips(page, doc) == _tips_of(records, doc), doc
    page.locator("#next").click()
    assert _given_tips(page, 20) == _tips_of(records, 20)
    page.screenshot(path=str(tmp_path / "semeval_random.png"), full_page=True)
    page.close()
