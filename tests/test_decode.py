"""Tests for ecr_hf.spans.decode: tolerant decoding of @@...## generations onto source offsets."""

import math
import random
import re
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from ecr_hf.spans import decode
from ecr_hf.spans import DecodeResult, FaithfulnessReport, decode_corpus, decode_marked
from ecr_hf.spans import Span

S = "The patient had high fever and cough."  # "high fever" = [16, 26), "cough" = [31, 36)
GOLD = [Span(16, 26), Span(31, 36)]


def spans_of(result: DecodeResult) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in result.spans]


# ---------------------------------------------------------------- independent slow references


def levenshtein_dp(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def lcs_dp(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for ca in a:
        prev = 0
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if ca == cb else max(row[j], row[j - 1])
    return row[-1]


def render(source: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in spans:
        out += [source[pos:start], "@@", source[start:end], "##"]
        pos = end
    return "".join(out) + source[pos:]


# ---------------------------------------------------------------- one crafted generation per failure


def test_exact_copy_fast_path():
    r = decode_marked("The patient had @@high fever## and @@cough##.", S)
    assert r.spans == GOLD
    assert (r.exact, r.similarity, r.edit_distance, r.length_difference) == (True, 1.0, 0, 0)
    assert (r.n_spans_found, r.n_spans_dropped, r.issues) == (2, 0, [])


def test_insertions_outside_and_inside_spans():
    r = decode_marked("The patient had very @@high grade fever## and @@cough##.", S)
    assert r.spans == GOLD  # inserted text maps to nothing: "very " outside, "grade " inside
    assert (r.exact, r.edit_distance, r.length_difference) == (False, 11, 11)
    assert r.n_spans_adjusted == 1 and r.issues == [
        "span 'high grade fever' at generation offset 21: placed on 'high fever': the generation changed its text"]
    assert r.similarity == pytest.approx(1 - 11 / (48 + 37))


def test_deletions_inside_and_at_span_edge():
    assert spans_of(decode_marked("The patient had @@hgh fever## and @@cough##.", S)) == [(16, 26), (31, 36)]
    # the dropped "h" at the span edge has no generated character: it stays outside the span
    r = decode_marked("The patient had @@igh fever## and @@cough##.", S)
    assert spans_of(r) == [(17, 26), (31, 36)]
    assert (r.edit_distance, r.length_difference) == (1, -1)


def test_substitutions_inside_and_at_span_edges():
    for gen, distance, adjusted in [("The patient had @@high fevar## and @@cough##.", 1, 1),
                                    ("The patient had @@Xigh fever## and @@cougX##.", 2, 2),
                                    ("The patient has @@high fever## and @@cough##!", 2, 0)]:
        r = decode_marked(gen, S)
        assert r.spans == GOLD, gen
        assert (r.edit_distance, r.length_difference, r.n_spans_adjusted) == (distance, 0, adjusted)


def test_whole_word_rewritten_maps_to_the_rewritten_source_word():
    # "sneezing" and "cough" share only a "g": that match is read as part of the rewrite
    r = decode_marked("The patient had @@high fever## and @@sneezing##.", S)
    assert r.spans == GOLD and r.n_spans_adjusted == 1
    r = decode_marked("The patient had @@high temperature## and @@cough##.", S)
    assert r.spans == GOLD and r.n_spans_adjusted == 1


def test_edit_next_to_a_marker_keeps_the_whole_span():
    # the extra character lies outside the span: the span keeps its text, not a shorter one ("ough")
    for gen, source, span in [("fever c@@cough##", "fever cough", (6, 11)),
                              ("x@@xyz## w", "xyz w", (0, 3)),
                              ("fever @@cough##h", "fever cough", (6, 11)),
                              ("a c@@cough##", "a xcough", (3, 8)),  # a substitution right before it
                              ("bab@@b##", "b", (0, 1)),  # the inserted text holds a copy of the span
                              ("c@@c##", "c", (0, 1))]:
        r = decode_marked(gen, source)
        assert spans_of(r) == [span], gen
        assert (r.n_spans_found, r.n_spans_dropped, r.n_spans_adjusted, r.issues) == (1, 0, 0, []), gen
    # a span repeated by the model is still dropped, not moved onto the text of its neighbour
    r = decode_marked("@@fever## @@fever##", "fever")
    assert spans_of(r) == [(0, 5)] and r.n_spans_dropped == 1


def test_markers_copied_from_the_source_are_text():
    r = decode_marked("a @@ b ## c", "a @@ b ## c")
    assert r.spans == [] and r.exact and (r.n_spans_dropped, r.issues) == (0, [])
    # the source has markers and the generation marks a real span elsewhere
    r = decode_marked("a @@ b ## c @@fever##", "a @@ b ## c fever")
    assert spans_of(r) == [(12, 17)] and r.exact and r.n_spans_dropped == 0
    # ... and also edits the copy elsewhere: the copied markers are still text
    r = decode_marked("an @@ b ## c @@fever## now", "a @@ b ## c fever")
    assert spans_of(r) == [(12, 17)] and not r.exact and (r.n_spans_dropped, r.n_spans_adjusted) == (0, 0)
    # a marked span around copied markers, and a chat line above the answer
    r = decode_marked("Sure:\nx @@a @@ b ## c## y", "x a @@ b ## c y")
    assert spans_of(r) == [(2, 13)] and r.exact and r.answer == (6, 25)
    # where the source has no marker, a marker is a marker
    r = decode_marked("@@a## @@ b ## c", "a @@ b ## c")
    assert spans_of(r) == [(0, 1)] and r.exact
    # custom markers, and a corpus with and without markers in its sources
    r = decode_marked("<c>fever</c> and <c> x", "fever and <c> x", open_marker="<c>", close_marker="</c>")
    assert spans_of(r) == [(0, 5)] and r.exact and r.n_spans_dropped == 0
    spans, report = decode_corpus(["a @@ b ## c", "@@a## b", "a @@b##"], ["a @@ b ## c", "a b", "a b"])
    assert spans == [[], [Span(0, 1)], [Span(2, 3)]] and report.n_exact == 3


def test_full_width_and_half_width():
    source = "ＣＲＰが上昇し、発熱を認めた。"
    r = decode_marked("@@CRP##が上昇し、@@発熱##を認めた。", source)
    assert spans_of(r) == [(0, 3), (8, 10)]
    assert (r.exact, r.edit_distance, r.length_difference) == (False, 3, 0)  # measured on raw text
    assert r.similarity == pytest.approx(1 - 6 / 30)  # 3 substitutions = 6 indels, 15 + 15 chars
    source = "CRPが上昇し、発熱を認めた。"
    assert spans_of(decode_marked("@@ＣＲＰ##が上昇し、@@発熱##を認めた。", source)) == [(0, 3), (8, 10)]
    # half-width katakana: "ｶﾞ" is two characters that normalise to "カ" + a combining mark
    assert spans_of(decode_marked("@@ガス##です", "ｶﾞｽです")) == [(0, 3)]


def test_normalisation_matters_where_rewrites_are_uneven():
    # "Ｐ" dropped: under NFKC only the "P" is missing; compared raw, "CR" vs "ＣＲＰ" is an uneven rewrite
    assert spans_of(decode_marked("C@@R##高値", "ＣＲＰ高値")) == [(1, 2)]
    r = decode_marked("C@@R##高値", "ＣＲＰ高値", normalization=None)
    assert r.spans == [] and r.n_spans_dropped == 1 and "rewritten" in r.issues[0]


def test_expanding_normalisation_rounds_outwards_to_raw_characters():
    # NFKC("㈱") == "(株)": one raw character owns three normalised ones
    assert spans_of(decode_marked("@@(株)ABC##", "㈱ABC")) == [(0, 4)]
    assert spans_of(decode_marked("(@@株##)@@ABC##", "㈱ABC")) == [(0, 1), (1, 4)]


def test_unclosed_open_marker_mid_text():
    r = decode_marked("The patient had @@high fever and @@cough##.", S)
    assert spans_of(r) == [(31, 36)]
    assert (r.exact, r.n_spans_found, r.n_spans_dropped) == (True, 1, 1)
    assert r.issues == ["'@@' at generation offset 16 is never closed"]


def test_close_marker_never_opened():
    r = decode_marked("The patient had high fever## and @@cough##.", S)
    assert spans_of(r) == [(31, 36)]
    assert r.n_spans_dropped == 1 and r.issues == ["'##' at generation offset 26 closes no '@@'"]


def test_nested_markers_keep_the_outer_span():
    r = decode_marked("The patient had @@high @@fever## and cough##.", S)
    assert spans_of(r) == [(16, 36)]
    assert r.n_spans_dropped == 1 and "nested" in r.issues[0] and "offset 23" in r.issues[0]
    r = decode_marked("@@@@fever####", "fever")  # doubled markers
    assert spans_of(r) == [(0, 5)] and r.n_spans_dropped == 1


def test_truncated_generation_with_unclosed_marker():
    r = decode_marked("The patient had @@high fever## and @@cou", S)
    assert spans_of(r) == [(16, 26)]
    assert r.n_spans_dropped == 1 and "never closed" in r.issues[0]
    assert (r.exact, r.edit_distance, r.length_difference) == (False, 3, -3)


def test_chat_text_around_the_answer():
    gen = "Sure, here is the output:\nThe patient had @@high fever## and @@cough##.\nHope this helps"
    r = decode_marked(gen, S)
    assert r.spans == GOLD and r.exact and r.answer == (26, 71)
    assert gen[r.answer[0]:r.answer[1]] == "The patient had @@high fever## and @@cough##."
    raw = decode_marked(gen, S, strip_chat=False)
    assert raw.spans == GOLD and not raw.exact and raw.length_difference == len(gen) - 8 - len(S)
    # a line break the model added inside a multi-line answer is not mistaken for chat
    source = "Line one: fever.\nLine two: cough."
    gen = "Line one: @@fever##.\nLine two:\n@@cough##."
    r = decode_marked(gen, source)
    assert spans_of(r) == [(10, 15), (27, 32)] and r.answer == (0, len(gen)) and r.edit_distance == 1
    # markers inside chat lines are ignored, not counted as dropped spans
    r = decode_marked("I marked concepts with @@ and ##:\n\nThe patient had @@high fever## and cough.", S)
    assert spans_of(r) == [(16, 26)] and r.n_spans_dropped == 0 and r.exact


def test_empty_generation_and_empty_source():
    r = decode_marked("", S)
    assert r.spans == [] and not r.exact
    assert (r.similarity, r.edit_distance, r.length_difference, r.n_spans_dropped) == (0.0, 37, -37, 0)
    r = decode_marked("", "")
    assert r.exact and r.similarity == 1.0
    r = decode_marked("@@fever##", "")
    assert r.spans == [] and r.n_spans_dropped == 1 and "no counterpart" in r.issues[0]


def test_boundary_inside_uneven_rewrite_is_dropped():
    # "high" -> "hXYZh": the opening marker sits inside a 3-for-2 rewrite
    r = decode_marked("The patient had hXY@@Zh fever## and @@cough##.", S)
    assert spans_of(r) == [(31, 36)]
    assert r.n_spans_dropped == 1 and r.issues == [
        "span 'Zh fever' at generation offset 19: a boundary falls inside rewritten text"]


def test_hallucinated_and_duplicated_spans_are_dropped():
    r = decode_marked("The patient had @@high fever## and @@cough## with @@rash##.", S)
    assert r.spans == GOLD
    assert r.n_spans_dropped == 1
    assert r.issues == ["span 'rash' at generation offset 50: its text has no counterpart in the source"]
    r = decode_marked("@@fever## @@fever##", "fever")
    assert spans_of(r) == [(0, 5)] and r.n_spans_dropped == 1


def test_empty_span_label_and_custom_markers():
    r = decode_marked("@@##The patient had <c>high fever</c> and cough.", S, open_marker="<c>",
                      close_marker="</c>", label="Disease")
    assert r.spans == [Span(16, 26, "Disease")]  # "@@##" is inserted text under these markers
    assert (r.exact, r.length_difference, r.n_spans_dropped) == (False, 4, 0)
    r = decode_marked("@@##The patient had high fever and cough.", S)
    assert r.spans == [] and r.exact and r.issues == ["span at generation offset 0 is empty"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="neither may contain the other"):
        decode_marked("x", "x", open_marker="@@", close_marker="@@")
    with pytest.raises(ValueError, match="non-empty"):
        decode_marked("x", "x", close_marker="")
    with pytest.raises(ValueError, match="normalization must be one of"):
        decode_marked("x", "x", normalization="NFX")
    with pytest.raises(TypeError, match="must be str, got NoneType"):
        decode_marked(None, "x")
    with pytest.raises(ValueError, match="got 2 generations but 1 sources"):
        decode_corpus(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="document 1: generation and source must be str, got int"):
        decode_corpus(["a", 3], ["a", "b"])


# ---------------------------------------------------------------- corpus report (Table S18)


def test_corpus_report_by_hand():
    gens = ["@@fever## today", "@@cough## ", "@@rash"]
    srcs = ["fever today", "cough", "a rash"]
    spans, report = decode_corpus(gens, srcs, label="C")
    assert spans == [[Span(0, 5, "C")], [Span(0, 5, "C")], []]
    # mismatches: "cough " (Levenshtein 1, +1 char, similarity 1 - 1/11) and "rash" (2, -2, 1 - 2/10)
    assert report == FaithfulnessReport(
        n_documents=3, n_exact=1, exact_match_rate=pytest.approx(1 / 3),
        mean_similarity=pytest.approx((10 / 11 + 0.8) / 2), mean_edit_distance=1.5,
        mean_length_difference=-0.5, n_spans_found=2, n_spans_dropped=1, n_spans_adjusted=0, n_capped=0)
    logged = report.to_dict()
    assert logged["faithfulness_mean_edit_distance"] == 1.5 and logged["faithfulness_n_spans_dropped"] == 1.0
    assert all(k.startswith("faithfulness_") and isinstance(v, float) for k, v in logged.items())
    assert set(report.to_dict(prefix="eval_")) == {"eval_" + k[len("faithfulness_"):] for k in logged}


def test_corpus_report_all_exact_has_no_mismatch_means():
    _, report = decode_corpus(["@@a## b"], ["a b"])
    assert report.exact_match_rate == 1.0 and math.isnan(report.mean_similarity)
    assert math.isnan(report.mean_edit_distance) and math.isnan(report.mean_length_difference)


# ---------------------------------------------------------------- long documents: anchored alignment

OUT_LONG = "abcdefghijklmnopqrstuvwxyz ,.の患者は"


def test_long_document_anchored_alignment_recovers_spans():
    rng = random.Random(7)
    source = "".join(rng.choice(OUT_LONG) for _ in range(20_000))
    spans = [(s, s + rng.randint(3, 12)) for s in range(40, 19_900, 97)]
    gen, protected, pos = [], [], 0  # protected: span text and markers, never edited
    for start, end in spans:
        piece = "@@" + source[start:end] + "##"
        gen += source[pos:start] + piece
        protected += [False] * (start - pos) + [True] * len(piece)
        pos = end
    gen += source[pos:]
    protected += [False] * (len(source) - pos)
    for _ in range(200):  # ~1% edits, outside spans
        k = rng.randrange(1, len(gen) - 1)
        if protected[k - 1] or protected[k] or protected[k + 1]:
            continue
        op = rng.randrange(3)
        if op == 0:
            gen.insert(k, rng.choice(OUT_LONG))
            protected.insert(k, False)
        elif op == 1:
            del gen[k], protected[k]
        else:
            gen[k] = rng.choice(OUT_LONG)
    gen = "".join(gen)
    stripped = gen.replace("@@", "").replace("##", "")
    assert len(stripped) * len(source) >= decode._ANCHOR_MIN_CELLS
    with mock.patch.object(decode, "_anchors", wraps=decode._anchors) as anchors:
        r = decode_marked(gen, source)
    assert anchors.call_count == 1
    assert spans_of(r) == spans and r.n_spans_dropped == 0
    assert r.edit_distance == Levenshtein.distance(stripped, source)
    assert r.length_difference == len(stripped) - len(source)
    with mock.patch.object(decode, "_ANCHOR_MIN_CELLS", math.inf):  # plain alignment agrees
        plain = decode_marked(gen, source)
    assert plain.spans == r.spans and plain.similarity == r.similarity


# ---------------------------------------------------------------- properties

OUT = "ab c。、の患者"  # text outside spans (and every inserted character)
SPAN_CHARS = "発熱咳嗽痛腫脹𠮷😀ABCDEFGHIJKLMN"  # disjoint from OUT; includes non-BMP characters
GUARD = 3  # unedited characters kept on each side of a span


@st.composite
def edited_outside_spans(draw):
    """A source with spans of distinct characters, and its marked copy edited outside the spans."""
    n = draw(st.integers(0, 4))
    chars = draw(st.permutations(SPAN_CHARS))
    sizes = [draw(st.integers(1, 3)) for _ in range(n)]
    span_texts = ["".join(chars[sum(sizes[:t]):sum(sizes[:t + 1])]) for t in range(n)]
    gaps = [list(draw(st.text(OUT, min_size=2 * GUARD if 0 < t < n else GUARD, max_size=14)))
            for t in range(n + 1)]
    source_gaps = ["".join(g) for g in gaps]
    for _ in range(draw(st.integers(0, 3))):
        t = draw(st.integers(0, n))
        lo = GUARD if t > 0 else 0  # editable window of gap t, away from the spans around it
        hi = len(gaps[t]) - (GUARD if t < n else 0)
        if hi < lo:
            continue
        k = draw(st.integers(lo, hi))
        op = draw(st.sampled_from(["insert", "delete", "substitute"]))
        if op == "insert":
            gaps[t].insert(k, draw(st.sampled_from(OUT)))
        elif k < hi:
            if op == "delete":
                del gaps[t][k]
            else:
                gaps[t][k] = draw(st.sampled_from(OUT))
    source, gen, expected = "", "", []
    for t in range(n):
        source += source_gaps[t]
        gen += "".join(gaps[t]) + "@@" + span_texts[t] + "##"
        expected.append((len(source), len(source) + len(span_texts[t])))
        source += span_texts[t]
    return gen + "".join(gaps[n]), source + source_gaps[n], expected


def check_invariants(r: DecodeResult, gen: str, source: str) -> None:
    spans = spans_of(r)
    assert spans == sorted(spans)
    assert all(0 <= s < e <= len(source) for s, e in spans)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))  # no overlaps
    assert r.n_spans_found == len(spans)
    answer = re.sub("@@|##", "", gen[r.answer[0]:r.answer[1]])  # one left-to-right pass
    assert r.exact == (answer == source)
    assert r.edit_distance == levenshtein_dp(answer, source)
    total = len(answer) + len(source)
    assert r.similarity == pytest.approx(2 * lcs_dp(answer, source) / total if total else 1.0)
    assert r.length_difference == len(answer) - len(source)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(edited_outside_spans())
def test_edits_outside_spans_recover_every_span_exactly(case):
    gen, source, expected = case
    r = decode_marked(gen, source)
    assert spans_of(r) == expected and r.n_spans_dropped == 0
    check_invariants(r, gen, source)


@FAST
@given(edited_outside_spans())
def test_edits_outside_spans_anchored_path(case):
    gen, source, expected = case
    with mock.patch.object(decode, "_ANCHOR_MIN_CELLS", 0), mock.patch.object(decode, "_ANCHOR_K", 4):
        r = decode_marked(gen, source)
    assert spans_of(r) == expected and r.n_spans_dropped == 0
    check_invariants(r, gen, source)


ANY = OUT + SPAN_CHARS[:4] + "@#\n(株)Pカ"
WIDE = "㈱ｶﾞＰ"  # characters whose NFKC form differs, two of them longer


@st.composite
def edited_anywhere(draw):
    source = draw(st.text(OUT + SPAN_CHARS[:6] + WIDE, max_size=30))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(source)), max_size=8))))
    spans = [(s, e) for s, e in zip(cuts[0::2], cuts[1::2]) if s < e]
    gen = list(render(source, spans))
    for _ in range(draw(st.integers(0, 6))):  # anywhere, markers included
        k = draw(st.integers(0, len(gen)))
        op = draw(st.sampled_from(["insert", "delete", "substitute"]))
        if op == "insert":
            gen.insert(k, draw(st.sampled_from(ANY)))
        elif k < len(gen):
            if op == "delete":
                del gen[k]
            else:
                gen[k] = draw(st.sampled_from(ANY))
    return "".join(gen), source


