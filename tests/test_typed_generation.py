"""Typed extraction for generative models: typed markers (``@@aspirin##Chemical``) and per-label queries.

Round trips of the typed grammar (labels that are prefixes of each other and of the text after them,
``##`` in the source), tolerant decoding of imperfect typed generations, constrained decoding that
lets only a known label follow ``##`` (against an independent reference of the grammar, on tiny
random-weight Llamas), and SFT -> generation -> decoding -> per-label scores for both modes.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from test_constrained import faithful
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessor, PreTrainedTokenizerFast

from ecr_hf.instruct import (
    DEFAULT_TYPED,
    ECRSFTConfig,
    ECRSFTTrainer,
    FaithfulMarkerLogitsProcessor,
    decode_generations,
    evaluate_generations,
    generate_predictions,
    render_prompt,
    resolve_template,
    to_instruction_dataset,
    token_bytes,
)
from ecr_hf.spans import MarkerError, Span, SpanError, decode_corpus, decode_marked, parse_marked, spans_to_marked

LABELS = ["Chemical", "Disease"]
PREFIXED = ["Chem", "Chemical", "Disease"]  # "Chem" is a prefix of "Chemical"

# --- the typed grammar: writing and strict reading -------------------------------------------------


def test_typed_round_trip():
    text = "aspirin-induced asthma"
    spans = [Span(0, 7, "Chemical"), Span(16, 22, "Disease")]
    marked = spans_to_marked(text, spans, labels=LABELS)
    assert marked == "@@aspirin##Chemical-induced @@asthma##Disease"
    assert parse_marked(marked, labels=LABELS) == (text, spans)
    assert parse_marked(marked, labels=LABELS, text=text) == (text, spans)
    # the label set's order does not matter; duplicates are dropped
    assert parse_marked(marked, labels=["Disease", "Chemical", "Disease"]) == (text, spans)
    # untyped writing and reading are unchanged
    assert spans_to_marked(text, spans) == "@@aspirin##-induced @@asthma##"
    assert parse_marked("@@aspirin##-induced", label="X") == ("aspirin-induced", [Span(0, 7, "X")])


def test_labels_that_are_prefixes_of_labels_and_of_the_text_after_them():
    # longest label first: "##Chemical" is Chemical, not Chem + "ical"
    assert parse_marked("@@x##Chemical y", labels=PREFIXED) == ("x y", [Span(0, 1, "Chemical")])
    assert parse_marked("@@x##Chem y", labels=PREFIXED) == ("x y", [Span(0, 1, "Chem")])
    # a label followed by text that starts like a label: the text stays intact
    for text, label in [("x Chemicals", "Chemical"), ("xChemical", "Chemical"), ("xDisease", "Disease"),
                        ("xChemi", "Chem"), ("xhem", "Chem"), ("x", "Chem")]:
        spans = [Span(0, 1, label)]
        marked = spans_to_marked(text, spans, labels=PREFIXED)
        assert parse_marked(marked, labels=PREFIXED) == (text, spans), marked
        assert decode_marked(marked, text, labels=PREFIXED).spans == spans
    # Chem followed by "ical" would read back as Chemical: refused, with the reason
    with pytest.raises(MarkerError, match="would read back as the label 'Chemical'"):
        spans_to_marked("xical", [(0, 1, "Chem")], labels=PREFIXED)
    # marker characters next to a marker would not read back either
    with pytest.raises(MarkerError, match="does not read back"):
        spans_to_marked("x#y", [(0, 2, "Chem")], labels=PREFIXED)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_typed_round_trip_property(data):
    """Whatever the text and spans: the writer refuses, or strict reading and decoding give them back."""
    text = data.draw(st.text(alphabet="Chemical Disz#@", max_size=16))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=6)))
    spans = [Span(a, b, data.draw(st.sampled_from(PREFIXED))) for a, b in zip(cuts[0::2], cuts[1::2]) if a < b]
    try:
        marked = spans_to_marked(text, spans, labels=PREFIXED)
    except MarkerError:
        return
    assert parse_marked(marked, labels=PREFIXED) == (text, spans)
    result = decode_marked(marked, text, labels=PREFIXED)
    assert result.spans == spans and result.exact and result.n_spans_unlabelled == 0


def test_typed_grammar_errors():
    for bad in ([], ()):
        for call in (lambda: spans_to_marked("ab", [], labels=bad), lambda: parse_marked("ab", labels=bad),
                     lambda: decode_marked("ab", "ab", labels=bad), lambda: decode_corpus(["ab"], ["ab"], labels=bad)):
            with pytest.raises(ValueError, match="labels is empty"):
                call()
    with pytest.raises(TypeError, match="wrap it in a list"):
        spans_to_marked("ab", [], labels="Chemical")
    for bad in (["Chem##x"], ["@@"], [""], [None]):
        with pytest.raises(ValueError, match="contains the|non-empty string"):
            parse_marked("ab", labels=bad)
    with pytest.raises(SpanError, match="not one of the labels"):
        spans_to_marked("ab", [(0, 1, "Drug")], labels=LABELS)
    with pytest.raises(SpanError, match="not one of the labels"):
        spans_to_marked("ab", [(0, 1)], labels=LABELS)
    with pytest.raises(MarkerError, match="already contains"):  # as untyped: the source holds a marker
        spans_to_marked("a ## b", [(0, 1, "Chemical")], labels=LABELS)
    with pytest.raises(MarkerError, match="not followed by a label"):
        parse_marked("@@a## b", labels=LABELS)
    with pytest.raises(MarkerError, match="not followed by a label"):
        parse_marked("@@a##Drug b", labels=LABELS)
    with pytest.raises(ValueError, match="label= labels untyped spans"):
        parse_marked("@@a##Disease b", labels=LABELS, label="X")


# --- tolerant decoding of imperfect typed generations ----------------------------------------------

def test_decoding_imperfect_typed_generations():
    source = "aspirin caused asthma and fever"
    cases = [
        # substitutions and an insertion: the spans are placed, with their labels
        ("@@aspirn##Chemical caused @@astma##Disease and fever!", [(0, 7, "Chemical"), (15, 21, "Disease")], 0),
        # chat around the answer; full-width text compared under NFKC
        ("Sure:\n@@ａｓｐｉｒｉｎ##Chemical caused asthma and @@fever##Disease\nDone.",
         [(0, 7, "Chemical"), (26, 31, "Disease")], 0),
        # an unknown label is inserted text: the span is kept unlabelled and counted
        ("@@aspirin##Drug caused @@asthma##Disease and fever", [(0, 7, None), (15, 21, "Disease")], 1),
        # a missing label; an unclosed span at the end of a truncated generation is dropped
        ("@@aspirin## caused @@asthma##Disease and @@fev", [(0, 7, None), (15, 21, "Disease")], 1),
        # nested spans: the outer one is kept with its own label
        ("@@aspirin caused @@asthma##Disease##Chemical and fever", [(0, 21, "Chemical")], 0),
    ]
    for generation, expected, unlabelled in cases:
        r = decode_marked(generation, source, labels=LABELS)
        assert [tuple(s) for s in r.spans] == expected, generation
        assert r.n_spans_unlabelled == unlabelled, generation
        assert any("not followed by a known label" in i for i in r.issues) == bool(unlabelled)
    # label= gives unlabelled spans a label of your choice (they are still counted)
    r = decode_marked("@@aspirin## caused asthma and fever", source, labels=LABELS, label="Other")
    assert r.spans == [Span(0, 7, "Other")] and r.n_spans_unlabelled == 1
    # the report counts unlabelled spans only when decoding typed; untyped keys are unchanged
    spans, report = decode_corpus([c[0] for c in cases], [source] * len(cases), labels=LABELS)
    assert report.n_spans_unlabelled == 2 and report.to_dict()["faithfulness_n_spans_unlabelled"] == 2.0
    _, untyped = decode_corpus([c[0] for c in cases], [source] * len(cases))
    assert untyped.n_spans_unlabelled is None and "faithfulness_n_spans_unlabelled" not in untyped.to_dict()
    assert "n_spans_unlabelled" not in repr(untyped)
    # untyped decoding of a typed generation reads the labels as inserted text, spans unlabelled
    r = decode_marked("@@aspirin##Chemical caused @@asthma##Disease and fever", source)
    assert r.spans == [Span(0, 7), Span(15, 21)] and not r.exact and r.n_spans_unlabelled is None


def test_typed_markers_in_the_source():
    """A ``##`` (with a label after it) copied from the source is source text, as untyped markers are."""
    source = "x ##Chemical y z ## w"
    r = decode_marked("x ##Chemical y @@z##Disease ## w", source, labels=LABELS)
    assert r.spans == [Span(15, 16, "Disease")] and r.exact
    r = decode_marked("x ##Chemical y z ## w", source, labels=LABELS)
    assert r.spans == [] and r.exact and r.n_spans_unlabelled == 0
    # with an edit elsewhere: still aligned onto the source's own marker
    r = decode_marked("x ##Chemical y @@z##Disease ## w.", source, labels=LABELS)
    assert r.spans == [Span(15, 16, "Disease")] and not r.exact


