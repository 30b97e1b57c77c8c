"""Token classification model side: config, builder over encoders/decoders, LoRA, bidirectional attention, CRF.

Every model is built from a tiny random checkpoint saved by the test (hidden 32, 2 layers, 2 heads,
vocab 100); nothing is downloaded.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from importlib.metadata import version

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from datasets import Dataset  # noqa: E402
from peft import LoraConfig  # noqa: E402
from transformers import (  # noqa: E402
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    default_data_collator,
)

from ecr_hf.spans.formats import tags_to_spans  # noqa: E402
from ecr_hf.token_classification import (  # noqa: E402
    CONFIG_NAME,
    CRF_WEIGHTS_NAME,
    ECRTokenClassifier,
    LinearChainCRF,
    TokenClassifierConfig,
    allowed_transitions,
    apply_bidirectional_attention,
    build_token_classifier,
)

LABELS = ["O", "B-D", "I-D"]
TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, vocab_size=100,
            bos_token_id=1, eos_token_id=2)
FAMILIES = {  # name: (model_type, config)
    "llama": ("llama", dict(TINY, num_key_value_heads=1)),
    "mistral": ("mistral", dict(TINY, num_key_value_heads=1)),
    "mistral-window3": ("mistral", dict(TINY, num_key_value_heads=1, sliding_window=3)),
    "qwen2": ("qwen2", dict(TINY, num_key_value_heads=1)),
    "gpt_neox": ("gpt_neox", dict(TINY)),
    "gpt2": ("gpt2", dict(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64, bos_token_id=1,
                          eos_token_id=2)),
    "bert": ("bert", dict(TINY)),
}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """Directory of a tiny random checkpoint per family: a causal LM for decoders, a bare encoder for BERT."""
    root = tmp_path_factory.mktemp("tiny")
    paths = {}
    for family, (model_type, kwargs) in FAMILIES.items():
        torch.manual_seed(0)
        auto = AutoModel if family == "bert" else AutoModelForCausalLM
        auto.from_config(AutoConfig.for_model(model_type, **kwargs)).save_pretrained(root / family)
        paths[family] = str(root / family)
    return paths


def build(path, **kwargs):
    torch.manual_seed(1)
    return build_token_classifier(TokenClassifierConfig(path, labels=LABELS, **kwargs)).eval()


def randomise(model):
    """Non-trivial values for parts that start at zero (LoRA B, CRF transitions), so a save/load test can fail."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or name.startswith("crf."):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def ids(batch=2, length=7, seed=0):
    return torch.randint(3, 100, (batch, length), generator=torch.Generator().manual_seed(seed))


# --- config ----------------------------------------------------------------------------------------------------


def test_config_saves_sorted_json_with_version_and_round_trips(tmp_path):
    cfg = TokenClassifierConfig("some/model", labels=LABELS, bidirectional="2", crf=True, lora={"r": 4})
    assert cfg.bidirectional == 2 and cfg.id2label == {0: "O", 1: "B-D", 2: "I-D"}
    cfg.save_pretrained(tmp_path)
    text = (tmp_path / CONFIG_NAME).read_text()
    payload = json.loads(text)
    assert list(payload) == sorted(payload)
    assert payload["ecr_hf_version"] == version("ecr-hf")
    assert payload["lora"] == {"r": 4}
    assert TokenClassifierConfig.from_pretrained(tmp_path) == cfg


def test_config_from_pretrained_warns_on_unknown_keys(tmp_path, caplog):
    TokenClassifierConfig("m", labels=LABELS).save_pretrained(tmp_path)
    payload = json.loads((tmp_path / CONFIG_NAME).read_text())
    payload["from_the_future"] = 1
    (tmp_path / CONFIG_NAME).write_text(json.dumps(payload))
    with caplog.at_level(logging.WARNING):
        cfg = TokenClassifierConfig.from_pretrained(tmp_path)
    assert "from_the_future" in caplog.text and cfg.labels == LABELS


