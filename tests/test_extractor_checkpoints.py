"""ECRExtractor on plain transformers token-classification checkpoints (public NER models), not only
ecr-hf's own folders: folder detection, tag schemes, and the same spans as transformers' pipeline.

The checkpoints are tiny BERTs whose predictions are set by hand: one layer whose sub-layers add
nothing, one-hot word embeddings and a classifier that gives each vocabulary word a chosen tag. Every
token's tag then depends on its id only, so the expected spans are known and windows cannot change them.
"""

import json
import types

import pytest
import torch
from test_trainer import LABELS, tiny_checkpoint, toy_tokenizer
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForTokenClassification, BertModel, PreTrainedTokenizerFast, pipeline

from ecr_hf.token_classification import ECRExtractor, ECRTokenClassifier, TokenClassifierConfig, build_token_classifier

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "patient", "had", "heart", "fail", "##ure", ",", "fever",
         "and", "cough", "##ing", "today", ".", "no"]
TEXTS = [
    "The patient had heart failure, fever and coughing today.",
    "Heart failure and fever fever cough today.",  # two adjacent one-token spans of one label
    "failure and coughing",  # a span opened by I- (lenient, as the pipeline reads it)
    "no unknown words today",  # [UNK] tokens, no span
]
BIO = {"heart": "B-Disease", "fail": "I-Disease", "##ure": "I-Disease", "fever": "B-Sign", "cough": "B-Sign",
       "##ing": "I-Sign"}
EXPECTED = [  # BIO spans of TEXTS as (start, end, label)
    [(16, 29, "Disease"), (31, 36, "Sign"), (41, 49, "Sign")],
    [(0, 13, "Disease"), (18, 23, "Sign"), (24, 29, "Sign"), (30, 35, "Sign")],
    [(0, 7, "Disease"), (12, 20, "Sign")],
    [],
]