# --- constrained decoding ---------------------------------------------------------------------------

def typed_faithful(out: bytes, source: str, labels: list[str], required: bool = True, prefix: bool = False) -> bool:
    """The independent reference of tests/test_constrained.py with typed markers."""
    return faithful("", source, prefix=prefix, data=out, labels=labels, required=required)


def _hf(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


@lru_cache(maxsize=None)
def char_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE with a few merges, so tokens mix labels, markers and text."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = ["@@aspirin##Chemical caused @@asthma##Disease.", "##Chem ##Chemical ##Disease", "発熱と咳嗽が見られた。"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts * 3, trainer)
    return _hf(tok)


@lru_cache(maxsize=None)
def random_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config).eval()


class Boost(LogitsProcessor):
    """Pushes tokens with marker or label bytes up, so that a random model opens and closes spans."""

    def __init__(self, ids: list[int], by: float = 6.0):
        self.ids, self.by = ids, by

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.ids] += self.by
        return scores


SOURCES = ["Chemical aspirin ical asthma.", "発熱と咳嗽が見られた。", "Chemi Chem x"]


@pytest.mark.parametrize("required", [True, False])
def test_constrained_generation_reads_back_with_the_label_set(required):
    tok = char_tokenizer()
    model = random_llama(len(tok))
    table = token_bytes(tok)
    boost = [i for i, b in enumerate(table) if b and re.match(rb"[@#]|Chem|Dis", b)]
    batch = tok([f"<s>{s}\n" for s in SOURCES], return_tensors="pt", padding=True, padding_side="left",
                add_special_tokens=False)
    n_spans = n_labels = 0
    for seed in (0, 1):
        processor = FaithfulMarkerLogitsProcessor(SOURCES, tok, labels=PREFIXED, label_required=required,
                                                  max_new_tokens=90)
        torch.manual_seed(seed)
        out = model.generate(**batch, logits_processor=[Boost(boost), processor], max_new_tokens=90, do_sample=True,
                             pad_token_id=0, eos_token_id=2)
        for row, source in zip(out[:, batch["input_ids"].shape[1]:].tolist(), SOURCES):
            text = processor.vocab.decode(row)
            assert typed_faithful(text.encode(), source, PREFIXED, required), text
            result = decode_marked(text, source, labels=PREFIXED)
            assert result.exact and result.n_spans_dropped == 0 and result.n_spans_adjusted == 0
            if required:
                plain, spans = parse_marked(text, labels=PREFIXED)  # strict: every ## has a label
                assert plain == source and result.spans == spans
            n_spans += len(result.spans)
            n_labels += sum(s.label is not None for s in result.spans)
    assert n_spans > 0 and n_labels > 0  # spans were opened, closed and labelled
    if required:
        assert n_labels == n_spans