def test_config_accepts_a_peft_lora_config():
    cfg = TokenClassifierConfig("m", labels=LABELS, lora=LoraConfig(r=4, target_modules=["q_proj"], lora_alpha=16))
    assert cfg.lora == {"r": 4, "target_modules": ["q_proj"], "lora_alpha": 16}
    json.dumps(cfg.to_dict())


@pytest.mark.parametrize("kwargs, message", [
    (dict(scheme="BIOES"), "scheme must be 'IO' or 'BIO', got 'BIOES'"),
    (dict(labels=["B-D", "I-D"]), "labels must hold 'O' and at least one entity label"),
    (dict(labels="O B-D I-D"), "labels must be a list of strings"),
    (dict(labels=["O", "B-D", "I-D", "O"]), r"labels must be unique, got \['O'\] more than once"),
    (dict(labels=["O", "B-D"]), "label 'B-D' has no matching 'I-D'"),
    (dict(labels=["O", "Disease"]), "label 'Disease' is not 'O', 'B-<type>'"),
    (dict(labels=["O", "B-D", "I-D"], scheme="IO"), "label 'B-D' has a B- prefix but scheme='IO'"),
    (dict(bidirectional=0), "bidirectional must be 'none', 'all' or a positive number k of last layers, got 0"),
    (dict(bidirectional=True), "got True"),
    (dict(bidirectional="last"), "got 'last'"),
    (dict(crf="yes"), "crf must be True or False"),
    (dict(lora={"rank": 4}), "lora has an option peft.LoraConfig does not know"),
    (dict(lora={"task_type": "SEQ_CLS"}), "lora task_type must be 'TOKEN_CLS'"),
    (dict(lora="all-linear"), "lora must be a dict of LoraConfig arguments"),
    (dict(attn_implementation="flex_attention"), "attn_implementation must be one of"),
    (dict(dtype="fp8"), "dtype must be one of"),
    (dict(base_model_name_or_path=""), "base_model_name_or_path must be a non-empty string"),
])
def test_config_rejects_bad_values(kwargs, message):
    full = dict(base_model_name_or_path="m", labels=LABELS) | kwargs
    with pytest.raises(ValueError, match=message):
        TokenClassifierConfig(**full)


def test_config_accepts_io_and_untyped_labels():
    assert TokenClassifierConfig("m", labels=["O", "I-D", "I-C"], scheme="IO").scheme == "IO"
    assert TokenClassifierConfig("m", labels=["O", "B", "I"]).labels == ["O", "B", "I"]


# --- builder ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_builds_with_labels_and_trains(ckpt, family):
    model = build(ckpt[family])
    assert model.config.id2label == {0: "O", 1: "B-D", 2: "I-D"} and model.config.label2id["I-D"] == 2
    x = ids()
    labels = torch.tensor([[-100, 0, 1, 2, 0, -100, -100], [-100, 1, 2, 2, 0, 0, -100]])
    mask = torch.ones_like(x)
    mask[0, 5:] = 0
    out = model(input_ids=x, attention_mask=mask, labels=labels)
    assert out.logits.shape == (2, 7, 3)
    keep = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[keep], labels[keep])
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert model(input_ids=x, labels=torch.full_like(x, -100)).loss.item() == 0.0  # nothing to learn: 0, not nan
    head = model.model.score if hasattr(model.model, "score") else model.model.classifier
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_a_token_classification_checkpoint_with_other_labels_is_refused(ckpt, tmp_path):
    build(ckpt["llama"]).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"token classifier with 3 labels \['O', 'B-D', 'I-D'\], but labels has 5"):
        build_token_classifier(TokenClassifierConfig(str(tmp_path), labels=["O", "B-D", "I-D", "B-C", "I-C"]))
    with pytest.raises(ValueError, match="in that order"):
        build_token_classifier(TokenClassifierConfig(str(tmp_path), labels=["O", "I-D", "B-D"]))
    assert build_token_classifier(TokenClassifierConfig(str(tmp_path), labels=LABELS)).config.num_labels == 3


def tiny_tokenizer(pad: bool) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["<unk>", "<s>", "</s>"] + (["<pad>"] if pad else [])
    tok.train_from_iterator(["the patient has fever", "no cough today", "fever and cough"],
                            trainers.WordLevelTrainer(special_tokens=specials))
    extra = {"pad_token": "<pad>"} if pad else {}
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", **extra)