@FAST
@given(edited_anywhere())
def test_edits_anywhere_keep_spans_inside_the_source(case):
    gen, source = case
    check_invariants(decode_marked(gen, source), gen, source)


@FAST
@given(st.text(OUT + SPAN_CHARS, max_size=40), st.lists(st.integers(0, 40), max_size=8))
def test_exact_copies_are_exact(source, cuts):
    cuts = sorted({min(c, len(source)) for c in cuts})
    spans = [(s, e) for s, e in zip(cuts[0::2], cuts[1::2]) if s < e]
    r = decode_marked(render(source, spans), source)
    assert spans_of(r) == spans
    assert (r.exact, r.similarity, r.edit_distance, r.length_difference, r.n_spans_dropped) == (True, 1.0, 0, 0, 0)


@FAST
@given(st.lists(edited_anywhere(), max_size=6), st.randoms(use_true_random=False))
def test_corpus_batch_matches_one_by_one_in_any_order(cases, rnd):
    gens, sources = [g for g, _ in cases], [s for _, s in cases]
    one_by_one = [decode_marked(g, s) for g, s in cases]
    spans, report = decode_corpus(gens, sources)
    assert spans == [r.spans for r in one_by_one]
    assert report.to_dict() == pytest.approx(FaithfulnessReport.from_results(one_by_one).to_dict(), nan_ok=True)
    order = list(range(len(cases)))
    rnd.shuffle(order)
    with mock.patch.object(decode, "_BATCH", 2):  # split into batches of two documents
        shuffled, _ = decode_corpus([gens[k] for k in order], [sources[k] for k in order])
    assert shuffled == [spans[k] for k in order]