def _allowed(processor, tok, prefix_ids) -> set[int]:
    ids = torch.tensor([[1, 5, 6] + prefix_ids], dtype=torch.long)
    return set(np.flatnonzero(np.isfinite(processor(ids, torch.zeros(1, len(tok))).numpy()[0])).tolist())


def test_only_a_label_may_follow_the_close_marker():
    tok = char_tokenizer()
    table = token_bytes(tok)
    source = "発熱と咳嗽"
    for required in (True, False):
        processor = FaithfulMarkerLogitsProcessor([source], tok, labels=PREFIXED, label_required=required)
        _allowed(processor, tok, [])  # the first call fixes where the prompt ends
        allowed = _allowed(processor, tok, tok("@@発熱##", add_special_tokens=False)["input_ids"])
        assert allowed
        labels = [x.encode() for x in PREFIXED]
        for t in allowed:
            raw = table[t]
            is_label = raw is not None and any(x.startswith(raw) or raw.startswith(x) for x in labels)
            # without a label: copy on ("と"), or open the next span
            assert is_label or (not required and raw is not None and raw[:1] in (b"\xe3", b"@")), raw
        starts = {table[t][:1] for t in allowed}
        assert {b"C", b"D"} <= starts  # every label can be started
        assert (b"\xe3" in starts) == (not required)  # copying on only when a label may be left out
        # at the end of the source: EOS only once a label is written, unless it may be left out
        processor = FaithfulMarkerLogitsProcessor([source], tok, labels=PREFIXED, label_required=required)
        _allowed(processor, tok, [])
        allowed = _allowed(processor, tok, tok("@@発熱と咳嗽##", add_special_tokens=False)["input_ids"])
        assert (tok.eos_token_id in allowed) == (not required)
        assert all(any(x.startswith(table[t]) or table[t].startswith(x) for x in labels)
                   for t in allowed - {tok.eos_token_id})


