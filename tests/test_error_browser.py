"""The error browser page (ecr_hf.error_browser): written atomically, self-contained, text escaped; in
headless Chromium (Debian's package, driven by Playwright): counts, filters, order, navigation."""

import doctest
import json
import re

import pytest

from ecr_hf.error_analysis import ERROR_CLASSES, analyze_errors
from ecr_hf import error_browser
from ecr_hf.error_browser import error_report_html, write_error_report
from ecr_hf.outputs import OutputExistsError


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