def wordpiece_tokenizer(max_length=64):
    backend = Tokenizer(models.WordPiece({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                           special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    backend.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", model_max_length=max_length)


def ner_checkpoint(folder, id2label, tag_of, config_id2label=None):
    """A BERT token classifier saved in ``folder`` whose every token predicts ``tag_of[word]`` (else ``O``);
    ``config.json`` gets ``config_id2label`` (default: ``id2label``)."""
    hidden = 32
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=len(id2label))
    if config_id2label is not False:
        config.id2label = dict(enumerate(config_id2label or id2label))
    torch.manual_seed(0)
    model = BertForTokenClassification(config).eval()
    label2id = {name: i for i, name in enumerate(id2label)}
    with torch.no_grad():
        emb = model.bert.embeddings
        emb.word_embeddings.weight.copy_(torch.eye(len(VOCAB), hidden))
        emb.position_embeddings.weight.zero_()
        emb.token_type_embeddings.weight.zero_()
        layer = model.bert.encoder.layer[0]
        for dense in (layer.attention.output.dense, layer.output.dense):  # residuals only: the layer keeps x
            dense.weight.zero_()
            dense.bias.zero_()
        weight = torch.zeros(len(id2label), hidden)
        weight[[label2id[tag_of.get(w, "O")] for w in VOCAB], torch.arange(len(VOCAB))] = 1.0
        model.classifier.weight.copy_(weight - weight.mean(1, keepdim=True))  # rows sum to 0: LayerNorm's shift drops
        model.classifier.bias.zero_()
    model.save_pretrained(folder)
    wordpiece_tokenizer().save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def bio_folder(tmp_path_factory):
    return ner_checkpoint(tmp_path_factory.mktemp("bio"), ["O", "B-Disease", "I-Disease", "B-Sign", "I-Sign"], BIO)


def triples(spans):
    return [(s["start"], s["end"], s["label"]) for s in spans]


def pipeline_spans(folder, texts):
    extractor = ECRExtractor.from_pretrained(folder)
    ner = pipeline("token-classification", model=extractor.model, tokenizer=extractor.tokenizer,
                   aggregation_strategy="simple", device="cpu")
    return [[{"start": e["start"], "end": e["end"], "label": e["entity_group"], "score": float(e["score"])}
             for e in ner(text)] for text in texts]


def assert_same_spans(ours, theirs):
    assert [triples(spans) for spans in ours] == [triples(spans) for spans in theirs]
    for a, b in zip(ours, theirs):
        assert [s["score"] for s in a] == pytest.approx([s["score"] for s in b], abs=1e-5)


def test_a_bio_checkpoint_gives_the_spans_of_transformers_pipeline(bio_folder):
    extractor = ECRExtractor.from_pretrained(bio_folder)
    assert not isinstance(extractor.model, ECRTokenClassifier) and extractor.tags.scheme == "BIO"
    ours = extractor(TEXTS)
    assert [triples(spans) for spans in ours] == EXPECTED
    assert all(0.5 < s["score"] < 1 for spans in ours for s in spans)  # probabilities, not one-hot
    assert_same_spans(ours, pipeline_spans(bio_folder, TEXTS))


def test_a_long_text_over_several_windows_gives_the_spans_of_one_window(bio_folder):
    text = " ".join(TEXTS[:3] * 2)  # 56 tokens; the tiny BERT has 64 positions
    one = ECRExtractor.from_pretrained(bio_folder, max_length=64)
    assert len(one.tokenizer(text)["input_ids"]) == 56
    windowed = ECRExtractor.from_pretrained(bio_folder, max_length=12, stride=3, batch_size=4)
    assert windowed(text) == one(text) and len(one(text)) == 2 * sum(map(len, EXPECTED[:3]))
    assert_same_spans([windowed(text)], pipeline_spans(bio_folder, [text]))


@pytest.mark.parametrize("io", [["O", "I-Disease", "I-Sign"], ["O", "Disease", "Sign"]])
def test_an_io_checkpoint_merges_adjacent_spans_as_the_pipeline_does(tmp_path, io):
    tag_of = {w: io[1] if t.endswith("Disease") else io[2] for w, t in BIO.items()}
    folder = ner_checkpoint(tmp_path, io, tag_of)
    ours = ECRExtractor.from_pretrained(folder)(TEXTS)
    assert triples(ours[1]) == [(0, 13, "Disease"), (18, 35, "Sign")]  # "fever fever cough" is one span
    assert_same_spans(ours, pipeline_spans(folder, TEXTS))


def test_a_bioes_checkpoint_in_any_id_order_gives_the_bio_spans(tmp_path):
    id2label = ["S-Sign", "E-Disease", "O", "B-Sign", "I-Disease", "B-Disease", "E-Sign", "S-Disease", "I-Sign"]
    tag_of = {"heart": "B-Disease", "fail": "I-Disease", "##ure": "E-Disease", "fever": "S-Sign", "cough": "B-Sign",
              "##ing": "E-Sign"}
    extractor = ECRExtractor.from_pretrained(ner_checkpoint(tmp_path, id2label, tag_of))
    assert extractor.tags.scheme == "BIOES"
    assert [triples(spans) for spans in extractor(TEXTS)] == EXPECTED  # "failure": I-, E- after O is one span


def test_placeholder_labels_raise_until_id2label_names_them(tmp_path, bio_folder):
    tags = ["O", "B-Disease", "I-Disease", "B-Sign", "I-Sign"]
    folder = ner_checkpoint(tmp_path, tags, BIO, config_id2label=False)
    assert json.loads((tmp_path / "config.json").read_text())["id2label"]["0"] == "LABEL_0"
    with pytest.raises(ValueError, match=r"placeholders \['LABEL_0', 'LABEL_1', 'LABEL_2'\].*id2label="):
        ECRExtractor.from_pretrained(folder)
    expected = ECRExtractor.from_pretrained(bio_folder)(TEXTS)
    assert ECRExtractor.from_pretrained(folder, id2label=tags)(TEXTS) == expected
    assert ECRExtractor.from_pretrained(folder, id2label={str(i): t for i, t in enumerate(tags)})(TEXTS) == expected


@pytest.mark.parametrize("id2label, message", [
    (["O", "B-Disease", "I-Disease"], r"id2label has ids \[0, 1, 2\] but the model's head has 5 outputs"),
    (["O", "B-Disease", "I-Disease", "B-Disease", "I-Sign"], r"several ids the tags \['B-Disease'\]"),
    (["O", "B_Disease", "I_Disease", "B_Sign", "I_Sign"], r"cannot read tags \['B_Disease'"),
    ("O B-Disease", "id2label must be a dict"),
])
def test_a_bad_id2label_override_raises(bio_folder, id2label, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ECRExtractor.from_pretrained(bio_folder, id2label=id2label)


def test_dtype_and_device_are_passed_through(bio_folder):
    extractor = ECRExtractor.from_pretrained(bio_folder, dtype=torch.float64, device="cpu")
    assert next(extractor.model.parameters()).dtype == torch.float64
    assert [triples(spans) for spans in extractor(TEXTS)] == EXPECTED


def test_folders_of_other_kinds_say_what_they_hold(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no model: expected token_classifier_config.json .* or config.json "
                                         r".* found an empty folder"):
        ECRExtractor.from_pretrained(tmp_path / "empty")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("a model card")
    with pytest.raises(ValueError, match=r"found \['README.md'\]"):
        ECRExtractor.from_pretrained(tmp_path / "notes")
    BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(tmp_path / "backbone")
    with pytest.raises(ValueError, match=r"bert checkpoint with architectures \['BertModel'\], not a token "
                                         r"classifier: expected a \*ForTokenClassification"):
        ECRExtractor.from_pretrained(tmp_path / "backbone")


def test_an_ecr_hf_folder_still_loads_as_an_ecr_hf_classifier(tmp_path):
    tok = toy_tokenizer()
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(tmp_path, "bert"), labels=LABELS), tok)
    model.save_pretrained(tmp_path / "saved")
    tok.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "config.json").is_file()  # it is a transformers folder too: ecr-hf's file decides
    extractor = ECRExtractor.from_pretrained(tmp_path / "saved", max_length=12)
    assert isinstance(extractor.model, ECRTokenClassifier)
    assert extractor("fever and heart failure") == ECRExtractor(model, tok, max_length=12)("fever and heart failure")
    with pytest.raises(ValueError, match="ecr-hf classifier folder, which loads with the dtype"):
        ECRExtractor.from_pretrained(tmp_path / "saved", dtype=torch.float16)


def test_a_slow_tokenizer_is_refused(bio_folder):
    model = ECRExtractor.from_pretrained(bio_folder).model
    with pytest.raises(ValueError, match="slow .* tokenizer and gives no offset mapping"):
        ECRExtractor(model, types.SimpleNamespace(is_fast=False))
