"""ECRExtractor on the inputs users send: empty and token-less texts, lone surrogates, bad settings."""

import pytest
from test_trainer import LABELS, tiny_checkpoint, toy_tokenizer
from tokenizers import normalizers

from ecr_hf.token_classification import ECRExtractor
from ecr_hf.token_classification import TokenClassifierConfig, build_token_classifier

TEXT = "fever and heart failure today"


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """A tiny untrained BERT and the toy tokenizer with BERT's normaliser, which drops control and
    format characters (BOM, zero-width space) as the MiniLM tokenizer does."""
    tok = toy_tokenizer()
    tok.backend_tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                                                  strip_accents=False, lowercase=False)
    model = build_token_classifier(TokenClassifierConfig(tiny_checkpoint(tmp_path_factory.mktemp("m"), "bert"),
                                                         labels=LABELS), tok)
    return model, tok


@pytest.fixture(scope="module")
def ext(parts):
    return ECRExtractor(*parts, max_length=12, batch_size=2)


@pytest.mark.parametrize("text", ["\ufeff", "\u200b", "\x01\x02", " \ufeff\u200b "])
def test_a_text_without_tokens_has_no_spans_and_spoils_no_batch(ext, parts, text):
    assert parts[1](text)["input_ids"] == [2, 3]  # [CLS] [SEP]: the normaliser dropped everything
    alone = ext([TEXT])[0]
    assert alone  # an untrained head tags something: the comparison below is not empty
    assert ext(text) == []
    assert ext([TEXT, text, TEXT]) == [alone, [], alone]


def test_empty_input_gives_empty_output(ext):
    assert ext("") == [] and ext(" ") == [] and ext("\n\t") == []
    assert ext([]) == []
    assert ext(["", " "]) == [[], []]
    assert ext(["", TEXT])[0] == [] and ext(["", TEXT])[1] == ext(TEXT)


def test_lone_surrogates_are_read_as_one_code_point_each(ext):
    """A JSON escape "\\ud800" decodes to a lone surrogate, which the tokenizer cannot encode:
    it is tokenized as U+FFFD, so offsets stay code points of the text as given."""
    plain = ext("\ufffd " + TEXT)
    odd = ext("\ud800 " + TEXT)
    assert odd == plain and odd
    assert all(("\ud800 " + TEXT)[s["start"]:s["end"]] == s["text"] for s in odd)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": -1}, "batch_size must be an integer >= 1, got -1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"batch_size": 2.5}, "batch_size must be an integer >= 1"),
    ({"batch_size": True}, "batch_size must be an integer >= 1"),
    ({"max_length": 2}, "max_length must be an integer > 2"),
    ({"max_length": -5}, "max_length must be an integer > 2"),
    ({"max_length": 12, "stride": 10}, r"stride must be an integer in \[0, 10\)"),
    ({"max_length": 12, "stride": -1}, r"stride must be an integer in \[0, 10\)"),
    ({"stride": 10}, r"stride must be an integer in \[0, 10\)"),  # the tokenizer's model_max_length, 12
    ({"window_strategy": "max"}, "window_strategy must be 'central' or 'average'"),
])
def test_settings_are_checked_when_the_extractor_is_made(parts, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ECRExtractor(*parts, **kwargs)


def test_every_batch_size_gives_the_same_spans(parts):
    texts = [TEXT, "cough", TEXT + " " + TEXT]  # the last one has two windows of 12 tokens
    expected = ECRExtractor(*parts, max_length=12, batch_size=16)(texts)
    assert ECRExtractor(*parts, max_length=12, batch_size=1)(texts) == expected


def test_to_dataset_names_a_text_with_a_lone_surrogate(ext):
    assert ext.to_dataset(["", TEXT])["entities"][1] == ext(TEXT)
    with pytest.raises(ValueError, match=r"text 1 has a lone surrogate '\\ud800' at 2"):
        ext.to_dataset([TEXT, "a \ud800"])
