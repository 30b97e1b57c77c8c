"""ecr_hf.corpora: every format read to the one span model and written back (round trips of files
the tests write, real NCBI-disease PubTator and Ada BioC JSON against the shared JSONL), and the
errors that name the file and the annotation."""

import json

import pytest

from ecr_hf.corpora import (CorpusError, detect_format, format_bioc_xml, format_pubtator, load_corpus, read_brat,
                            read_corpus, read_pubtator, save_corpus, write_brat)
from ecr_hf.utils import OutputExistsError
from ecr_hf.spans import SpanError

from conftest import SHARED_DATA, needs_shared_data

NCBI = SHARED_DATA / "ncbi_disease"
ADA = SHARED_DATA / "ada_case_reports"
needs_data = needs_shared_data("ncbi_disease")
needs_ada = needs_shared_data("ada_case_reports")

# A text with a non-BMP character (one code point, two UTF-16 units, four UTF-8 bytes) and a CRLF.
TEXT = "Chest 😀 pain and fever.\r\nNo cough, mild headache."
CHEST_PAIN = (0, 12)  # 'Chest 😀 pain'
FEVER = (17, 22)


def spans(doc):
    return [(e["start"], e["end"], e["label"]) for e in doc["entities"]]


# --------------------------------------------------------------------------- BRAT

ANN = ("T1\tFinding 0 12\tChest 😀 pain\n"
       "T2\tFinding 17 22\tfever\n"
       "T3\tFinding 28 33;40 48\tcough headache\n"
       "R1\tCo-occurs Arg1:T1 Arg2:T2\n"
       "A1\tNegated T3\n"
       "#1\tAnnotatorNotes T1\tsmiley kept on purpose\n")


def brat_folder(tmp_path, ann=ANN, text=TEXT, name="doc1"):
    folder = tmp_path / "brat"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_bytes(text.encode("utf-8"))
    (folder / f"{name}.ann").write_bytes(ann.encode("utf-8"))
    (folder / "sub" / "doc2.txt").write_bytes(b"no findings")
    (folder / "sub" / "doc2.ann").write_bytes(b"")
    (folder / "README.txt").write_bytes(b"a .txt without .ann is not a document")
    (folder / "._doc1.ann").write_bytes(b"\x00\x05\x16\x07 macOS metadata: hidden files are skipped")
    return folder


def test_brat_reads_code_points_crlf_discontinuous_and_keeps_other_lines(tmp_path):
    docs = read_brat(brat_folder(tmp_path))
    assert [d["doc_id"] for d in docs] == ["doc1", "sub/doc2"]
    doc = docs[0]
    assert doc["text"] == TEXT  # \r\n kept: two code points, as brat counts them
    assert spans(doc) == [(0, 12, "Finding"), (17, 22, "Finding"), (28, 33, "Finding"), (40, 48, "Finding")]
    assert [e["text"] for e in doc["entities"]] == ["Chest 😀 pain", "fever", "cough", "headache"]
    assert [e["id"] for e in doc["entities"]] == ["T1", "T2", "T3", "T3"]  # split fragments share the id
    assert [e.get("fragment") for e in doc["entities"]] == [None, None, 0, 1]
    assert doc["ann_lines"] == ANN.splitlines()[3:]
    assert docs[1]["entities"] == []


def test_brat_round_trip_gives_the_same_bytes(tmp_path):
    folder = brat_folder(tmp_path)
    (folder / "README.txt").unlink()
    (folder / "._doc1.ann").unlink()
    (folder / "doc1.ann").write_bytes(b"\xef\xbb\xbf" + ANN.encode("utf-8"))  # a BOM in the .ann is not a line
    assert read_brat(folder)[0]["ann_lines"] == ANN.splitlines()[3:]
    (folder / "doc1.ann").write_bytes(ANN.encode("utf-8"))
    docs = read_brat(folder)
    out = write_brat(docs, tmp_path / "again")
    for name in ("doc1.txt", "doc1.ann", "sub/doc2.txt", "sub/doc2.ann"):
        assert (out / name).read_bytes() == (folder / name).read_bytes(), name
    assert read_brat(out) == docs
    joined = read_brat(folder, discontinuous="join")  # join keeps the fragments, so it writes back the same
    assert spans(joined[0])[2] == (28, 48, "Finding") and joined[0]["entities"][2]["fragments"] == [[28, 33], [40, 48]]
    assert (write_brat(joined, tmp_path / "joined") / "doc1.ann").read_bytes() == (folder / "doc1.ann").read_bytes()
    with pytest.raises(OutputExistsError):
        write_brat(docs, out)


