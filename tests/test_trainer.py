"""ECRTrainer and make_compute_metrics: a toy task is learned and scored on character spans."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, EarlyStoppingCallback, LlamaConfig, PreTrainedTokenizerFast, Trainer, TrainingArguments

from ecr_hf.token_classification import ECRExtractor
from ecr_hf.token_classification import ECRTokenClassifier, TokenClassifierConfig, build_token_classifier
from ecr_hf.token_classification import DataCollatorForWindowedTokenClassification, tokenize_and_align
from ecr_hf.token_classification import ECRTrainer, ECRTrainingArguments, make_compute_metrics

FILLER = "the patient was seen today with mild and no history of recent travel".split()
CONCEPTS = {"fever": "Sign", "cough": "Sign", "heart failure": "Disease", "lung cancer": "Disease"}


def toy_documents(n, seed):
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        words, spans, pos = [], [], 0
        for _ in range(rng.randint(6, 14)):
            if rng.random() < 0.25:
                concept = rng.choice(sorted(CONCEPTS))
                spans.append({"start": pos, "end": pos + len(concept), "label": CONCEPTS[concept]})
                word = concept
            else:
                word = rng.choice(FILLER)
            words.append(word)
            pos += len(word) + 1
        docs.append({"text": " ".join(words), "entities": spans})
    return docs


def toy_tokenizer(bert=True):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + sorted({w for c in CONCEPTS for w in c.split()} | set(FILLER))
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if bert:
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                       cls_token="[CLS]", sep_token="[SEP]", model_max_length=12)
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", eos_token="[SEP]",
                                   model_max_length=12)


def tiny_checkpoint(tmp_path, kind):
    torch.manual_seed(0)
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=40)
    if kind == "bert":
        from transformers import BertModel
        model = BertModel(BertConfig(**small, max_position_embeddings=64))
    else:
        from transformers import LlamaModel
        model = LlamaModel(LlamaConfig(**small, num_key_value_heads=2, max_position_embeddings=64))
    path = tmp_path / kind
    model.save_pretrained(path)
    return str(path)


LABELS = ["O", "B-Disease", "I-Disease", "B-Sign", "I-Sign"]


def args_for(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path / "out"), learning_rate=5e-3, num_train_epochs=6,
                per_device_train_batch_size=16, per_device_eval_batch_size=8, max_length=12, stride=3,
                report_to=[], logging_steps=5, save_strategy="no", use_cpu=True, seed=0)
    base.update(kw)
    return ECRTrainingArguments(**base)


def test_encoder_learns_toy_task_and_scores_character_spans(tmp_path):
    train, test = toy_documents(160, seed=1), toy_documents(24, seed=2)
    tok = toy_tokenizer()
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(tmp_path, "bert"), labels=LABELS), tok)
    args = args_for(tmp_path, eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
                    metric_for_best_model="f1", save_total_limit=2)
    trainer = ECRTrainer(model=model, args=args, train_dataset=train, eval_dataset=test, processing_class=tok,
                         callbacks=[EarlyStoppingCallback(early_stopping_patience=2)])
    before = trainer.evaluate()
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < 0.5 * losses[0]
    per_epoch = [h["eval_f1"] for h in trainer.state.log_history if "eval_f1" in h][1:]
    assert trainer.state.best_metric == max(per_epoch)
    after = trainer.evaluate()
    assert after["eval_f1"] == pytest.approx(trainer.state.best_metric)  # the best checkpoint was reloaded
    with torch.no_grad():  # the restore really reads the checkpoint: wipe the weights, reload them
        for param in trainer.model.parameters():
            param.zero_()
    trainer._load_best_model()
    assert trainer.evaluate()["eval_f1"] == pytest.approx(trainer.state.best_metric)
    for key in ("eval_f1", "eval_p100_f1", "eval_char_f1", "eval_strict_f1", "eval_label_Sign_f1",
                "eval_len_3-6_recall", "eval_case_f1", "eval_marker_f1"):
        assert key in after
    assert after["eval_f1"] > 0.95 > before["eval_f1"]
    assert after["eval_f1"] == after["eval_p1_f1"] == after["eval_char_f1"]
    # predictions come back as the right character spans (windows of 12 tokens merged)
    out = trainer.predict(test)
    exact = sum([tuple(s) for s in pred] == [(e["start"], e["end"], e["label"]) for e in doc["entities"]]
                for pred, doc in zip(out.predictions, test))
    assert exact >= 0.9 * len(test)
    assert out.metrics["test_strict_f1"] > 0.9

    # the extractor reloads the saved model and gives the trainer's spans, with scores
    trainer.save_model(str(tmp_path / "saved"))
    extractor = ECRExtractor.from_pretrained(tmp_path / "saved", max_length=12, stride=3, batch_size=5)
    texts = [d["text"] for d in test]
    found = extractor(texts + [""])
    assert found[-1] == []
    assert [[(s["start"], s["end"], s["label"]) for s in spans] for spans in found[:-1]] == \
        [[tuple(s) for s in pred] for pred in out.predictions]
    assert all(0.0 < s["score"] <= 1.0 and s["text"] == t[s["start"]:s["end"]]
               for spans, t in zip(found, texts) for s in spans)
    assert extractor(texts[0]) == found[0]
    marked = extractor.to_marked(texts[:3])
    assert [m.replace("@@", "").replace("##", "") for m in marked] == texts[:3]
    assert extractor.to_dataset(texts[:3])["entities"] == found[:3]

    # the same scores through the plain Trainer with make_compute_metrics, all at once and batch by batch
    features = tokenize_and_align(test, tok, LABELS and dict(model.config.label2id), max_length=12, stride=3)
    for batched in (False, True):
        plain = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path / "plain"), report_to=[],
                                                            per_device_eval_batch_size=8, use_cpu=True,
                                                            batch_eval_metrics=batched),
                        eval_dataset=features.remove_columns(["offset_mapping", "token_positions", "word_ids",
                                                              "document_index", "window_index", "num_windows"]),
                        data_collator=DataCollatorForWindowedTokenClassification(tok),
                        compute_metrics=make_compute_metrics(features, test, model.config.label2id))
        got = plain.evaluate()
        assert got["eval_f1"] == pytest.approx(after["eval_f1"])
        assert got["eval_strict_f1"] == pytest.approx(after["eval_strict_f1"])


def test_decoder_lora_bidirectional_crf_trains_saves_and_reloads(tmp_path):
    train, test = toy_documents(120, seed=3), toy_documents(12, seed=4)
    tok = toy_tokenizer(bert=False)
    cfg = TokenClassifierConfig(tiny_checkpoint(tmp_path, "llama"), labels=LABELS, crf=True, bidirectional="all",
                                lora={"r": 8, "lora_alpha": 16})
    model = build_token_classifier(cfg, tok)
    trainer = ECRTrainer(model=model, args=args_for(tmp_path, num_train_epochs=8, learning_rate=1e-2),
                         train_dataset=train, eval_dataset=test, processing_class=tok)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < 0.5 * losses[0]
    scores = trainer.evaluate()
    assert scores["eval_f1"] > 0.8
    trainer.save_model(str(tmp_path / "saved"))
    reloaded = ECRTokenClassifier.from_pretrained(tmp_path / "saved")
    again = ECRTrainer(model=reloaded, args=args_for(tmp_path), eval_dataset=test, processing_class=tok).evaluate()
    assert again["eval_f1"] == pytest.approx(scores["eval_f1"])


def run_two_processes(mode: str, model_dir, out_dir) -> list[dict]:
    """``tests/ddp_worker.py`` under torchrun on 2 CPU processes; what each rank wrote."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(Path(__file__).parent / "ddp_worker.py"), mode, str(model_dir), str(out_dir)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return [json.loads((Path(out_dir) / f"rank{rank}.json").read_text()) for rank in (0, 1)]