@pytest.mark.parametrize("marked", ["@@aspirin##Chemical ical", "@@aspirin##Chem@@ical##Disease", "@@a##Chemi@@c##Chem",
                                    "@@x##Chemic@@al##Disease"])
def test_allowed_tokens_match_the_reference(marked):
    """At every step along a typed answer, the allowed tokens are exactly the continuations of the
    reference grammar (longest-label rule included: after ``Chem``, copied text may not spell ``ical``)."""
    tok = char_tokenizer()
    table = token_bytes(tok)
    source, _ = parse_marked(marked, labels=PREFIXED)
    prefix_ids = tok(marked, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    processor = FaithfulMarkerLogitsProcessor([source], tok, labels=PREFIXED)
    for k in range(len(prefix_ids)):
        allowed = _allowed(processor, tok, prefix_ids[:k])
        done = b"".join(table[i] for i in prefix_ids[:k])
        expected = {t for t, raw in enumerate(table)
                    if raw is not None and typed_faithful(done + raw, source, PREFIXED, prefix=True)}
        if typed_faithful(done, source, PREFIXED):
            expected.add(tok.eos_token_id)
        assert allowed == expected, f"step {k} after {done.decode(errors='replace')!r}"
        assert prefix_ids[k] in allowed


def test_processor_label_errors():
    tok = char_tokenizer()
    with pytest.raises(ValueError, match="labels is empty"):
        FaithfulMarkerLogitsProcessor(["ab"], tok, labels=[])
    with pytest.raises(ValueError, match="contains the close_marker"):
        FaithfulMarkerLogitsProcessor(["ab"], tok, labels=["a##"])



def test_tight_budget_counts_the_labels():
    """With the budget of a plain copy plus a few tokens, spans are opened only where their markers and a
    label still fit: generation always finishes, and reads back with the label set."""
    tok = char_tokenizer()
    model = random_llama(len(tok))
    table = token_bytes(tok)
    boost = [i for i, b in enumerate(table) if b and re.match(rb"[@#]|Chem|Dis", b)]
    source = "aspirin caused asthma"
    need = FaithfulMarkerLogitsProcessor([source], tok, labels=LABELS).machines[0].check_budget()
    batch = tok([f"<s>{source}\n"], return_tensors="pt", add_special_tokens=False)
    for extra in (0, 3, 6):
        processor = FaithfulMarkerLogitsProcessor([source], tok, labels=LABELS, max_new_tokens=need + extra)
        out = model.generate(**batch, logits_processor=[Boost(boost, by=20.0), processor],
                             max_new_tokens=need + extra, do_sample=False, pad_token_id=0, eos_token_id=2)
        new = out[0, batch["input_ids"].shape[1]:].tolist()
        assert new[-1] == tok.eos_token_id and len(new) <= need + extra
        text = processor.vocab.decode(new)
        assert parse_marked(text, labels=LABELS)[0] == source, text
        if extra == 6:
            assert "##" in text  # room for a span: the boosted markers and a label fit
    with pytest.raises(ValueError, match="too small"):
        processor = FaithfulMarkerLogitsProcessor([source], tok, labels=LABELS, max_new_tokens=need - 1)
        processor(torch.ones(1, 3, dtype=torch.long), torch.zeros(1, len(tok)))


# --- SFT, generation, decoding and per-label scores -------------------------------------------------

DOCS = [
    {"text": "aspirin caused asthma.", "entities": [{"start": 0, "end": 7, "label": "Chemical"},
                                                    {"start": 15, "end": 21, "label": "Disease"}]},
    {"text": "No fever after ibuprofen.", "entities": [{"start": 3, "end": 8, "label": "Disease"},
                                                      {"start": 15, "end": 24, "label": "Chemical"}]},
    {"text": "Cough persisted.", "entities": [{"start": 0, "end": 5, "label": "Disease"}]},
    {"text": "Heparin was given.", "entities": [{"start": 0, "end": 7, "label": "Chemical"}]},
]
MARKERS_TEMPLATE = "[{labels}] {input}\n=>"
QUERY_TEMPLATE = "[{label}] {input}\n=>"


@lru_cache(maxsize=None)
def sft_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [d["text"] for d in DOCS]
    for typed, template in (("markers", MARKERS_TEMPLATE), ("queries", QUERY_TEMPLATE)):
        ds = to_instruction_dataset(DOCS, template=template, unit="document", typed=typed)
        texts += list(ds["prompt"]) + list(ds["completion"])
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts * 3, trainer)
    return _hf(tok)