def test_brat_discontinuous_error_names_the_annotation(tmp_path):
    folder = brat_folder(tmp_path)
    with pytest.raises(CorpusError, match=r"doc1\.ann:3: annotation T3: a discontinuous annotation"):
        read_brat(folder, discontinuous="error")
    with pytest.raises(ValueError, match="discontinuous must be one of"):
        read_brat(folder, discontinuous="merge")


@pytest.mark.parametrize("line, message", [
    ("T1\tFinding 0 11\tChest 😀 pain", r"doc1\.ann:1: annotation T1: its text field 'Chest 😀 pain' differs from "
                                       r"the text at 0 11: 'Chest 😀 pai'"),
    ("T1\tFinding 0 13\tChest 😀 pain", "differs from the text at 0 13"),  # UTF-16 counting is off by one here
    ("T1\tFinding 40 99\tx", r"doc1\.ann:1: annotation T1: .*end 99 is past the end of the text \(length 49\)"),
    ("T1\tFinding 5 2\tx", r"doc1\.ann:1: annotation T1: .*start 5 >= end 2"),
    ("T1\tFinding 0 x\tChest", r"doc1\.ann:1: annotation T1: expected 'T<n><TAB><label> <start> <end>"),
])
def test_brat_errors_name_the_file_line_and_annotation(tmp_path, line, message):
    with pytest.raises(CorpusError, match=message):
        read_brat(brat_folder(tmp_path, ann=line + "\n"))


def test_brat_missing_text_file_and_bad_doc_ids(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "a.ann").write_text("")
    with pytest.raises(CorpusError, match=r"a\.ann: no text file a\.txt beside it"):
        read_brat(folder)
    for doc_id in ("../up", "/abs", "https://host/PMC1/", ".hidden"):  # each would read back as another doc_id
        with pytest.raises(CorpusError, match="a doc_id becomes a file path here"):
            write_brat([{"doc_id": doc_id, "text": "x", "entities": []}], tmp_path / "out")
    out = write_brat([{"doc_id": "PMC1.v2", "text": "x", "entities": []}], tmp_path / "dots")
    assert read_brat(out)[0]["doc_id"] == "PMC1.v2" and read_brat(out / "PMC1.v2.txt")[0]["doc_id"] == "PMC1.v2"
    with pytest.raises(CorpusError, match="BRAT labels are single words"):
        write_brat([{"doc_id": "a", "text": "xy", "entities": [{"start": 0, "end": 1, "label": "two words"}]}],
                   tmp_path / "out")


# --------------------------------------------------------------------------- PubTator

PUBTATOR = ("123|t|Chest 😀 pain in adults\n"
            "123|a|Fever with cough.\n"
            "123\t0\t12\tChest 😀 pain\tFinding\tC0008031\n"
            "123\t23\t28\tFever\tFinding\tC0015967\textra\n"
            "123\tCID\tC1\tC2\n"
            "\n"
            "456|t|No findings.\n"
            "456|a|\n")


def test_pubtator_round_trip_and_code_points(tmp_path):
    path = tmp_path / "x.pubtator"
    path.write_bytes(PUBTATOR.encode("utf-8"))
    docs = read_pubtator(path)
    assert [d["doc_id"] for d in docs] == ["123", "456"]
    assert docs[0]["text"] == "Chest 😀 pain in adults Fever with cough."  # title + " " + abstract
    assert docs[1]["text"] == "No findings."  # no abstract: no space
    assert spans(docs[0]) == [(0, 12, "Finding"), (23, 28, "Finding")]
    assert docs[0]["entities"][1]["id"] == "C0015967" and docs[0]["entities"][1]["columns"] == ["extra"]
    assert docs[0]["relations"] == [["CID", "C1", "C2"]]
    assert format_pubtator(docs) == PUBTATOR
    save_corpus(docs, tmp_path / "y.pubtator")
    assert (tmp_path / "y.pubtator").read_bytes() == path.read_bytes()
    assert read_corpus(tmp_path / "y.pubtator") == docs
    crlf = tmp_path / "crlf.pubtator"  # Windows line ends are not text
    crlf.write_bytes(PUBTATOR.replace("\n", "\r\n").encode("utf-8"))
    assert read_pubtator(crlf) == docs