def test_decoder_without_pad_token_pads_with_eos_and_still_attends_eos(ckpt):
    tokenizer = tiny_tokenizer(pad=False)
    assert tokenizer.pad_token is None and tokenizer.eos_token_id == 2
    torch.manual_seed(1)
    model = build_token_classifier(TokenClassifierConfig(ckpt["llama"], labels=LABELS, bidirectional="all"),
                                   tokenizer).eval()
    assert tokenizer.pad_token == "</s>"
    assert model.ecr_config.pad_token_id == model.config.pad_token_id == 2
    # the embedding was built before the pad id was set: the EOS row is no padding_idx, it keeps training
    assert model.model.model.embed_tokens.padding_idx is None
    # an EOS inside the text is attended (masking is by attention_mask, not by id)
    x = torch.tensor([[5, 2, 7, 8]])
    y = torch.tensor([[5, 9, 7, 8]])
    assert not torch.allclose(model(x).logits[0, 0], model(y).logits[0, 0])
    # a tokenizer's own pad token wins; without a tokenizer the checkpoint's EOS is used
    with_pad = tiny_tokenizer(pad=True)
    assert build_token_classifier(TokenClassifierConfig(ckpt["llama"], labels=LABELS), with_pad).config.pad_token_id == 3
    assert build(ckpt["gpt2"]).ecr_config.pad_token_id == 2


# --- bidirectional attention -----------------------------------------------------------------------------------


def later_token_changes(model, x, position):
    """Largest change of the logits before ``position`` when the token at ``position`` changes."""
    y = x.clone()
    y[:, position] = (y[:, position] - 3 + 1) % 97 + 3
    mask = torch.ones_like(x)
    return (model(x, mask).logits[:, :position] - model(y, mask).logits[:, :position]).abs().max().item()


CASES = [("llama", "sdpa"), ("llama", "eager"), ("gpt2", "sdpa"), ("gpt2", "eager"),
         ("mistral", "sdpa"), ("qwen2", "eager"), ("gpt_neox", "sdpa"), ("gpt_neox", "eager"),
         ("mistral-window3", "sdpa")]  # a 3-token sliding window, shorter than the text: dropped when bidirectional


@pytest.mark.parametrize("family, attn", CASES)
def test_bidirectional_sees_later_tokens_and_still_masks_padding(ckpt, family, attn):
    x = ids(length=8)
    causal = build(ckpt[family], attn_implementation=attn)
    assert causal.config._attn_implementation == attn
    assert later_token_changes(causal, x, 6) == 0.0
    bi = build(ckpt[family], attn_implementation=attn, bidirectional="all")
    assert later_token_changes(bi, x, 6) > 1e-4
    # padding: changing a padded token's id (attention_mask 0) changes nothing else, left or right padded
    mask = torch.ones_like(x)
    mask[0, 6:] = 0
    mask[1, :2] = 0
    y = x.clone()
    y[0, 6:] = 50
    y[1, :2] = 50
    a, b = bi(x, mask).logits, bi(y, mask).logits
    torch.testing.assert_close(a[mask.bool()], b[mask.bool()], rtol=0, atol=1e-6)
    # a right-padded row equals the same row alone, without padding
    alone = bi(x[:1, :6], torch.ones(1, 6, dtype=torch.long)).logits
    torch.testing.assert_close(a[0, :6], alone[0], rtol=1e-5, atol=1e-5)


def test_bidirectional_layers_drop_the_sliding_window(ckpt):
    model = build(ckpt["mistral-window3"], bidirectional="all")
    x = ids(length=8)
    y = x.clone()
    y[:, 7] = (y[:, 7] - 3 + 1) % 97 + 3
    assert (model(x).logits[:, 0] - model(y).logits[:, 0]).abs().max().item() > 1e-4  # 7 tokens away