NEAR = "ab c"  # one small alphabet for the source, the spans and the edits: edits copy span characters


@st.composite
def edited_next_to_spans(draw):
    """A source, its marked copy edited only outside the spans (right next to markers too), the span texts."""
    source = draw(st.text(NEAR, min_size=1, max_size=30))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(source)), max_size=8))))
    spans = [(s, e) for s, e in zip(cuts[0::2], cuts[1::2]) if s < e]
    outside = [list(source[e:s]) for e, s in zip([0] + [e for _, e in spans], [s for s, _ in spans] + [len(source)])]
    for _ in range(draw(st.integers(1, 4))):
        gap = outside[draw(st.integers(0, len(spans)))]
        k = draw(st.integers(0, len(gap)))  # 0 and len(gap): right next to a marker
        op = draw(st.sampled_from(["insert", "delete", "substitute"]))
        if op == "insert":
            gap.insert(k, draw(st.sampled_from(NEAR)))
        elif k < len(gap):
            if op == "delete":
                del gap[k]
            else:
                gap[k] = draw(st.sampled_from(NEAR))
    marked = ["@@" + source[s:e] + "##" for s, e in spans] + [""]
    return "".join("".join(g) + m for g, m in zip(outside, marked)), source, [source[s:e] for s, e in spans]