def sft_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(sft_tokenizer()), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config)


def sft_config(tmp_path, **kwargs) -> ECRSFTConfig:
    defaults = dict(output_dir=str(tmp_path), bf16=False, report_to=[], use_cpu=True, activation_checkpointing=False,
                    per_device_train_batch_size=4, per_device_eval_batch_size=8, save_strategy="no",
                    eval_strategy="no", disable_tqdm=True, lr_scheduler_type="constant", logging_steps=5,
                    learning_rate=1e-2)
    return ECRSFTConfig(**{**defaults, **kwargs})


def test_formatting_typed_datasets():
    markers = to_instruction_dataset(DOCS, template=MARKERS_TEMPLATE, unit="document", typed="markers")
    assert list(markers["completion"])[:2] == ["@@aspirin##Chemical caused @@asthma##Disease.",
                                               "No @@fever##Disease after @@ibuprofen##Chemical."]
    assert markers[0]["prompt"] == "[Chemical, Disease] aspirin caused asthma.\n=>"
    assert markers[0]["label_set"] == LABELS and markers[0]["entities"][0]["label"] == "Chemical"
    queries = to_instruction_dataset(DOCS, template=QUERY_TEMPLATE, unit="document", typed="queries")
    assert len(queries) == 2 * len(DOCS)  # one example per document x label, in label order
    assert list(queries["query_label"])[:2] == LABELS and list(queries["doc_index"])[:2] == [0, 0]
    assert list(queries["completion"])[:2] == ["@@aspirin## caused asthma.", "aspirin caused @@asthma##."]
    assert queries[1]["prompt"] == "[Disease] aspirin caused asthma.\n=>"
    assert [e["label"] for e in queries[1]["entities"]] == ["Disease"]
    # built-in templates name the labels; the explicit label set fixes their order
    ds = to_instruction_dataset(DOCS[:1], template="en", typed="markers", labels=["Disease", "Chemical"])
    assert "(one of: Disease, Chemical)" in ds[0]["prompt"] and ds[0]["label_set"] == ["Disease", "Chemical"]
    ds = to_instruction_dataset(DOCS[:1], template="ja", typed="queries", conversational=True)
    assert "種類がChemicalである" in ds[0]["prompt"][0]["content"]
    assert render_prompt("en", "x", label="Disease") == resolve_template("en", "queries").replace(
        "{label}", "Disease").replace("{input}", "x")
    # errors
    with pytest.raises(ValueError, match="must contain '{labels}'"):
        to_instruction_dataset(DOCS, template="{input}", typed="markers")
    with pytest.raises(ValueError, match="must contain '{label}'"):
        to_instruction_dataset(DOCS, template="{labels} {input}", typed="queries")
    with pytest.raises(ValueError, match="labels is empty"):
        to_instruction_dataset(DOCS, template="en", typed="markers", labels=[])
    with pytest.raises(SpanError, match="not one of the labels"):
        to_instruction_dataset(DOCS, template="en", typed="markers", labels=["Chemical"])
    with pytest.raises(ValueError, match="pass typed="):
        to_instruction_dataset(DOCS, template="en", labels=LABELS)
    with pytest.raises(ValueError, match="typed must be"):
        to_instruction_dataset(DOCS, template="en", typed="tags")
    assert DEFAULT_TYPED == "markers"