@pytest.mark.parametrize("family, attn", [("llama", "sdpa"), ("gpt2", "eager")])
def test_last_k_layers_only(ckpt, family, attn):
    x = ids(length=8)
    y = x.clone()
    y[:, 6] = (y[:, 6] - 3 + 1) % 97 + 3
    model = build(ckpt[family], attn_implementation=attn, bidirectional=1)
    hx = model.model(input_ids=x, output_hidden_states=True).hidden_states
    hy = model.model(input_ids=y, output_hidden_states=True).hidden_states
    # hidden_states[1] is the first layer's output: still causal; the last layer sees the change
    assert (hx[1][:, :6] - hy[1][:, :6]).abs().max().item() == 0.0
    assert (hx[-1][:, :6] - hy[-1][:, :6]).abs().max().item() > 1e-4
    assert apply_bidirectional_attention(model.model, 1) == [1]  # idempotent


def test_sdpa_and_eager_agree_when_bidirectional_with_padding(ckpt):
    sdpa = build(ckpt["llama"], attn_implementation="sdpa", bidirectional="all")
    eager = build(ckpt["llama"], attn_implementation="eager", bidirectional="all")
    eager.load_state_dict(sdpa.state_dict())
    x, mask = ids(length=8), torch.ones(2, 8, dtype=torch.long)
    mask[0, 5:] = 0
    torch.testing.assert_close(sdpa(x, mask).logits[mask.bool()], eager(x, mask).logits[mask.bool()],
                               rtol=1e-5, atol=1e-5)


def test_bidirectional_survives_gradient_checkpointing(ckpt):
    x, labels = ids(length=8), torch.randint(0, 3, (2, 8), generator=torch.Generator().manual_seed(5))
    grads = []
    for checkpointing in (False, True):
        model = build(ckpt["llama"], bidirectional="all").train()
        model.model.dropout.p = 0.0
        if checkpointing:
            model.activation_checkpointing_enable()
        model(x, torch.ones_like(x), labels).loss.backward()
        grads.append(model.model.model.layers[0].self_attn.q_proj.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_bidirectional_needs_a_decoder_and_enough_layers(ckpt):
    with pytest.raises(ValueError, match="model_type 'bert' has no stack of 2 layers with causal self-attention"):
        build(ckpt["bert"], bidirectional="all")
    with pytest.raises(ValueError, match=r"number of last layers in \[1, 2\] for this 2-layer model, got 3"):
        build(ckpt["llama"], bidirectional=3)


# --- LoRA ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, head", [("llama", "score"), ("gpt2", "classifier"), ("bert", "classifier")])
def test_lora_wraps_every_backbone_linear_layer_and_trains_the_head_in_full(ckpt, family, head):
    from peft.tuners.lora import LoraLayer
    from peft.utils import ModulesToSaveWrapper
    from transformers.pytorch_utils import Conv1D

    plain = build(ckpt[family])
    n_linear = sum(isinstance(m, (torch.nn.Linear, Conv1D)) for m in plain.model.base_model.modules())
    model = build(ckpt[family], lora={"r": 4, "target_modules": "all-linear"})
    wrapped = model.model.base_model.model
    assert isinstance(getattr(wrapped, head), ModulesToSaveWrapper)
    assert not any(isinstance(m, LoraLayer) for m in getattr(wrapped, head).modules())
    assert sum(isinstance(m, LoraLayer) for m in wrapped.base_model.modules()) == n_linear
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or f".{head}.modules_to_save." in n for n in trainable)


def test_lora_targets_that_hit_the_head_are_refused(ckpt):
    with pytest.raises(ValueError, match=r"match the classification head \['score'\]"):
        build(ckpt["llama"], lora={"target_modules": ["q_proj", "score"]})