def test_two_process_evaluation_scores_the_whole_set(tmp_path):
    """Each rank gathers all windows (the evened last batch's repeats dropped) and reports the
    single-process scores and spans."""
    from ddp_worker import EVAL_DOCS

    tok = toy_tokenizer()
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(tmp_path, "bert"), labels=LABELS), tok)
    trainer = ECRTrainer(model=model, args=args_for(tmp_path, num_train_epochs=1, learning_rate=1e-2),
                         train_dataset=toy_documents(80, 1), processing_class=tok)
    trainer.train()  # part-trained: some spans right, some wrong
    trainer.save_model(str(tmp_path / "saved"))
    test = toy_documents(EVAL_DOCS, seed=2)
    single = trainer.evaluate(test)
    spans = [[s._asdict() for s in doc] for doc in trainer.predict(test).predictions]
    one_doc = trainer.evaluate(test[:1], metric_key_prefix="one")
    assert 0.2 < single["eval_f1"] < 1.0

    for got in run_two_processes("token-classification", tmp_path / "saved", tmp_path):
        assert got["spans"] == spans
        for expected, metrics in ((single, got["metrics"]), (one_doc, got["one_doc"])):
            for key, value in expected.items():
                if key != "epoch" and not key.endswith(("runtime", "per_second", "loss", "_time")):
                    assert metrics[key] == pytest.approx(value, abs=1e-12), key


def test_trainer_rejects_pretokenized_data_and_bad_spans(tmp_path):
    tok = toy_tokenizer()
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(tmp_path, "bert"), labels=LABELS), tok)
    features = tokenize_and_align(toy_documents(4, 0), tok, dict(model.config.label2id), max_length=12, stride=3)
    with pytest.raises(ValueError, match="already tokenized"):
        ECRTrainer(model=model, args=args_for(tmp_path), train_dataset=features, processing_class=tok)
    with pytest.raises(ValueError, match="document 0, span 0"):
        ECRTrainer(model=model, args=args_for(tmp_path), processing_class=tok,
                   eval_dataset=[{"text": "fever", "entities": [{"start": 0, "end": 9, "label": "Sign"}]}])
    with pytest.raises(ValueError, match="Unknown"):
        ECRTrainer(model=model, args=args_for(tmp_path), processing_class=tok,
                   train_dataset=[{"text": "fever", "entities": [{"start": 0, "end": 5, "label": "Unknown"}]}])


def test_ci_floor_pins_are_the_declared_lower_bounds(tmp_path):
    """.ci/floors.py pins the floor environment to pyproject's lower bounds (issue 8 item 20)."""
    import runpy
    from importlib.metadata import version

    from packaging.version import Version

    repo = Path(__file__).resolve().parents[1]
    floors = runpy.run_path(str(repo / ".ci" / "floors.py"))["floors"]
    pins = floors(repo / "pyproject.toml")
    assert set(pins) == {"transformers", "trl", "peft", "accelerate", "datasets", "evaluate"}
    for name, low in pins.items():  # this environment is inside the declared range
        assert Version(version(name)) >= Version(low), name
    assert Version(pins["transformers"]) >= Version("5.23")  # activation_checkpointing, which ECRSFTConfig uses
    unbounded = (repo / "pyproject.toml").read_text(encoding="utf-8").replace('"trl>=', '"trl<99,!=')
    (tmp_path / "pyproject.toml").write_text(unbounded, encoding="utf-8")
    with pytest.raises(SystemExit, match="needs exactly one '>=' lower bound"):
        floors(tmp_path / "pyproject.toml")
