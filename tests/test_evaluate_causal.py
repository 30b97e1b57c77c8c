"""``ecr-hf evaluate`` / ``predict`` on causal LMs: the same spans and scores as generating, decoding and
``cv-score`` by hand; constrained, k-shot, typed, LoRA adapters; on tiny random-weight Llamas."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import ecr_hf.instruct.generation as generation
from ecr_hf.cli import main
from ecr_hf.instruct import generate_predictions, to_instruction_dataset
from ecr_hf.leaderboard.evaluation import SHOT_SEPARATOR, GenerationOptions, detect_kind, evaluate_model
from ecr_hf.spans import decode_corpus

TEXTS = ["Aspirin caused asthma.", "No fever after cisplatin.", "Heparin and bleeding.", "Cough with rash.",
         "Lithium toxicity seen.", "Ibuprofen for pain.", "Mild anemia noted.", "Insulin for diabetes."]
SPANS = [[(0, 7, "Chemical"), (15, 21, "Disease")], [(3, 8, "Disease"), (15, 24, "Chemical")],
         [(0, 7, "Chemical"), (12, 20, "Disease")], [(0, 5, "Disease"), (11, 15, "Disease")],
         [(0, 7, "Chemical")], [(0, 9, "Chemical"), (14, 18, "Disease")], [(5, 11, "Disease")],
         [(0, 7, "Chemical"), (12, 20, "Disease")]]
DOCS = [{"doc_id": f"d{i}", "text": t, "entities": [{"start": a, "end": b, "label": c} for a, b, c in s]}
        for i, (t, s) in enumerate(zip(TEXTS, SPANS))]
TEMPLATE = "{input}\n=>"
TYPED_TEMPLATE = "{labels}: {input}\n=>"
NEW_TOKENS = 12


@lru_cache(maxsize=None)
def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    marked = list(to_instruction_dataset(DOCS, template=TYPED_TEMPLATE, unit="document", typed="markers")["completion"])
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<|user|>", "<|bot|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator((TEXTS + marked) * 3, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    hf.chat_template = ("{% for m in messages %}{{ '<|user|>' if m.role == 'user' else '<|bot|>' }}{{ m.content }}"
                        "{% endfor %}{% if add_generation_prompt %}<|bot|>{% endif %}")
    return hf


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory) -> Path:
    """A tiny random Llama saved with its tokenizer."""
    path = tmp_path_factory.mktemp("causal") / "tiny-llama"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer()), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def cv(tmp_path_factory) -> Path:
    """Two folds (cv-split --no-validation): fold{k}/train.jsonl and fold{k}/test.jsonl."""
    root = tmp_path_factory.mktemp("data")
    (root / "all.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    assert main(["cv-split", str(root / "all.jsonl"), "--folds", "2", "--no-validation", "--output-dir",
                 str(root / "cv")]) == 0
    return root / "cv"


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def capture_rows(monkeypatch) -> list[list[dict]]:
    """Record the rows each generate_predictions call gets (one call per fold)."""
    calls, generate = [], generation.generate_predictions

    def recording(model, tok, rows, **kwargs):
        calls.append(list(rows))
        return generate(model, tok, rows, **kwargs)

    monkeypatch.setattr(generation, "generate_predictions", recording)
    return calls


def test_a_causal_lm_folder_and_an_adapter_are_detected(causal_dir, tmp_path):
    assert detect_kind(causal_dir) == "causal-lm"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/not-downloaded"}))
    with pytest.raises(ValueError, match="not a local folder"):
        detect_kind(adapter)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(causal_dir)}))
    assert detect_kind(adapter) == "causal-lm"


def test_evaluate_equals_generating_decoding_and_cv_score_by_hand(causal_dir, cv, tmp_path):
    out = tmp_path / "eval"
    result = evaluate_model(causal_dir, cv, out, generation=GenerationOptions(TEMPLATE, max_new_tokens=NEW_TOKENS),
                            batch_size=3, model_name="tiny", dataset="toy")
    assert len(result.folds) == 2
    model, tok = AutoModelForCausalLM.from_pretrained(causal_dir), AutoTokenizer.from_pretrained(causal_dir)
    for k in range(2):
        docs = lines(cv / f"fold{k}" / "test.jsonl")
        rows = to_instruction_dataset([{"text": d["text"], "entities": []} for d in docs], template=TEMPLATE,
                                      unit="document", conversational=True)  # the tokenizer has a chat template
        generations = generate_predictions(model, tok, rows, batch_size=3, max_new_tokens=NEW_TOKENS,
                                           constrained=False, show_progress=False)
        spans, _ = decode_corpus(generations, [d["text"] for d in docs])
        assert lines(out / "predictions" / f"fold{k}.jsonl") == [
            {"doc_id": d["doc_id"], "entities": [s.to_dict() for s in found]} for d, found in zip(docs, spans)]
        (tmp_path / "marked").mkdir(exist_ok=True)
        (tmp_path / "marked" / f"fold{k}.jsonl").write_text(
            "".join(json.dumps({"doc_id": d["doc_id"], "marked": g}) + "\n" for d, g in zip(docs, generations)))
    assert main(["cv-score", "--references", str(cv / "fold{k}" / "test.jsonl"), "--predictions",
                 str(tmp_path / "marked" / "fold{k}.jsonl"), "--folds", "2", "--model-name", "tiny", "--dataset",
                 "toy", "--output", str(tmp_path / "by_hand.json")]) == 0
    evaluated, by_hand = (json.loads(p.read_text()) for p in (out / "results.json", tmp_path / "by_hand.json"))
    assert evaluated["folds"] == by_hand["folds"] and evaluated["results"] == by_hand["results"]
    assert "faithfulness_exact_match_rate" in evaluated["folds"][0]
    assert evaluated["config"]["kind"] == "causal-lm" and evaluated["config"]["template"] == TEMPLATE
    with pytest.raises(ValueError, match="untyped generation gives none"):
        evaluate_model(causal_dir, cv, tmp_path / "typed", typed=True)


def test_constrained_decoding_copies_exactly(causal_dir, cv, tmp_path):
    options = GenerationOptions(TEMPLATE, constrained=True)
    result = evaluate_model(causal_dir, cv, tmp_path / "out", generation=options, batch_size=4)
    assert [fold["faithfulness_exact_match_rate"] for fold in result.folds] == [1.0, 1.0]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["config"]["constrained"] is True


@pytest.mark.parametrize("chat", [True, False])
def test_k_shot_prompts_hold_k_examples_of_the_folds_training_part(causal_dir, cv, tmp_path, monkeypatch, chat):
    calls = capture_rows(monkeypatch)
    options = GenerationOptions(TEMPLATE, shots=2, max_new_tokens=2, chat=chat)
    evaluate_model(causal_dir, cv, tmp_path / "out", generation=options, seed=1)
    assert len(calls) == 2
    tok = tokenizer()
    for k, rows in enumerate(calls):
        train = {d["text"]: d for d in lines(cv / f"fold{k}" / "train.jsonl")}
        test = [d["text"] for d in lines(cv / f"fold{k}" / "test.jsonl")]
        for row, text in zip(rows, test):
            prompt = row["prompt"]
            if chat:
                assert [m["role"] for m in prompt] == ["user", "assistant"] * 2 + ["user"]
                shown = [m["content"].removesuffix("\n=>") for m in prompt[:-1]]
                rendered = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
                assert rendered.endswith(f"<|user|>{text}\n=><|bot|>")
            else:
                *shots, last = prompt.split(SHOT_SEPARATOR)
                assert last == f"{text}\n=>" and len(shots) == 2
                shown = [part for shot in shots for part in shot.split("\n=>")]
            examples = shown[0::2]
            assert len(examples) == 2 and all(e in train for e in examples)  # the fold's training documents
            assert shown[1] == to_instruction_dataset([train[shown[0]]], template=TEMPLATE,
                                                      unit="document")["completion"][0]  # the gold answer
        assert rows[0]["prompt"] != calls[1 - k][0]["prompt"]  # other folds, other examples
    alone = tmp_path / "alone.jsonl"  # a test file without a training part beside it
    alone.write_text((cv / "fold0" / "test.jsonl").read_text())
    with pytest.raises(ValueError, match="training part of the fold"):
        evaluate_model(causal_dir, alone, tmp_path / "one", generation=options)


def test_a_lora_adapter_evaluates_as_its_merged_model(causal_dir, cv, tmp_path):
    from peft import LoraConfig, get_peft_model

    base = AutoModelForCausalLM.from_pretrained(causal_dir)  # base_model_name_or_path: the local folder
    adapter = tmp_path / "adapter"
    lora = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    lora.save_pretrained(adapter)  # B = 0 at initialisation: the merged model is the base model
    assert detect_kind(adapter) == "causal-lm"
    options = GenerationOptions(TEMPLATE, max_new_tokens=NEW_TOKENS)
    data = cv / "fold0" / "test.jsonl"
    evaluate_model(adapter, data, tmp_path / "lora", generation=options)
    evaluate_model(causal_dir, data, tmp_path / "base", generation=options)
    assert (tmp_path / "lora" / "predictions" / "test.jsonl").read_text() == \
        (tmp_path / "base" / "predictions" / "test.jsonl").read_text()


def typed_dir(root: Path) -> Path:
    """A tiny Llama taught the typed-marker answers of every document (it memorises them)."""
    rows = to_instruction_dataset(DOCS, template=TYPED_TEMPLATE, unit="document", typed="markers",
                                  conversational=True)
    tok = tokenizer()
    texts = [tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=False) + tok.eos_token for r in rows]
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
    path = root / "typed-llama"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_typed_markers_and_queries_give_labelled_spans(cv, tmp_path):
    model = typed_dir(tmp_path)
    for typed, template in (("markers", TYPED_TEMPLATE), ("queries", "{label}: {input}\n=>")):
        options = GenerationOptions(template, typed=typed, constrained=True)
        result = evaluate_model(model, cv, tmp_path / typed, generation=options, typed=True)
        found = [s for k in range(2) for d in lines(tmp_path / typed / "predictions" / f"fold{k}.jsonl")
                 for s in d["entities"]]
        assert found and {s["label"] for s in found} == {"Chemical", "Disease"}
        assert "label_Chemical_f1" in result.folds[0]
        # one generation per document (markers) or per document and label (queries)
        assert [f["faithfulness_n_documents"] for f in result.folds] == [4 * (1 + (typed == "queries"))] * 2
        if typed == "markers":  # it learned the answers (taught on this prompt only)
            assert all(fold["f1"] > 0.5 for fold in result.folds)


def test_predict_writes_the_spans_evaluate_scores(causal_dir, cv, tmp_path, capsys):
    test = cv / "fold0" / "test.jsonl"
    assert main(["predict", "--model", str(causal_dir), "--data", str(test), "--output", str(tmp_path / "p.jsonl"),
                 "--template", TEMPLATE, "--max-new-tokens", str(NEW_TOKENS), "--batch-size", "3"]) == 0
    assert main(["evaluate", "--model", str(causal_dir), "--data", str(test), "--output", str(tmp_path / "ev"),
                 "--template", TEMPLATE, "--max-new-tokens", str(NEW_TOKENS), "--batch-size", "3"]) == 0
    predicted = lines(tmp_path / "p.jsonl")
    assert [p["doc_id"] for p in predicted] == [d["doc_id"] for d in lines(test)]
    assert predicted == lines(tmp_path / "ev" / "predictions" / "test.jsonl")
    assert main(["predict", "--model", str(causal_dir), "--data", str(test), "--output", str(tmp_path / "q.jsonl"),
                 "--typed-generation", "queries", "--template", "{label}: {input}\n=>", "--constrained",
                 "--max-new-tokens", "4"]) == 2
    assert "needs the label set" in capsys.readouterr().err