NEAR_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@NEAR_SETTINGS
@given(edited_next_to_spans())
def test_edits_next_to_markers_keep_every_span_text(case):
    gen, source, texts = case
    r = decode_marked(gen, source)
    assert_span_texts_kept(r, source, texts)
    check_invariants(r, gen, source)


def assert_span_texts_kept(r: DecodeResult, source: str, texts: list[str]) -> None:
    """Every decoded span has its marked text; none is adjusted; any other is dropped and counted.

    (A drop remains possible in contrived cases where the model inserted several copies of a span's
    text around it: one in 3,000 random examples over a two-letter alphabet, none in 12,000 over NEAR.)
    """
    remaining = iter(texts)
    assert all(any(source[s.start:s.end] == t for t in remaining) for s in r.spans)
    assert r.n_spans_found + r.n_spans_dropped == len(texts) and r.n_spans_adjusted == 0


@settings(NEAR_SETTINGS, max_examples=200)
@given(edited_next_to_spans())
def test_edits_next_to_markers_keep_every_span_text_banded_path(case):
    gen, source, texts = case
    # no anchors: the whole text is one stretch, aligned in a band (Levenshtein.opcodes with a hint)
    with mock.patch.object(decode, "_ANCHOR_MIN_CELLS", 0), mock.patch.object(decode, "_anchors", lambda *_: []):
        r = decode_marked(gen, source)
    assert_span_texts_kept(r, source, texts)


