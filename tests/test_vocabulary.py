"""One vocabulary: every public entry point names its scores from the README's "Score keys" table,
and a key has the same value in every entry point that returns it.

The corpus is small enough to score by hand (offsets half-open, code points):

* doc 0, text "abcdefghijkl": gold [0, 10) D; predicted [0, 4) D and [6, 10) D (one concept in two
  pieces, 2 characters missed in the middle);
* doc 1, text "abcdefghijklmnop": gold [0, 5) D and [10, 15) S; predicted [0, 5) D (exact) and
  [10, 13) D (short, and the wrong label).

Gold characters 10 + 5 + 5 = 20, predicted 4 + 4 + 5 + 3 = 16, all inside gold spans. At p = 1 the
soft match is character level: recall 16/20 = 0.8, precision 1, F1 8/9. At p the piece-wise gold
span scores (2 * 0.4**p)**(1/p) = 0.4 * 2**(1/p) of its 10 characters; the others do not change:
recall (4 * 2**(1/p) + 5 + 3) / 20, precision 1. Strict (same start, end and label): 1 of 4
predicted and 1 of 3 gold spans: P 1/4, R 1/3, F1 2/7.

Lenient (one-to-one): doc 0 pairs the gold span with one piece, J = 4/10; doc 1 [0, 5) exactly
(J = 1) and [10, 15) S with [10, 13) D (J = 3/5, labels differ). Jaccard: ΣJ = 2 untyped (P 2/4,
R 2/3), 1.4 typed (P 1.4/4, R 1.4/3). IoU >= 0.5: the pairs with J 1 and 3/5 count, 2 untyped (P 2/4,
R 2/3) and 1 typed (P 1/4, R 1/3).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from pathlib import Path

import pytest
import yaml

import ecr_hf
from ecr_hf.cli import main
from ecr_hf.leaderboard import card_metrics, leaderboard_table, load_results, read_scores, write_model_card
from ecr_hf.scoring import bucket_flat, bucket_scores, document_counts
from ecr_hf.spans import FaithfulnessReport, spans_to_tags

README = Path(__file__).resolve().parents[1] / "README.md"

TEXTS = ["abcdefghijkl", "abcdefghijklmnop"]
GOLD = [[(0, 10, "D")], [(0, 5, "D"), (10, 15, "S")]]
PRED = [[(0, 4, "D"), (6, 10, "D")], [(0, 5, "D"), (10, 13, "D")]]
GENERATIONS = ["@@abcd##ef@@ghij##kl", "@@abcde##fghij@@klm##nop"]  # PRED as an instruction-tuned model writes it


def soft_recall(p: float) -> float:
    return (4 * 2 ** (1 / p) + 8) / 20


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def prf(prefix: str, precision: float, recall: float) -> dict[str, float]:
    return {f"{prefix}precision": precision, f"{prefix}recall": recall, f"{prefix}f1": f1(precision, recall)}


HAND = {
    **prf("", 1.0, 0.8), **prf("p1_", 1.0, 0.8), **prf("char_", 1.0, 0.8),
    **{k: v for p in (1.5, 2, 100) for k, v in prf(f"p{p:g}_", 1.0, soft_recall(p)).items()},
    # marker: the plain mean of the span scores: gold 0.8, 1, 3/5; every predicted span 1
    **prf("marker_", 1.0, (0.8 + 1 + 0.6) / 3),
    # case: each document alone has precision 1, recall 8/10
    **prf("case_", 1.0, 0.8),
    "recall_tp": 16.0, "fn": 4.0, "precision_tp": 16.0, "fp": 0.0,
    # length bins: gold 10 in 7-10, gold 5 and 5 in 3-6 (recall (5 + 3) / 10); every prediction is in 3-6
    **prf("len_3-6_", 1.0, 0.8), "len_3-6_n_gold": 2.0, "len_3-6_n_pred": 4.0,
    "len_7-10_recall": 0.8, "len_7-10_n_gold": 1.0, "len_7-10_n_pred": 0.0,
    # per label, untyped: D gold 10 + 5 characters, 8 + 5 found; S 3 of 5 found by the D prediction;
    # all 16 predicted (D) characters lie in gold spans; no S prediction
    **prf("label_D_", 1.0, 13 / 15), "label_S_recall": 0.6, "label_S_n_pred": 0.0,
    # typed characters: the [10, 13) D prediction lies on the S gold span: 13 of 16, 13 of 20
    **prf("char_typed_", 13 / 16, 13 / 20),
    # one token per character: the same numbers as characters
    **prf("token_", 1.0, 0.8), **prf("token_typed_", 13 / 16, 13 / 20),
    **prf("strict_", 1 / 4, 1 / 3),
    # per label: D 1 of 4 predicted, 1 of 2 gold; S no prediction, 0 of 1
    **prf("strict_label_D_", 1 / 4, 1 / 2), "strict_label_D_support": 2.0,
    **prf("strict_label_S_", 0.0, 0.0), "strict_label_S_support": 1.0,
    "strict_macro_f1": (1 / 3 + 0) / 2, "strict_weighted_f1": (2 * 1 / 3 + 1 * 0) / 3,
    # SemEval: doc 0 pairs the gold span with one piece (boundaries differ), the other is spurious;
    # doc 1 D exact, S paired with the short D prediction (boundaries and label differ)
    "semeval_strict_correct": 1.0, "semeval_strict_incorrect": 2.0, "semeval_strict_spurious": 1.0,
    "semeval_strict_f1": 2 / 7,
    **prf("semeval_partial_", (1 + 0.5 * 2) / 4, (1 + 0.5 * 2) / 3), "semeval_partial_partial": 2.0,
    **prf("semeval_ent_type_", 2 / 4, 2 / 3),
    **prf("jaccard_", 2 / 4, 2 / 3), **prf("jaccard_typed_", 1.4 / 4, 1.4 / 3),
    **prf("iou50_", 2 / 4, 2 / 3), **prf("iou50_typed_", 1 / 4, 1 / 3),
    "n_documents": 2.0, "n_gold": 3.0, "n_pred": 4.0, "gold_chars": 20.0, "pred_chars": 16.0,
    "gold_merged": 0.0, "pred_merged": 0.0,
}

# ------------------------------------------------------------------------------- the table

PLACEHOLDERS = {
    "m": "precision|recall|f1",
    "p": r"\d+(?:\.\d+)?|inf",
    "bin": r"\d+-\d+|\d+\+",
    "name": ".+",
    "schema": "strict|exact|partial|ent_type",
    "count": "correct|incorrect|partial|missed|spurious|possible|actual",
    "stat": "|".join(f.name for f in dataclasses.fields(FaithfulnessReport)),
    "type": ".+",
    "key": ".+",
    "t": r"\d+(?:\.\d+)?",
    "attribute": "elen_chars|elen_words|econ|efre|slen|eden|oden|label",
    "bucket": ".+",
}


@dataclasses.dataclass
class Row:
    templates: list[str]  # the key column, e.g. ["p{p}_{m}"]
    codes: set[str]  # the returned-by column's codes
    card: str | None  # the model-card metric type, e.g. "weighted_soft_match_{m}"


def regex(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    for name in parts[1::2]:
        assert name in PLACEHOLDERS, f"the Score keys table uses {{{name}}}, which this test does not know"
    return re.compile("".join(re.escape(part) if k % 2 == 0 else f"(?P<key>{PLACEHOLDERS[part]})" if part == "key"
                              else f"(?:{PLACEHOLDERS[part]})" for k, part in enumerate(parts)))


def score_keys_table() -> list[Row]:
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## .*$", text, flags=re.M)
    assert headings.count("## Score keys") == 1
    assert headings[headings.index("## Score keys") + 1] == "## `evaluate` modules"
    section = text.split("\n## Score keys\n")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[:2] == ["| key | meaning | returned by |", "|---|---|---|"]
    rows = []
    for line in lines[2:]:
        key, _, returned = (cell.strip() for cell in line.strip().strip("|").split(" | "))
        codes, card = set(), None
        for item in returned.split(", "):
            if item.startswith("card "):
                item, card = "card", item[len("card "):].strip("`")
            codes.add(item)
        rows.append(Row(re.findall(r"`([^`]+)`", key), codes, card))
    return rows


TABLE = score_keys_table()
CODES = {"fn", "gen", "wsm", "sm", "score", "seqeval", "sig", "results", "card", "bkt"}


def rows_of(key: str, code: str, value=None) -> list[Row]:
    """The rows that define ``key`` for ``code``: ``{type}`` (seqeval's per-type dicts) only for a
    dict value; ``{key}_sd`` ... only where ``{key}`` is itself a key of ``code``."""
    found = []
    for row in TABLE:
        for template in row.templates if code in row.codes else ():
            if (template == "{type}") != isinstance(value, dict):
                continue
            match = regex(template).fullmatch(key)
            if match and ("{key}" not in template or rows_of(match.group("key"), code)):
                found.append(row)
                break
    return found


def check_keys(scores: dict, code: str) -> None:
    """Every key of ``scores`` is in the table, in exactly one row, a row that ``code`` returns."""
    assert scores
    for key, value in scores.items():
        rows = rows_of(key, code, value)
        assert len(rows) == 1, f"{code}: {key!r} matches {len(rows)} rows of the Score keys table"


def test_the_table_names_known_entry_points_and_no_old_module_key():
    assert {code for row in TABLE for code in row.codes} == CODES
    templates = {t for row in TABLE for t in row.templates}
    assert not templates & {"micro_{m}", "macro_{m}", "weighted_{m}", "label_{name}_support"}
    assert all(row.card is None or "card" in row.codes for row in TABLE)


# ------------------------------------------------------------------------------- the entry points

def jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def dicts(doc):
    return [{"start": s, "end": e, "label": label} for s, e, label in doc]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Every entry point's scores of the corpus: ``{entry point: (code, flat scores)}``."""
    tmp = tmp_path_factory.mktemp("vocabulary")
    refs, preds = [list(map(dicts, c)) for c in (GOLD, PRED)]
    out = {
        "ecr_hf.span_metrics": ("fn", ecr_hf.span_metrics(GOLD, PRED, texts=TEXTS)),
        "weighted_soft_match": ("wsm", ecr_hf.load_metric("weighted_soft_match").compute(
            predictions=preds, references=refs)),
        "span_metrics": ("sm", ecr_hf.load_metric("span_metrics").compute(
            predictions=preds, references=refs, token_offsets=[[(i, i + 1) for i in range(len(t))] for t in TEXTS])),
    }
    counts = document_counts(GOLD, PRED)
    out["document_counts"] = ("sig", counts.estimate())
    out["bucket_scores"] = ("bkt", bucket_flat(bucket_scores(GOLD, PRED, texts=TEXTS, train=(TEXTS, GOLD))))
    assert set(counts.keys) == set(out["document_counts"][1])

    ref_file = jsonl(tmp / "refs.jsonl", [{"doc_id": f"d{k}", "text": t, "entities": d}
                                          for k, (t, d) in enumerate(zip(TEXTS, refs))])
    pred_file = jsonl(tmp / "preds.jsonl", [{"doc_id": f"d{k}", "entities": d} for k, d in enumerate(preds)])
    return out, tmp, ref_file, pred_file


@pytest.fixture(scope="module")
def results_file(outputs):
    """``ecr-hf cv-score`` over two folds that are both the corpus: means are the corpus's scores, SDs 0."""
    _, tmp, ref_file, pred_file = outputs
    for k in range(2):
        (tmp / f"refs{k}.jsonl").write_text(Path(ref_file).read_text())
        (tmp / f"preds{k}.jsonl").write_text(Path(pred_file).read_text())
    path = tmp / "results" / "toy.json"
    argv = ["cv-score", "--references", str(tmp / "refs{k}.jsonl"), "--predictions", str(tmp / "preds{k}.jsonl"),
            "--folds", "2", "--model-name", "toy", "--dataset", "toy-data", "--intervals", "20", "--output", str(path)]
    assert main(argv) == 0
    return path


def test_every_key_is_in_the_table_for_its_entry_point(outputs, results_file, capsys):
    out, _, ref_file, pred_file = outputs
    for code, scores in out.values():
        check_keys(scores, code)
    capsys.readouterr()
    assert main(["score", "--references", ref_file, "--predictions", pred_file, "--format", "json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    check_keys(plain, "wsm")
    assert main(["score", "--references", ref_file, "--predictions", pred_file, "--format", "json", "--lenient",
                 "--iou-threshold", "0.75"]) == 0
    lenient = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in lenient.items() if k in plain} == plain  # --lenient only adds keys
    check_keys({k: v for k, v in lenient.items() if k not in plain}, "score")
    assert "iou75_typed_f1" in lenient and "jaccard_f1" in lenient
    config = json.loads(results_file.read_text())["config"]
    (row,) = load_results(results_file).to_list()
    check_keys({k: v for k, v in row.items() if k not in config}, "results")
    tags = [[spans_to_tags(d, len(t)) for d, t in zip(c, TEXTS)] for c in (GOLD, PRED)]
    seqeval = ecr_hf.load_metric("span_metrics", config_name="seqeval").compute(
        predictions=tags[1], references=tags[0], zero_division=0)
    check_keys(seqeval, "seqeval")
    assert seqeval["overall_f1"] == pytest.approx(HAND["strict_f1"])  # the strict_f1 of the default configuration
    assert seqeval["D"]["f1"] == pytest.approx(HAND["strict_label_D_f1"])


def test_shared_keys_have_the_same_hand_worked_value_everywhere(outputs, results_file, capsys):
    out, _, ref_file, pred_file = outputs
    everywhere = {name: scores for name, (_, scores) in out.items()}
    capsys.readouterr()
    assert main(["score", "--references", ref_file, "--predictions", pred_file, "--format", "json"]) == 0
    everywhere["ecr-hf score"] = json.loads(capsys.readouterr().out)
    assert main(["score", "--references", ref_file, "--predictions", pred_file, "--format", "json", "--lenient"]) == 0
    everywhere["ecr-hf score --lenient"] = json.loads(capsys.readouterr().out)
    (row,) = load_results(results_file).to_list()
    everywhere["cv-score results"] = row
    assert main(["significance", "--references", ref_file, "--predictions", pred_file, "--metrics", "f1",
                 "strict_f1", "char_recall", "p2_recall", "--n-resamples", "10", "--format", "json"]) == 0
    intervals = json.loads(capsys.readouterr().out)["intervals"]["preds"]
    everywhere["ecr-hf significance"] = {key: ci["estimate"] for key, ci in intervals.items()}
    checked = set()
    for key, expected in HAND.items():
        holders = {name: scores[key] for name, scores in everywhere.items() if key in scores}
        assert holders, f"no entry point returns {key!r}"
        for name, value in holders.items():
            assert value == pytest.approx(expected, abs=1e-12), (name, key)
        checked.add(key)
    for key in ("f1", "precision", "recall", "strict_f1", "char_f1", "p2_f1", "label_D_f1", "n_gold"):
        assert sum(key in scores for scores in everywhere.values()) >= 3, key
    for key in {k for scores in everywhere.values() for k in scores} - checked:  # the rest agree too
        values = [scores[key] for scores in everywhere.values() if key in scores and isinstance(scores[key], float)]
        assert all(v == pytest.approx(values[0], abs=1e-12) for v in values), key
    assert row["f1_sd"] == 0.0 and row["f1_ci_low"] <= HAND["f1"] <= row["f1_ci_high"]


def test_the_modules_name_f1_as_the_function_does():
    # the example: a prediction 0-4 against gold 0-10 is f1 = 2 * 0.4 / 1.4 everywhere, strict 0
    gold, pred = [[(0, 10, "D")]], [[(0, 4, "D")]]
    module = ecr_hf.load_metric("span_metrics").compute(predictions=[dicts(pred[0])], references=[dicts(gold[0])])
    wsm = ecr_hf.load_metric("weighted_soft_match").compute(predictions=[dicts(pred[0])], references=[dicts(gold[0])])
    for scores in (ecr_hf.span_metrics(gold, pred), module, wsm):
        assert scores["f1"] == pytest.approx(0.8 / 1.4)
    assert module["strict_f1"] == ecr_hf.span_metrics(gold, pred)["strict_f1"] == 0.0


def test_leaderboard_table_and_model_card_read_the_same_keys(results_file, tmp_path):
    (row,) = load_results(results_file).to_list()
    table = list(csv.reader(io.StringIO(leaderboard_table([row], metrics=["f1", "recall", "precision"], fmt="csv"))))
    for title, cell in zip(table[0][1:], table[1][1:]):
        p, metric = re.fullmatch(r"p=(\S+) (\w+)", title).groups()
        mean = HAND[f"p{p}_{metric}"]
        assert cell.startswith(f"{mean:.3f} (0.000) ["), (title, cell)
    by_length = list(csv.reader(io.StringIO(leaderboard_table([row], by="length", metrics=["recall"], fmt="csv"))))
    assert by_length[1][by_length[0].index("3-6 recall")].startswith(f"{HAND['len_3-6_recall']:.3f} (0.000)")

    metrics = card_metrics(read_scores(results_file))
    assert {m.key for m in metrics} >= {"p1_f1", "p100_recall", "strict_f1", "char_f1"}
    for metric in metrics:
        (row_of_key,) = rows_of(metric.key, "card")
        assert row_of_key.card.replace("{m}", metric.key.rsplit("_", 1)[1]) == metric.metric_type, metric
        assert metric.value == pytest.approx(HAND[metric.key], abs=1e-12) and metric.sd == 0.0
    write_model_card(tmp_path, results_file, eval_results=False)
    header = (tmp_path / "README.md").read_text(encoding="utf-8").split("---\n")[1]
    written = [(m["type"], m["value"]) for m in yaml.safe_load(header)["model-index"][0]["results"][0]["metrics"]]
    assert [(t, v) for t, v in written if not t.endswith("_sd")] == [(m.metric_type, m.value) for m in metrics]


def test_generation_evaluation_logs_the_function_keys():
    from ecr_hf.instruct import evaluate_generations

    data = [{"source": t, "entities": dicts(d)} for t, d in zip(TEXTS, GOLD)]
    scores = evaluate_generations(data, GENERATIONS)
    check_keys(scores, "gen")
    untyped = ecr_hf.span_metrics([[s[:2] for s in d] for d in GOLD], [[s[:2] for s in d] for d in PRED], texts=TEXTS)
    assert {k: v for k, v in scores.items() if not k.startswith("faithfulness_")} == untyped
    assert scores["faithfulness_exact_match_rate"] == 1.0 and scores["f1"] == pytest.approx(HAND["f1"])
    assert scores["strict_f1"] == pytest.approx(HAND["strict_f1"])