# --- save / load -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, kwargs", [
    ("llama", {}),
    ("llama", dict(lora={"r": 4})),
    ("gpt2", dict(crf=True)),
    ("llama", dict(bidirectional=1, attn_implementation="eager")),
    ("gpt2", dict(lora={"r": 4}, crf=True, bidirectional="all")),
    ("bert", dict(lora={"r": 4}, crf=True)),
])
def test_save_and_reload_give_identical_logits_and_decodes(ckpt, tmp_path, family, kwargs):
    model = build(ckpt[family], **kwargs)
    randomise(model)
    x, mask = ids(length=8), torch.ones(2, 8, dtype=torch.long)
    mask[1, 6:] = 0
    model.save_pretrained(tmp_path)
    files = set(os.listdir(tmp_path))
    if "lora" in kwargs:
        assert {"adapter_model.safetensors", "adapter_config.json"} <= files and "model.safetensors" not in files
    else:
        assert "model.safetensors" in files
    assert (CRF_WEIGHTS_NAME in files) == bool(kwargs.get("crf"))
    again = ECRTokenClassifier.from_pretrained(tmp_path).eval()
    assert again.ecr_config == model.ecr_config
    torch.testing.assert_close(again(x, mask).logits, model(x, mask).logits, rtol=0, atol=0)
    assert torch.equal(again.decode(x, mask), model.decode(x, mask))
    if kwargs.get("bidirectional"):
        assert later_token_changes(again, x, 6) > 1e-4


# --- CRF -------------------------------------------------------------------------------------------------------

BIO = ["O", "B-X", "I-X", "B-Y", "I-Y"]


def valid_bio(tags: list[str]) -> bool:
    """The BIO (IOB2) grammar, written out independently of the CRF's masks."""
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            return False
        previous = tag
    return True


def test_allowed_transitions_by_hand():
    start, trans = allowed_transitions(BIO, "BIO")
    assert start.tolist() == [True, True, False, True, False]
    assert trans.int().tolist() == [
        [1, 1, 0, 1, 0],  # O      -> no I-X, no I-Y
        [1, 1, 1, 1, 0],  # B-X    -> I-X only
        [1, 1, 1, 1, 0],  # I-X
        [1, 1, 0, 1, 1],  # B-Y    -> I-Y only
        [1, 1, 0, 1, 1],  # I-Y
    ]
    start, trans = allowed_transitions(["O", "I-X", "I-Y"], "IO")
    assert start.all() and trans.all()


def random_crf(labels, scheme, seed):
    crf = LinearChainCRF.from_labels(labels, scheme)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return crf


@pytest.mark.parametrize("bias_to_inside", [0.0, 6.0])
def test_viterbi_never_emits_an_invalid_bio_sequence(bias_to_inside):
    crf = random_crf(BIO, "BIO", seed=0)
    g = torch.Generator().manual_seed(1)
    emissions = torch.randn(400, 12, 5, generator=g) * 4
    emissions[..., [2, 4]] += bias_to_inside  # push towards I- tags, the ones the grammar restricts
    mask = torch.rand(400, 12, generator=g) > 0.3  # gaps, as -100 positions make
    mask[0] = False
    paths = crf.decode(emissions, mask)
    assert ((paths == -100) == ~mask).all()
    for row in paths.tolist():
        assert valid_bio([BIO[t] for t in row if t != -100])
    assert any(BIO[t].startswith("I-") for t in paths[mask].tolist())


def brute_force(crf, emissions, mask, labels, scheme):
    """Score every label path over the tagged positions: best path and log-partition per sequence."""
    best, log_z = [], []
    for em, m in zip(emissions, mask):
        em = em[m]
        scores = {path: brute_force_score(crf, em, path)
                  for path in itertools.product(range(len(labels)), repeat=len(em))
                  if scheme == "IO" or valid_bio([labels[t] for t in path])}
        best.append(max(scores, key=scores.get))
        log_z.append(float(torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0)))
    return best, log_z