# ---------------------------------------------------------------- max_cells: bounded cost


class Cells:
    """Wraps a rapidfuzz metric and records the matrix cells each call may evaluate."""

    def __init__(self, metric):
        self.metric, self.cells = metric, []

    def opcodes(self, a, b, score_hint=None):
        if score_hint is None:
            self.cells.append(len(a) * len(b))
            return self.metric.opcodes(a, b)
        self.cells.append(max(len(a), len(b)) * score_hint)  # a band of the hinted distance
        return self.metric.opcodes(a, b, score_hint=score_hint)

    def distance(self, a, b, score_cutoff):
        self.cells.append(min(len(a) * len(b), max(len(a), len(b)) * score_cutoff))
        return self.metric.distance(a, b, score_cutoff=score_cutoff)


@pytest.fixture
def cells():
    indel, levenshtein = Cells(decode.Indel), Cells(decode.Levenshtein)
    with mock.patch.object(decode, "Indel", indel), mock.patch.object(decode, "Levenshtein", levenshtein):
        yield lambda: indel.cells + levenshtein.cells


def random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(OUT_LONG) for _ in range(n))


def marked_interior(rng: random.Random, text: str, offset: int) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with spans marked every ~97 characters away from its ends, and their offsets + offset."""
    spans = [(s, s + rng.randint(3, 12)) for s in range(20, len(text) - 40, 97)]
    return render(text, spans), [(s + offset, e + offset) for s, e in spans]


def test_max_cells_drops_the_spans_of_unrelated_text_and_counts_them(cells):
    rng = random.Random(3)
    gen, source = "@@" + random_text(rng, 5) + "##" + random_text(rng, 395), random_text(rng, 400)
    r = decode_marked(gen, source, max_cells=10_000)
    assert r.spans == [] and r.capped and (r.n_spans_found, r.n_spans_dropped) == (0, 1)
    assert math.isnan(r.similarity) and r.edit_distance is None and r.length_difference == 0
    assert "a stretch of 400 x 400 characters too different to align within max_cells=10000" in r.issues[0]
    assert r.issues[1:] == [
        "1 stretch(es) of the texts too different to align within max_cells=10000: spans there are dropped",
        "similarity and edit distance not computed: the texts (400 and 400 characters) differ too much for "
        "max_cells=10000"]
    assert max(cells()) <= 10_000
    # a corpus: the capped document is counted, and left out of the distance means
    _, report = decode_corpus([gen, "@@fever## x"], [source, "fever"], max_cells=10_000)
    assert (report.n_capped, report.n_spans_found, report.n_spans_dropped) == (1, 1, 1)
    assert report.mean_edit_distance == 2 and report.mean_similarity == pytest.approx(1 - 2 / 12)
    assert report.mean_length_difference == 1.0  # over both mismatches: 0 and +2
    # within the default cap the same document is aligned and measured exactly
    r = decode_marked(gen, source)
    assert not r.capped and r.edit_distance == Levenshtein.distance(gen[2:7] + gen[9:], source)


def test_max_cells_keeps_the_spans_where_anchors_exist(cells):
    rng = random.Random(5)
    a, x, y, c = (random_text(rng, n) for n in (6000, 2000, 2000, 6000))
    gen_a, spans_a = marked_interior(rng, a, 0)
    gen_y, spans_y = marked_interior(rng, y, 0)
    gen_c, spans_c = marked_interior(rng, c, len(a) + len(x))
    # the model rewrote x as the unrelated y: 2,000 x 2,000 characters, more than max_cells
    r = decode_marked(gen_a + gen_y + gen_c, a + x + c, max_cells=1_000_000)
    assert spans_of(r) == spans_a + spans_c
    assert r.capped and (r.n_spans_dropped, r.n_spans_adjusted) == (len(spans_y), 0)
    assert all("a stretch of 2000 x 2000 characters too different" in i for i in r.issues[:decode._MAX_ISSUES])
    assert max(cells()) <= 1_000_000


def test_repetitive_long_text_is_aligned_in_a_band(cells):
    # one sentence repeated has no unique k-gram to anchor on; one edit per 1,000 characters
    sentence = "The patient had high fever and cough; CRP was elevated. "
    source = (sentence * 400)[:20_000]
    spans = [(s, s + 7) for s in range(30, 19_950, 97)]
    gen = list(render(source, spans))
    for k in range(len(gen) - 500, 0, -1000):
        while "@" in gen[k - 2:k + 3] or "#" in gen[k - 2:k + 3]:  # keep two characters off the spans
            k += 5
        gen[k] = "X"
    gen = "".join(gen)
    assert decode._anchors(gen.replace("@@", "").replace("##", ""), source, decode._ANCHOR_K) == []
    r = decode_marked(gen, source)
    stripped = gen.replace("@@", "").replace("##", "")
    assert spans_of(r) == spans and (r.n_spans_dropped, r.n_spans_adjusted, r.capped) == (0, 0, False)
    assert r.edit_distance == Levenshtein.distance(stripped, source) == sum(map("X".__eq__, gen))
    assert max(cells()) <= decode.MAX_CELLS < len(stripped) * len(source)


def test_lone_surrogates_are_characters_on_every_path():
    # a lone surrogate ("\\ud800", a valid JSON escape) is one code point, in anchored and banded paths too
    rng = random.Random(2)
    source = "".join(rng.choice(OUT_LONG + "\ud800\udfff") for _ in range(5000))
    gen, spans = marked_interior(rng, source, 0)
    gen = gen[:100] + "\udc00" + gen[100:]  # one insertion, outside the spans
    assert len(gen) * len(source) >= decode._ANCHOR_MIN_CELLS
    r = decode_marked(gen, source)
    assert spans_of(r) == spans and r.edit_distance == 1
    repetitive = "fever \ud800 cough " * 300
    with mock.patch.object(decode, "_anchors", lambda *_: []):
        r = decode_marked("X" + render(repetitive, [(6, 7)]), repetitive)
    assert spans_of(r) == [(6, 7)] and r.edit_distance == 1


def test_max_cells_must_be_a_positive_int():
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(ValueError, match="max_cells must be a positive int"):
            decode_marked("x", "y", max_cells=bad)
    with pytest.raises(ValueError, match="max_cells must be a positive int"):
        decode_corpus(["x"], ["y"], max_cells=0)