@pytest.mark.parametrize("bad, message", [
    ("123\t0\t12\tChest 😀 pai\tFinding", r"x\.pubtator:3: PMID 123: the mention 'Chest 😀 pai' differs from the "
                                         r"text at \[0, 12\): 'Chest 😀 pain'"),
    ("123\t30\t99\tx\tFinding", r"x\.pubtator:3: PMID 123: .*end 99 is past the end of the text"),
    ("124\t0\t5\tChest\tFinding", r"x\.pubtator:3: PMID 123: the line .* names PMID '124'"),
    ("123\t0\tx\tChest\tFinding", r"x\.pubtator:3: PMID 123: expected 'PMID<TAB>start<TAB>end"),
])
def test_pubtator_errors_name_the_line_and_pmid(tmp_path, bad, message):
    path = tmp_path / "x.pubtator"
    path.write_text("123|t|Chest 😀 pain in adults\n123|a|Fever.\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        read_pubtator(path)


def test_pubtator_writer_refuses_what_the_format_cannot_hold():
    with pytest.raises(CorpusError, match="holds a line break"):
        format_pubtator([{"doc_id": "1", "text": "two\nlines", "entities": []}])
    with pytest.raises(CorpusError, match=r"entity 0 has text 'Chest' but the text at \[0, 3\) is 'Che'"):
        format_pubtator([{"doc_id": "1", "text": "Chest", "entities": [{"start": 0, "end": 3, "label": "A",
                                                                          "text": "Chest"}]}])


@needs_data
def test_pubtator_reads_ncbi_disease_as_the_shared_jsonl_and_writes_it_back():
    """The development set: equal to ncbi_disease.pubtator.jsonl's devel lines (which were built from
    it), and written back byte for byte (the original starts with one blank line)."""
    original = NCBI / "original-data" / "NCBIdevelopset_corpus.txt"
    assert detect_format(original) == "pubtator"
    docs = read_corpus(original, split="devel")
    shared = [json.loads(line) for line in (NCBI / "ncbi_disease.pubtator.jsonl").open(encoding="utf-8")]
    shared = [d for d in shared if d["split"] == "devel"]
    assert len(docs) == len(shared) == 100
    assert [{k: v for k, v in d.items() if k != "passages"} for d in docs] == shared
    assert "\n" + format_pubtator(docs) == original.read_text(encoding="utf-8")


def test_concept_ids_never_group_mentions_into_one_annotation(tmp_path):
    """PubTator's "id" is a concept id that distinct mentions share; only the numbered fragments of
    a split read are grouped back into one annotation."""
    path = tmp_path / "x.pubtator"
    path.write_text("7|t|APC, adenomatous polyposis coli\n7|a|\n7\t0\t3\tAPC\tDisease\tD011125\n"
                    "7\t5\t31\tadenomatous polyposis coli\tDisease\tD011125\n", encoding="utf-8")
    docs = read_pubtator(path)
    for fmt, name in (("brat", "b"), ("bioc-xml", "b.xml"), ("bioc-json", "b.json")):
        out = save_corpus(docs, tmp_path / name, fmt)
        assert spans(read_corpus(out, discontinuous="error")[0]) == [(0, 3, "Disease"), (5, 31, "Disease")], fmt
    assert (tmp_path / "b" / "7.ann").read_text().splitlines()[1].startswith("T2\tDisease 5 31\t")


@needs_data
def test_pubtator_keeps_the_ncbi_mention_with_trailing_spaces():
    docs = {d["doc_id"]: d for d in read_corpus(NCBI / "original-data" / "NCBItrainset_corpus.txt")}
    odd = [e for e in docs["10923035"]["entities"] if "mention_in_file" in e]
    assert [(e["start"], e["end"], e["mention_in_file"][-3:]) for e in odd] == [(711, 761, '"  ')]
    assert f'\t{odd[0]["mention_in_file"]}\t' in format_pubtator([docs["10923035"]])


# --------------------------------------------------------------------------- BioC

BIOC_XML = """<?xml version='1.0' encoding='UTF-8'?>
<!DOCTYPE collection SYSTEM "BioC.dtd">
<collection>
  <source>test</source>
  <date>2026</date>
  <key>k</key>
  <document>
    <id>d1</id>
    <infon key="journal">J</infon>
    <passage>
      <infon key="type">title</infon>
      <offset>0</offset>
      <text>Chest 😀 pain</text>
      <annotation id="A1">
        <infon key="type">Finding</infon>
        <infon key="identifier">C0008031</infon>
        <location offset="0" length="12"/>
        <text>Chest 😀 pain</text>
      </annotation>
    </passage>
    <passage>
      <infon key="type">abstract</infon>
      <offset>13</offset>
      <text>Fever &amp; cough.&#13;
Mild headache.</text>
      <annotation id="A2">
        <infon key="type">Finding</infon>
        <location offset="13" length="5"/>
        <location offset="21" length="5"/>
        <text>Fever cough</text>
      </annotation>
    </passage>
    <relation id="R1">
      <infon key="type">co-occurs</infon>
      <node refid="A1" role="first"/>
      <node refid="A2" role="second"/>
    </relation>
  </document>
</collection>
"""


def test_bioc_xml_fills_gaps_with_spaces_and_round_trips(tmp_path):
    path = tmp_path / "x.xml"
    path.write_bytes(BIOC_XML.encode("utf-8"))
    assert detect_format(path) == "bioc-xml"
    doc, = read_corpus(path)
    assert doc["text"] == "Chest 😀 pain Fever & cough.\r\nMild headache."
    assert spans(doc) == [(0, 12, "Finding"), (13, 18, "Finding"), (21, 26, "Finding")]
    assert doc["entities"][0]["infons"] == {"identifier": "C0008031"}
    assert doc["passages"] == [{"offset": 0, "length": 12, "infons": {"type": "title"}},
                               {"offset": 13, "length": 30, "infons": {"type": "abstract"}}]
    assert doc["relations"] == [{"id": "R1", "infons": {"type": "co-occurs"},
                                 "nodes": [{"refid": "A1", "role": "first"}, {"refid": "A2", "role": "second"}]}]
    assert format_bioc_xml([doc], source="test", date="2026", key="k") == BIOC_XML
    for name in ("y.xml", "y.json"):
        save_corpus([doc], tmp_path / name)
        assert read_corpus(tmp_path / name) == [doc]
        again = tmp_path / f"again-{name}"
        save_corpus(read_corpus(tmp_path / name), again)
        assert again.read_bytes() == (tmp_path / name).read_bytes()
    assert detect_format(tmp_path / "y.json") == "bioc-json"
    joined, = read_corpus(path, discontinuous="join")
    assert spans(joined)[1] == (13, 26, "Finding")
    with pytest.raises(CorpusError, match=r"document 0 \(id 'd1'\), annotation 'A2': a discontinuous annotation"):
        read_corpus(path, discontinuous="error")


@pytest.mark.parametrize("old, new, message", [
    ("<text>Fever cough</text>", "<text>Fever coug</text>",
     r"x\.xml: document 0 \(id 'd1'\), annotation 'A2': its text 'Fever coug' differs"),
    ('<location offset="0" length="12"/>', '<location offset="0" length="99"/>',
     r"annotation 'A1': .*end 99 is past the end of the text"),
    ("<offset>13</offset>", "<offset>5</offset>", r"passage 1: offset 5 lies inside the text before it"),
    ('<infon key="type">Finding</infon>\n        <infon key="identifier">', '<infon key="identifier">',
     r"annotation 'A1': no infon 'type' to label it \(its infons: \['identifier'\]\)"),
    ("</collection>", "", r"x\.xml:\d+: not well-formed XML"),
])
def test_bioc_errors_name_the_document_and_annotation(tmp_path, old, new, message):
    path = tmp_path / "x.xml"
    path.write_text(BIOC_XML.replace(old, new), encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        read_corpus(path)


def test_bioc_from_a_dataset_writes_no_filled_in_infons(tmp_path):
    from ecr_hf.corpora import to_dataset

    docs = [{"doc_id": "a", "text": "fever", "infons": {"journal": "J"},
             "entities": [{"start": 0, "end": 5, "label": "F", "infons": {"cui": "C1"}}]},
            {"doc_id": "b", "text": "cough", "infons": {"year": "2026"},
             "entities": [{"start": 0, "end": 5, "label": "F", "infons": {"source": "x"}}]}]
    dataset = to_dataset(docs)
    assert dataset[0]["infons"] == {"journal": "J", "year": None}  # what Arrow does to differing keys
    out = save_corpus(dataset, tmp_path / "x.xml")
    assert "None" not in out.read_text(encoding="utf-8")
    assert [(d["infons"], d["entities"][0]["infons"]) for d in read_corpus(out)] == \
        [({"journal": "J"}, {"cui": "C1"}), ({"year": "2026"}, {"source": "x"})]


def test_bioc_xml_refuses_characters_xml_cannot_hold():
    with pytest.raises(CorpusError, match="cannot be written in XML 1.0"):
        format_bioc_xml([{"doc_id": "a", "text": "bell \x07", "entities": []}])


@needs_ada
def test_bioc_json_reads_the_ada_case_reports_as_the_shared_jsonl(tmp_path):
    path = ADA / "CaseReportCorpus.bioc.json"
    assert detect_format(path) == "bioc-json"
    docs = read_corpus(path, label_key="entityType")  # 'type' is 'AdaEntity' for every annotation
    shared = [json.loads(line) for line in (ADA / "ada_case_reports.jsonl").open(encoding="utf-8")]
    assert len(docs) == len(shared) == 53
    for doc, want in zip(docs, shared):
        assert (doc["doc_id"], doc["text"]) == (want["doc_id"], want["text"])
        assert [{k: e[k] for k in ("start", "end", "label", "text", "id")} for e in doc["entities"]] == want["entities"]
        assert [(r["infons"]["type"], [[n["refid"], n["role"]] for n in r["nodes"]]) for r in doc["relations"]] == \
            [(r["type"], r["nodes"]) for r in want["relations"]]
    save_corpus(docs[:3], tmp_path / "ada.json", label_key="entityType")
    assert read_corpus(tmp_path / "ada.json", label_key="entityType") == docs[:3]
    dataset = load_corpus(path, label_key="entityType")  # rows fill other rows' infon keys with None: not written
    save_corpus(dataset.select(range(3)), tmp_path / "ada.xml", label_key="entityType")
    assert read_corpus(tmp_path / "ada.xml", label_key="entityType") == docs[:3]


@needs_ada
def test_bioc_names_the_infon_that_tells_annotations_apart(caplog):
    path = ADA / "CaseReportCorpus.bioc.json"
    with caplog.at_level("WARNING", logger="ecr_hf.corpora.bioc"):
        assert {e["label"] for e in read_corpus(path)[0]["entities"]} == {"AdaEntity"}
    assert "every annotation's 'type' infon is 'AdaEntity', while the infon 'entityType' has 4 values " \
           "(condition, factor, finding, modifier); pass label_key='entityType' (CLI: --label-infon entityType)" \
           in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="ecr_hf.corpora.bioc"):
        read_corpus(path, label_key="entityType")
    assert caplog.text == ""


@needs_ada
def test_brat_round_trips_real_case_reports(tmp_path):
    """No BRAT corpus is in ../shared/data: eight Ada case reports (long scraped pages, overlapping
    spans) are written as BRAT (doc_ids renamed: their URLs are no file names) and read back."""
    docs = read_corpus(ADA / "CaseReportCorpus.bioc.json", label_key="entityType")[:8]
    docs = [{**d, "doc_id": d["doc_id"].rstrip("/").rsplit("/", 1)[1]} for d in docs]
    folder = write_brat(docs, tmp_path / "ada")
    again = read_brat(folder)
    assert [(d["doc_id"], d["text"], spans(d)) for d in again] == \
        sorted((d["doc_id"], d["text"], spans(d)) for d in docs)
    assert write_brat(again, tmp_path / "again") and all(
        (tmp_path / "again" / f.name).read_bytes() == f.read_bytes() for f in folder.iterdir())


# --------------------------------------------------------------------------- spaCy

def test_spacy_doc_and_docbin_round_trip(tmp_path):
    spacy = pytest.importorskip("spacy")
    from ecr_hf.corpora import from_spacy, to_spacy

    docs = [{"doc_id": "a", "text": TEXT, "entities": [{"start": 0, "end": 12, "label": "Finding"},
                                                       {"start": 17, "end": 22, "label": "Finding"}]},
            {"doc_id": "b", "text": "nothing here", "entities": []}]
    made = to_spacy(docs)
    assert [(e.start_char, e.end_char, e.label_) for e in made[0].ents] == [(0, 12, "Finding"), (17, 22, "Finding")]
    assert [{k: d[k] for k in ("doc_id", "text", "entities")} for d in from_spacy(made)] == \
        [{**d, "entities": [{**e, "text": d["text"][e["start"]:e["end"]]} for e in d["entities"]]} for d in docs]
    path = save_corpus(docs, tmp_path / "x.spacy")
    assert detect_format(path) == "spacy"
    assert [spans(d) for d in read_corpus(path)] == [spans(d) for d in docs]
    assert [d["doc_id"] for d in read_corpus(path)] == ["a", "b"]
    again = save_corpus(read_corpus(path), tmp_path / "again.spacy")  # read -> write -> read: the same
    assert read_corpus(again) == read_corpus(path) and again.read_bytes() == path.read_bytes()
    nlp = spacy.blank("en")
    doc = nlp("Chest pain and fever")
    doc.spans["sc"] = [doc.char_span(0, 10, "Finding"), doc.char_span(6, 10, "Body")]  # overlapping: a span group
    assert spans(from_spacy([doc], spans_key="sc")[0]) == [(0, 10, "Finding"), (6, 10, "Body")]


def test_spacy_strict_alignment_and_overlaps_raise_naming_the_span():
    pytest.importorskip("spacy")
    from ecr_hf.corpora import to_spacy

    with pytest.raises(CorpusError, match=r"doc_id 'a': span \[0, 3\) 'Finding' 'Che' does not start and end on "
                                          r"token boundaries \(the tokens there: \['Chest'\]\)"):
        to_spacy([{"doc_id": "a", "text": "Chest pain", "entities": [{"start": 0, "end": 3, "label": "Finding"}]}])
    overlapping = [{"doc_id": "a", "text": "Chest pain", "entities": [{"start": 0, "end": 10, "label": "F"},
                                                                      {"start": 6, "end": 10, "label": "B"}]}]
    with pytest.raises(CorpusError, match=r"span group \(spans_key=\)"):
        to_spacy(overlapping)
    assert len(to_spacy(overlapping, spans_key="sc")[0].spans["sc"]) == 2


def test_spacy_missing_names_the_extra(monkeypatch, tmp_path):
    import sys

    from ecr_hf.corpora import to_spacy

    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'ecr-hf\[spacy\]'"):
        to_spacy([{"doc_id": "a", "text": "x", "entities": []}])


# --------------------------------------------------------------------------- the common entry points

def test_load_corpus_gives_a_dataset_with_every_key(tmp_path):
    folder = brat_folder(tmp_path)
    data = load_corpus(folder)
    assert data.num_rows == 2 and data["doc_id"] == ["doc1", "sub/doc2"]
    assert data[0]["entities"][0] == {"start": 0, "end": 12, "label": "Finding", "text": "Chest 😀 pain", "id": "T1",
                                      "fragment": None}
    assert [e["fragment"] for e in data[0]["entities"]] == [None, None, 0, 1]
    out = save_corpus(data, tmp_path / "from-dataset")  # a Dataset writes back the same files
    assert (out / "doc1.ann").read_bytes() == (folder / "doc1.ann").read_bytes()
    save_corpus(data, tmp_path / "x.jsonl")
    assert [spans(d) for d in read_corpus(tmp_path / "x.jsonl")] == [spans(d) for d in read_brat(folder)]
    with pytest.raises(OutputExistsError):
        save_corpus(data, tmp_path / "x.jsonl")
    save_corpus(data, tmp_path / "x.jsonl", overwrite=True)
    with pytest.raises(ValueError, match="cannot tell the format from the suffix '.csv'"):
        save_corpus(data, tmp_path / "x.csv")


def test_detect_format_keeps_jsonl_whatever_its_name(tmp_path):
    line = '{"doc_id": "a", "text": "x", "entities": []}\n'
    for name in ("a.jsonl", "a.json", "a.txt", "a"):
        (tmp_path / name).write_text(line)
        assert detect_format(tmp_path / name) == "jsonl", name
    (tmp_path / "p.txt").write_text("1|t|title\n1|a|abstract\n")
    assert detect_format(tmp_path / "p.txt") == "pubtator"
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "missing.xml")
    assert issubclass(CorpusError, SpanError)