@pytest.mark.parametrize("scheme, labels", [("BIO", BIO), ("IO", ["O", "I-X", "I-Y"])])
@pytest.mark.parametrize("seed", range(3))
def test_viterbi_and_nll_match_brute_force(scheme, labels, seed):
    crf = random_crf(labels, scheme, seed)
    g = torch.Generator().manual_seed(10 + seed)
    emissions = torch.randn(4, 6, len(labels), generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 1, 0, 1, 1, 0], [1, 0, 0, 0, 0, 0], [1, 1, 0, 1, 1, 0]]).bool()
    best, log_z = brute_force(crf, emissions, mask, labels, scheme)
    paths = crf.decode(emissions, mask)
    for row, m, path in zip(paths, mask, best):
        assert row[m].tolist() == list(path)
    # gold = the brute-force best path; NLL per tagged token
    gold = torch.full((4, 6), -100)
    for i, path in enumerate(best):
        gold[i, mask[i]] = torch.tensor(path)
    gold_score = [brute_force_score(crf, emissions[i][mask[i]], best[i]) for i in range(4)]
    expected = sum(z - s for z, s in zip(log_z, gold_score)) / mask.sum().item()
    assert math.isclose(crf.nll(emissions, gold).item(), expected, rel_tol=1e-5)


def brute_force_score(crf, em, path):
    with torch.no_grad():
        s = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]] + sum(em[t, y] for t, y in enumerate(path))
        return float(s + sum(crf.transitions[a, b] for a, b in zip(path, path[1:])))


def test_crf_nll_refuses_a_gold_path_the_grammar_forbids():
    crf = LinearChainCRF.from_labels(BIO, "BIO")
    emissions = torch.zeros(2, 3, 5)
    ok = torch.tensor([[1, 2, 0], [0, 3, 4]])
    assert torch.isfinite(crf.nll(emissions, ok))
    assert crf.nll(emissions, torch.full((2, 3), -100)).item() == 0.0
    with pytest.raises(ValueError, match="sequence 1 of the batch has a gold label path the CRF forbids"):
        crf.nll(emissions, torch.tensor([[1, 2, 0], [0, 1, 4]]))  # B-X -> I-Y
    with pytest.raises(ValueError, match="must be in \\[0, 5\\)"):
        crf.nll(emissions, torch.tensor([[1, 2, 7], [0, 1, 2]]))


# --- Trainer ---------------------------------------------------------------------------------------------------


def toy_dataset(n=32, length=10, seed=0):
    """Entities are runs of tokens 3..14: B-D on the first, I-D on the rest; position 0 (outside) is unlabelled."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        x = np.where(rng.random(length) < 0.4, rng.integers(3, 15, length), rng.integers(40, 52, length))
        x[0] = 99
        inside = x < 15
        tags = np.where(inside, np.where(np.r_[False, inside[:-1]], 2, 1), 0)
        tags[0] = -100
        rows.append({"input_ids": x.tolist(), "attention_mask": [1] * length, "labels": tags.tolist(), "text": "t"})
    return Dataset.from_list(rows)


def test_plain_trainer_trains_lora_crf_bidirectional(ckpt, tmp_path):
    model = build(ckpt["llama"], crf=True, lora={"r": 8, "lora_alpha": 16}, bidirectional="all")
    data = toy_dataset()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=48, per_device_train_batch_size=8, learning_rate=1e-2,
                             logging_steps=8, report_to=[], save_strategy="no", use_cpu=True, seed=0,
                             disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=default_data_collator)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < 0.3 * losses[0]
    model.eval()
    batch = default_data_collator([{k: r[k] for k in ("input_ids", "attention_mask", "labels")} for r in data])
    label_mask = batch["labels"] != -100
    pred = model.decode(batch["input_ids"], batch["attention_mask"], label_mask=label_mask)
    names = np.array(LABELS + ["-"], dtype=object)
    correct = 0
    for p, y, m in zip(pred, batch["labels"], label_mask):
        gold_spans = tags_to_spans(names[y[m]].tolist())
        correct += tags_to_spans(names[p[m]].tolist()) == gold_spans
    assert correct >= 0.9 * len(data)


def test_the_new_head_load_report_is_quiet_from_python_too(ckpt, tmp_path, transformers_log):
    """Building (and reloading a LoRA classifier onto its base) always leaves the new head MISSING:
    transformers' LOAD REPORT table for that is dropped on the library path, not only by the CLI."""
    model = build(ckpt["bert"], lora={"r": 4})
    model.save_pretrained(tmp_path)
    ECRTokenClassifier.from_pretrained(tmp_path)
    assert not [r for r in transformers_log if "LOAD REPORT" in r.getMessage()]