def test_evaluate_typed_generations_by_hand():
    markers = to_instruction_dataset(DOCS[:2], template=MARKERS_TEMPLATE, unit="document", typed="markers")
    generations = ["@@aspirin##Chemical caused @@asthma##Chemical.",  # asthma: right span, wrong label
                   "No @@fever##Disease after @@ibuprofen## ."]  # ibuprofen unlabelled; an inserted space
    m = evaluate_generations(markers, generations, p_values=[1])
    assert m["label_Chemical_recall"] == pytest.approx(7 / 16) and m["label_Chemical_precision"] == pytest.approx(7 / 13)
    assert m["label_Disease_recall"] == pytest.approx(5 / 11) and m["label_Disease_precision"] == 1.0
    assert m["char_f1"] == 1.0 and m["strict_recall"] == 0.5  # untyped, every character was found
    assert m["faithfulness_n_spans_unlabelled"] == 1 and m["faithfulness_exact_match_rate"] == 0.5
    queries = to_instruction_dataset(DOCS[:2], template=QUERY_TEMPLATE, unit="document", typed="queries")
    answers = ["@@aspirin## caused asthma.", "aspirin caused @@asthma##.",
               "No fever after ibuprofen.", "No @@fever## after ibuprofen."]
    units, report = decode_generations(queries, answers)
    assert [u["spans"] for u in units] == [[Span(0, 7, "Chemical"), Span(15, 21, "Disease")], [Span(3, 8, "Disease")]]
    assert [u["rows"] for u in units] == [[0, 1], [2, 3]] and report.n_documents == 4
    m = evaluate_generations(queries, answers, p_values=[1])
    assert m["label_Disease_f1"] == 1.0 and m["label_Chemical_recall"] == pytest.approx(7 / 16)
    assert m["n_documents"] == 2 and "faithfulness_n_spans_unlabelled" not in m
    # the untyped path of the same rows ignores labels, as before
    untyped = to_instruction_dataset(DOCS[:2], template="{input}", unit="document")
    assert not any(k.startswith("label_") for k in evaluate_generations(untyped, generations, p_values=[1]))


def _train(tmp_path, ds, steps):
    trainer = ECRSFTTrainer(sft_llama(), args=sft_config(tmp_path, max_steps=steps), train_dataset=ds,
                            eval_dataset=ds, processing_class=sft_tokenizer())
    before = trainer.evaluate()
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return trainer, before, losses


def test_sft_typed_markers_end_to_end(tmp_path):
    ds = to_instruction_dataset(DOCS, template=MARKERS_TEMPLATE, unit="document", typed="markers")
    trainer, before, losses = _train(tmp_path, ds, 60)
    assert before["eval_faithfulness_exact_match_rate"] == 1.0  # constrained to the source and the labels
    assert losses[-1] < 0.2 * losses[0]
    after = trainer.evaluate()
    for label in LABELS:
        assert f"eval_label_{label}_f1" in after and f"eval_label_{label}_n_gold" in after
    assert after["eval_loss"] < before["eval_loss"]
    assert after["eval_label_Chemical_f1"] == pytest.approx(1.0) and after["eval_label_Disease_f1"] == pytest.approx(1.0)
    # standalone: every answer reads back strictly with the label set, onto the gold labelled spans
    answers = generate_predictions(trainer.model, sft_tokenizer(), ds, show_progress=False)
    for answer, row in zip(answers, ds):
        plain, spans = parse_marked(answer, labels=LABELS)
        assert plain == row["source"] and [tuple(s) for s in spans] == [
            (e["start"], e["end"], e["label"]) for e in row["entities"]]
    # template= renders the same prompts from the sources and the label set
    rows = [{"source": r["source"]} for r in ds]
    assert generate_predictions(trainer.model, sft_tokenizer(), rows, template=MARKERS_TEMPLATE, labels=LABELS,
                                show_progress=False) == answers


def test_sft_per_label_queries_end_to_end(tmp_path):
    ds = to_instruction_dataset(DOCS, template=QUERY_TEMPLATE, unit="document", typed="queries")
    trainer, before, losses = _train(tmp_path, ds, 100)
    assert losses[-1] < 0.2 * losses[0]
    after = trainer.evaluate()
    assert after["eval_faithfulness_n_documents"] == len(ds)  # one generation per document x label
    assert after["eval_n_documents"] == len(DOCS)  # scored per document, the queries merged
    assert after["eval_label_Chemical_f1"] == pytest.approx(1.0) and after["eval_label_Disease_f1"] == pytest.approx(1.0)
    # all the queries are generated in batches; template= renders each row's label
    answers = generate_predictions(trainer.model, sft_tokenizer(), ds, batch_size=8, show_progress=False)
    rows = [{"source": r["source"], "query_label": r["query_label"]} for r in ds]
    assert generate_predictions(trainer.model, sft_tokenizer(), rows, template=QUERY_TEMPLATE, batch_size=8,
                                show_progress=False) == answers
    units, _ = decode_generations(ds, answers)
    assert [[tuple(s) for s in u["spans"]] for u in units] == [
        sorted((e["start"], e["end"], e["label"]) for e in d["entities"]) for d in DOCS]
