"""ecr_hf.corpora.bigbio: BigBIO kb records (Parquet, JSON Lines, a JSON list) read to the one span
model: passages placed at their offsets, discontinuous entities as BRAT and BioC give them, the
errors that name the file, the document and the entity, detection that leaves the other formats
alone, and NCBI-disease built as BigBIO's loader builds it, read back equal to the shared JSONL."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecr_hf.corpora import (CorpusError, detect_format, format_pubtator, load_corpus, read_bigbio, read_corpus,
                            read_documents, read_pubtator, save_corpus)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NCBI = DATA / "ncbi_disease"
needs_data = pytest.mark.skipif(not NCBI.exists(), reason="../shared/data is not beside the repository, so no "
                                "NCBI-disease to build BigBIO records from")

TITLE = "Chest 😀 pain in a child."  # 😀 is one code point
ABSTRACT = "No cough; mild headache and fever."


def record(**changes):
    """A title + abstract kb record, the abstract one character after the title (BigBIO's rule),
    with a discontinuous entity ('cough ... headache'), normalisations and an event kept as is."""
    start = len(TITLE) + 1
    rec = {
        "id": "r1", "document_id": "d1",
        "passages": [{"id": "p1", "type": "title", "text": [TITLE], "offsets": [[0, len(TITLE)]]},
                     {"id": "p2", "type": "abstract", "text": [ABSTRACT], "offsets": [[start, start + len(ABSTRACT)]]}],
        "entities": [
            {"id": "e1", "type": "Finding", "text": ["Chest 😀 pain"], "offsets": [[0, 12]],
             "normalized": [{"db_name": "UMLS", "db_id": "C0008031"}]},
            {"id": "e2", "type": "Finding", "text": ["cough", "headache"],
             "offsets": [[start + 3, start + 8], [start + 15, start + 23]], "normalized": []},
            {"id": "e3", "type": "Finding", "text": ["fever"], "offsets": [[start + 28, start + 33]],
             "normalized": [{"db_name": "UMLS", "db_id": "C0015967"}, {"db_name": "MESH", "db_id": "D005334"}]},
        ],
        "events": [{"id": "v1", "type": "Worsens", "trigger": {"text": ["mild"], "offsets": [[start + 10, start + 14]]},
                    "arguments": [{"role": "Theme", "ref_id": "e2"}]}],
        "coreferences": [], "relations": [],
    }
    rec.update(changes)
    return rec


def spans(doc):
    return [(e["start"], e["end"], e["label"]) for e in doc["entities"]]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def write_parquet(path, records):
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def test_bigbio_places_passages_keeps_normalisations_and_splits_discontinuous_entities(tmp_path):
    doc, = read_corpus(write_jsonl(tmp_path / "kb.jsonl", [record()]))
    start = len(TITLE) + 1
    assert doc["doc_id"] == "d1"
    assert doc["text"] == f"{TITLE} {ABSTRACT}"  # the one-character gap is a space
    assert spans(doc) == [(0, 12, "Finding"), (start + 3, start + 8, "Finding"), (start + 15, start + 23, "Finding"),
                          (start + 28, start + 33, "Finding")]
    assert [e["text"] for e in doc["entities"]] == ["Chest 😀 pain", "cough", "headache", "fever"]
    assert [e["id"] for e in doc["entities"]] == ["e1", "e2", "e2", "e3"]  # split fragments share the id,
    assert [e.get("fragment") for e in doc["entities"]] == [None, 0, 1, None]  # numbered as BRAT and BioC number them
    assert doc["entities"][0]["normalized"] == [{"db_name": "UMLS", "db_id": "C0008031"}]
    assert "normalized" not in doc["entities"][1] and len(doc["entities"][3]["normalized"]) == 2
    assert doc["passages"] == [{"offset": 0, "length": len(TITLE), "id": "p1", "infons": {"type": "title"}},
                               {"offset": start, "length": len(ABSTRACT), "id": "p2", "infons": {"type": "abstract"}}]
    assert doc["bigbio"]["id"] == "r1"
    assert doc["bigbio"]["events"][0]["arguments"] == [{"role": "Theme", "ref_id": "e2"}]
    # the title and abstract passages are the form the PubTator writer reads
    assert format_pubtator([doc]).splitlines()[:2] == [f"d1|t|{TITLE}", f"d1|a|{ABSTRACT}"]

    joined, = read_corpus(tmp_path / "kb.jsonl", discontinuous="join")
    assert joined["entities"][1] == {"start": start + 3, "end": start + 23, "label": "Finding",
                                     "text": "cough; mild headache", "id": "e2",
                                     "fragments": [[start + 3, start + 8], [start + 15, start + 23]]}
    with pytest.raises(CorpusError, match=r"kb\.jsonl:1 \(document_id 'd1'\), entity 'e2': a discontinuous annotation"):
        read_corpus(tmp_path / "kb.jsonl", discontinuous="error")
    with pytest.raises(ValueError, match="discontinuous must be one of"):
        read_bigbio(tmp_path / "kb.jsonl", discontinuous="merge")


def test_bigbio_reads_parquet_jsonl_and_a_json_list_alike(tmp_path):
    records = [record(), record(id="r2", document_id="d2", entities=[], events=[])]
    want = read_corpus(write_jsonl(tmp_path / "kb.jsonl", records))
    assert read_corpus(write_parquet(tmp_path / "kb.parquet", records)) == want
    (tmp_path / "list.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
    assert read_corpus(tmp_path / "list.json") == want
    write_jsonl(tmp_path / "lines.json", records)  # Dataset.to_json writes JSON Lines, even to a .json
    assert read_corpus(tmp_path / "lines.json") == want
    data = load_corpus(tmp_path / "kb.parquet")
    assert data.num_rows == 2 and data["doc_id"] == ["d1", "d2"] and data[1]["entities"] == []


def test_bigbio_places_passages_by_offsets_whatever_their_order_and_gaps(tmp_path):
    """Passages apart by more than a space, listed out of order, one text with two pieces, and a
    document whose first passage starts after 0: every gap is spaces."""
    passages = [{"id": "b", "type": "abstract", "text": ["beta", "gamma"], "offsets": [[10, 14], [15, 20]]},
                {"id": "a", "type": "title", "text": ["alpha"], "offsets": [[2, 7]]}]
    entities = [{"id": "e", "type": "T", "text": ["gamma"], "offsets": [[15, 20]], "normalized": []}]
    doc, = read_corpus(write_parquet(tmp_path / "x.parquet", [record(passages=passages, entities=entities)]))
    assert doc["text"] == "  alpha   beta gamma"
    assert spans(doc) == [(15, 20, "T")]
    assert doc["passages"] == [{"offset": 10, "length": 10, "id": "b", "infons": {"type": "abstract"}},
                               {"offset": 2, "length": 5, "id": "a", "infons": {"type": "title"}}]


def test_bigbio_empty_documents(tmp_path):
    empty = [record(id="r1", document_id="d1", passages=[], entities=[]),
             record(id="r2", document_id="d2", entities=[],
                    passages=[{"id": "p", "type": "title", "text": [""], "offsets": [[0, 0]]}])]
    docs = read_corpus(write_parquet(tmp_path / "x.parquet", empty))
    assert [(d["doc_id"], d["text"], d["entities"]) for d in docs] == [("d1", "", []), ("d2", "", [])]
    assert docs[1]["passages"] == [{"offset": 0, "length": 0, "id": "p", "infons": {"type": "title"}}]


def test_bigbio_text_forms_real_exports_use(tmp_path):
    """One string for two pieces (the pieces joined by a space, or the whole stretch), as BRAT and
    BioC accept; a piece with whitespace at its ends (BigBIO's NCBI-disease, PMID 10923035) is kept
    as mention_in_file, as the PubTator reader keeps it."""
    start = len(TITLE) + 1
    pieces = [[start + 3, start + 8], [start + 15, start + 23]]
    for given in (["cough headache"], ["cough; mild headache"]):
        rec = record(entities=[{"id": "e", "type": "F", "text": given, "offsets": pieces, "normalized": []}])
        doc, = read_corpus(write_jsonl(tmp_path / "x.jsonl", [rec]))
        assert [e["text"] for e in doc["entities"]] == ["cough", "headache"]
    rec = record(entities=[{"id": "e", "type": "F", "text": ["fever  "], "offsets": [[start + 28, start + 33]]}])
    doc, = read_corpus(write_jsonl(tmp_path / "x.jsonl", [rec]))
    assert doc["entities"][0]["text"] == "fever" and doc["entities"][0]["mention_in_file"] == "fever  "


@pytest.mark.parametrize("change, message", [
    ({"entities": [{"id": "e9", "type": "F", "text": ["Chest"], "offsets": [[0, 6]]}]},
     r"x\.jsonl:1 \(document_id 'd1'\), entity 'e9': its text \['Chest'\] differs from the text at \[\[0, 6\]\]: "
     r"\['Chest '\]"),
    ({"entities": [{"id": "e9", "type": "F", "text": ["cough", "fever"], "offsets": [[28, 33], [40, 48]]}]},
     r"entity 'e9': its text \['cough', 'fever'\] differs from the text at \[\[28, 33\], \[40, 48\]\]: "
     r"\['cough', 'headache'\]"),
    ({"entities": [{"id": "e9", "type": "F", "text": ["x"], "offsets": [[55, 99]]}]},
     r"entity 'e9': end 99 is past the end of the text \(length 59\)"),
    ({"entities": [{"id": "e9", "type": "", "text": ["Chest"], "offsets": [[0, 5]]}]},
     r"entity 'e9': no 'type' to label it"),
    ({"entities": [{"id": "e9", "type": "F", "text": [], "offsets": []}]}, r"entity 'e9': no offsets"),
    ({"entities": [{"id": "e9", "type": "F", "text": ["C"], "offsets": [[0, "1"]]}]},
     r"entity 'e9': offsets must be \[\[start, end\], \.\.\.\] of integers"),
    ({"passages": [{"id": "p1", "type": "title", "text": ["Chest pain"], "offsets": [[0, 10]]},
                   {"id": "p2", "type": "abstract", "text": ["pain and fever"], "offsets": [[6, 20]]}]},
     r"x\.jsonl:1 \(document_id 'd1'\), passage 'p2': \[6, 20\] overlaps passage 'p1', which ends at 10; "
     "passages must not overlap"),
    ({"passages": [{"id": "p1", "type": "title", "text": ["Chest pain"], "offsets": [[0, 12]]}]},
     r"passage 'p1': offsets \[0, 12\] do not hold its text 'Chest pain' \(10 characters\)"),
    ({"passages": [{"id": "p1", "type": "title", "text": ["Chest", "pain"], "offsets": [[0, 5]]}]},
     r"passage 'p1': 2 text pieces but 1 offset pairs"),
])
def test_bigbio_errors_name_the_file_document_and_annotation(tmp_path, change, message):
    with pytest.raises(CorpusError, match=message):
        read_corpus(write_jsonl(tmp_path / "x.jsonl", [record(**change)]), "bigbio")


def test_bigbio_errors_for_what_is_not_a_kb_file(tmp_path):
    write_parquet(tmp_path / "spans.parquet", [{"doc_id": "a", "text": "x", "entities": []}])
    with pytest.raises(CorpusError, match=r"spans\.parquet: not a BigBIO kb table: no column passages \(its columns: "
                                          "doc_id, text, entities\\); export the dataset's <name>_bigbio_kb config"):
        read_corpus(tmp_path / "spans.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(CorpusError, match=r"bad\.parquet: not a Parquet file"):
        read_corpus(tmp_path / "bad.parquet")
    (tmp_path / "x.jsonl").write_text(json.dumps(record()) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"x\.jsonl:2: not valid JSON"):
        read_corpus(tmp_path / "x.jsonl", "bigbio")
    (tmp_path / "x.jsonl").write_text('{"doc_id": "a", "text": "x", "entities": []}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"x\.jsonl:1: not a BigBIO kb record .*keys \['doc_id', 'entities', "
                                          r"'text'\]"):
        read_corpus(tmp_path / "x.jsonl", "bigbio")
    (tmp_path / "p.pubtator").write_text(f"7|t|{TITLE}\n7|a|{ABSTRACT}\n7\t0\t12\tChest 😀 pain\tF\tC1\n",
                                         encoding="utf-8")
    save_corpus(read_pubtator(tmp_path / "p.pubtator"), tmp_path / "x.jsonl", overwrite=True)  # has passages
    with pytest.raises(CorpusError, match=r"x\.jsonl:1: not a BigBIO kb record \(expected 'passages' and 'entities' "
                                          "lists of objects with 'offsets'"):
        read_corpus(tmp_path / "x.jsonl", "bigbio")
    with pytest.raises(ValueError, match=r"cannot write corpus format 'bigbio'.*\(BigBIO is read only\)"):
        save_corpus([], tmp_path / "out.parquet", "bigbio")


def test_detect_format_finds_bigbio_and_leaves_the_other_formats_alone(tmp_path):
    records = [record()]
    write_parquet(tmp_path / "a.parquet", records)
    write_jsonl(tmp_path / "a.jsonl", records)
    write_jsonl(tmp_path / "lines.json", records)
    write_jsonl(tmp_path / "noname", records)
    (tmp_path / "list.json").write_text(json.dumps(records), encoding="utf-8")
    for name in ("a.parquet", "a.jsonl", "lines.json", "noname", "list.json"):
        assert detect_format(tmp_path / name) == "bigbio", name
    # span documents with passages (as the PubTator and BioC readers keep them) stay JSONL
    (tmp_path / "p.pubtator").write_text(f"7|t|{TITLE}\n7|a|{ABSTRACT}\n7\t0\t12\tChest 😀 pain\tF\tC1\n",
                                         encoding="utf-8")
    spans_doc = read_pubtator(tmp_path / "p.pubtator")
    save_corpus(spans_doc, tmp_path / "spans.jsonl")
    (tmp_path / "spans.json").write_text(json.dumps(spans_doc), encoding="utf-8")
    save_corpus(spans_doc, tmp_path / "bioc.json")
    empty = {"id": "r", "document_id": "d", "passages": [], "entities": []}  # nothing tells it apart: JSONL
    write_jsonl(tmp_path / "empty.jsonl", [empty])
    expected = {"spans.jsonl": "jsonl", "spans.json": "jsonl", "bioc.json": "bioc-json", "p.pubtator": "pubtator",
                "empty.jsonl": "jsonl"}
    assert {name: detect_format(tmp_path / name) for name in expected} == expected


def test_read_documents_gives_places_and_refuses_a_document_id_twice(tmp_path):
    file = read_documents(write_parquet(tmp_path / "x.parquet", [record(), record(id="r2", document_id="d2")]))
    assert list(file.docs) == ["d1", "d2"] and file.where("d2").endswith("x.parquet: row 1 (document_id 'd2')")
    with pytest.raises(ValueError, match=r"x\.parquet: row 1 \(document_id 'd1'\): doc_id 'd1' appears twice "
                                         r"\(first at .*x\.parquet: row 0 \(document_id 'd1'\)\)"):
        read_documents(write_parquet(tmp_path / "x.parquet", [record(), record(id="r2")]))


# --------------------------------------------------------------------------- NCBI-disease, as BigBIO builds it

def kb_features():
    """BigBIO's kb schema (bigbio/utils/schemas/kb.py), so the Parquet is what ``Dataset.to_parquet``
    writes from a BigBIO export."""
    from datasets import Features, Sequence, Value

    offsets, text = Sequence([Value("int32")]), Sequence(Value("string"))
    normalized = [{"db_name": Value("string"), "db_id": Value("string")}]
    return Features({
        "id": Value("string"), "document_id": Value("string"),
        "passages": [{"id": Value("string"), "type": Value("string"), "text": text, "offsets": offsets}],
        "entities": [{"id": Value("string"), "type": Value("string"), "text": text, "offsets": offsets,
                      "normalized": normalized}],
        "events": [{"id": Value("string"), "type": Value("string"), "trigger": {"text": text, "offsets": offsets},
                    "arguments": [{"role": Value("string"), "ref_id": Value("string")}]}],
        "coreferences": [{"id": Value("string"), "entity_ids": Sequence(Value("string"))}],
        "relations": [{"id": Value("string"), "type": Value("string"), "arg1_id": Value("string"),
                       "arg2_id": Value("string"), "normalized": normalized}],
    })


def ncbi_kb_records(docs, title_lengths):
    """kb records as BigBIO's ncbi_disease loader builds them: title and abstract passages (the
    abstract one character after the title), entity text from the PubTator mention column, the
    concept id as a mesh/omim normalisation, and a repeated PMID (8528200) yielded once."""
    seen, out = set(), []
    for doc in docs:
        pmid, text = doc["doc_id"], doc["text"]
        if pmid in seen:
            continue
        seen.add(pmid)
        n = title_lengths[pmid]
        assert text[n] == " "
        out.append({
            "id": pmid, "document_id": pmid,
            "passages": [{"id": f"{pmid}_title", "type": "title", "text": [text[:n]], "offsets": [[0, n]]},
                         {"id": f"{pmid}_abstract", "type": "abstract", "text": [text[n + 1:]],
                          "offsets": [[n + 1, len(text)]]}],
            "entities": [{"id": f"{pmid}_{e['id']}_{i}", "type": e["label"],
                          "text": [e.get("mention_in_file", e["text"])], "offsets": [[e["start"], e["end"]]],
                          "normalized": [{"db_name": "omim" if "OMIM" in e["id"] else "mesh", "db_id": e["id"]}]}
                         for i, e in enumerate(doc["entities"])],
            "events": [], "coreferences": [], "relations": []})
    return out


@needs_data
def test_bigbio_reads_ncbi_disease_built_as_bigbio_builds_it_as_the_shared_jsonl(tmp_path):
    from datasets import Dataset

    shared = [json.loads(line) for line in (NCBI / "ncbi_disease.pubtator.jsonl").open(encoding="utf-8")]
    title_lengths = {d["doc_id"]: d["passages"][0]["length"]
                     for path in sorted((NCBI / "original-data").glob("NCBI*_corpus.txt")) for d in read_pubtator(path)}
    records = ncbi_kb_records(shared, title_lengths)
    assert len(shared) == 793 and len(records) == 792  # PMID 8528200 is in the training file twice
    path = tmp_path / "ncbi_disease_bigbio_kb.parquet"
    Dataset.from_list(records, features=kb_features()).to_parquet(path)
    assert detect_format(path) == "bigbio"
    docs = read_corpus(path)
    want = {d["doc_id"]: d for d in shared}
    assert [d["doc_id"] for d in docs] == list(want)
    for doc in docs:
        entities = [{**{k: v for k, v in e.items() if k != "normalized"}, "id": e["normalized"][0]["db_id"]}
                    for e in doc["entities"]]
        assert (doc["text"], entities) == (want[doc["doc_id"]]["text"], want[doc["doc_id"]]["entities"]), doc["doc_id"]
    odd = [e for d in docs for e in d["entities"] if "mention_in_file" in e]  # read as the PubTator reader reads it
    assert [(e["start"], e["end"], e["mention_in_file"][-3:]) for e in odd] == [(711, 761, '"  ')]
