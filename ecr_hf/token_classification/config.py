"""``TokenClassifierConfig``: everything needed to build, save and rebuild a token classifier.

Behaviour is driven by this config, not by flags scattered through code: the builder reads it, the
saved directory carries it as sorted JSON (``token_classifier_config.json``), and reloading it
rebuilds the same model (base weights or LoRA adapter, head, CRF, bidirectional attention).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from peft import LoraConfig

logger = logging.getLogger(__name__)

__all__ = ["TokenClassifierConfig", "CONFIG_NAME", "parse_label"]

CONFIG_NAME = "token_classifier_config.json"

AttnImplementation = Literal["sdpa", "eager", "flash_attention_2", "flash_attention_3"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
Scheme = Literal["IO", "BIO"]


def _ecr_hf_version() -> str:
    try:
        return version("ecr-hf")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def parse_label(label: str, scheme: str) -> tuple[str, str | None]:
    """``(prefix, type)`` of one label: ``"O"``, ``"B-X"``/``"I-X"``, or untyped ``"B"``/``"I"``.

    These are the label strings :func:`ecr_hf.spans.spans_to_tags` writes; anything else raises.
    """
    if label == "O":
        return "O", None
    if label in ("B", "I"):
        prefix, kind = label, None
    elif label[:2] in ("B-", "I-") and len(label) > 2:
        prefix, kind = label[0], label[2:]
    else:
        raise ValueError(f"label {label!r} is not 'O', 'B-<type>', 'I-<type>', 'B' or 'I'; "
                         "token labels are written by ecr_hf.spans.spans_to_tags")
    if prefix == "B" and scheme == "IO":
        raise ValueError(f"label {label!r} has a B- prefix but scheme='IO'; pass scheme='BIO'")
    return prefix, kind


def _lora_to_dict(lora: "LoraConfig | dict[str, Any]") -> dict[str, Any]:
    """LoRA options as a JSON-able dict of the values that differ from ``LoraConfig()`` defaults."""
    from peft import LoraConfig, TaskType  # peft is slow to import; only LoRA configs need it

    if isinstance(lora, LoraConfig):
        defaults = LoraConfig().to_dict()
        given = {k: v for k, v in lora.to_dict().items() if k in defaults and v != defaults[k]}
        for k in ("peft_type", "peft_version", "base_model_name_or_path", "revision", "inference_mode"):
            given.pop(k, None)
    elif isinstance(lora, dict):
        given = dict(lora)
    else:
        raise ValueError(f"lora must be a dict of LoraConfig arguments, a peft.LoraConfig or None, "
                         f"got {type(lora).__name__}")
    task_type = given.pop("task_type", None)
    if task_type is not None and str(getattr(task_type, "value", task_type)) != TaskType.TOKEN_CLS.value:
        raise ValueError(f"lora task_type must be 'TOKEN_CLS' (or left out), got {task_type!r}")
    for k, v in given.items():
        if isinstance(v, (set, frozenset, tuple)):
            given[k] = sorted(v)
    try:
        LoraConfig(**given)
    except TypeError as e:
        raise ValueError(f"lora has an option peft.LoraConfig does not know: {e}") from None
    return given


@dataclass
class TokenClassifierConfig:
    """Options of :func:`ecr_hf.token_classification.build_token_classifier`, saved beside the weights.

    Examples:
        >>> cfg = TokenClassifierConfig("path/to/llama", labels=["O", "B-D", "I-D"], bidirectional=1)
        >>> cfg.bidirectional, cfg.crf
        (1, False)
        >>> TokenClassifierConfig("bert", labels=["O", "B-D"])
        Traceback (most recent call last):
        ...
        ValueError: label 'B-D' has no matching 'I-D' (scheme='BIO'): every type needs both B- and I- labels
    """

    base_model_name_or_path: str = field(
        metadata={"help": "Checkpoint to start from: a Hub id or a local directory. An encoder or a causal decoder "
                          "(checked: Llama, Mistral, Qwen2, GPT-NeoX, GPT-2, BERT). LoRA adapters are reloaded on "
                          "top of it, so it must stay reachable."}
    )
    labels: list[str] = field(
        metadata={"help": "Label names in id order: 'O' plus 'B-<type>'/'I-<type>' (BIO) or 'I-<type>' (IO). "
                          "They become the model's id2label/label2id."}
    )
    scheme: Scheme = field(default="BIO", metadata={"help": "Tagging scheme of `labels`: 'IO' or 'BIO'."})
    bidirectional: Literal["none", "all"] | int = field(
        default="none",
        metadata={"help": "Causal decoders only: remove the causal mask in 'all' layers or in the last k layers "
                          "(an int, LS-unLLaMA / layer-wise causal-mask removal). Padding stays masked. 'none' "
                          "keeps the pretrained causal attention."},
    )
    crf: bool = field(
        default=False,
        metadata={"help": "Add a linear-chain CRF over the head's emissions: NLL loss and Viterbi decoding. With "
                          "scheme='BIO' the invalid transitions (O->I-X, B-X->I-Y, start->I-X) are forbidden."},
    )
    lora: dict[str, Any] | LoraConfig | None = field(
        default=None,
        metadata={"help": "LoRA through peft (a dict of LoraConfig arguments or a LoraConfig). target_modules None "
                          "or 'all-linear' means every linear layer of the backbone; the head is always trained "
                          "in full (modules_to_save) and never LoRA-wrapped. None trains all weights."},
    )
    attn_implementation: AttnImplementation | None = field(
        default=None, metadata={"help": "Attention kernel passed to from_pretrained; None keeps transformers' default."}
    )
    dtype: Dtype = field(
        default="float32",
        metadata={"help": "Weight dtype. float32 by default because transformers 5 otherwise keeps the "
                          "checkpoint's (often bfloat16) dtype, which is slow and lossy on CPU."},
    )
    pad_token_id: int | None = field(
        default=None,
        metadata={"help": "Token id the collator pads with. Filled by the builder from the tokenizer, the "
                          "checkpoint or its EOS. The model masks padding with attention_mask only, never by id."},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.base_model_name_or_path, str) or not self.base_model_name_or_path:
            raise ValueError(f"base_model_name_or_path must be a non-empty string, got {self.base_model_name_or_path!r}")
        if self.scheme not in get_args(Scheme):
            raise ValueError(f"scheme must be 'IO' or 'BIO', got {self.scheme!r}")
        if isinstance(self.labels, str) or not all(isinstance(x, str) for x in self.labels):
            raise ValueError(f"labels must be a list of strings, got {self.labels!r}")
        self.labels = list(self.labels)
        if len(self.labels) < 2 or "O" not in self.labels:
            raise ValueError(f"labels must hold 'O' and at least one entity label, got {self.labels}")
        if len(set(self.labels)) != len(self.labels):
            dup = sorted({x for x in self.labels if self.labels.count(x) > 1})
            raise ValueError(f"labels must be unique, got {dup} more than once")
        parsed = {parse_label(x, self.scheme) for x in self.labels}
        if self.scheme == "BIO":
            for prefix, kind in sorted(parsed, key=str):
                other = "I" if prefix == "B" else "B"
                if prefix != "O" and (other, kind) not in parsed:
                    have = prefix if kind is None else f"{prefix}-{kind}"
                    need = other if kind is None else f"{other}-{kind}"
                    raise ValueError(f"label {have!r} has no matching {need!r} (scheme='BIO'): every type needs "
                                     "both B- and I- labels")
        if isinstance(self.bidirectional, str) and self.bidirectional.isdigit():
            self.bidirectional = int(self.bidirectional)
        if not (self.bidirectional in ("none", "all") or (
                isinstance(self.bidirectional, int) and not isinstance(self.bidirectional, bool)
                and self.bidirectional >= 1)):
            raise ValueError(f"bidirectional must be 'none', 'all' or a positive number k of last layers, got "
                             f"{self.bidirectional!r}")
        if not isinstance(self.crf, bool):
            raise ValueError(f"crf must be True or False, got {self.crf!r}")
        if self.lora is not None:
            self.lora = _lora_to_dict(self.lora)
        if self.attn_implementation is not None and self.attn_implementation not in get_args(AttnImplementation):
            raise ValueError(f"attn_implementation must be one of {list(get_args(AttnImplementation))} or None, "
                             f"got {self.attn_implementation!r}")
        if self.dtype not in get_args(Dtype):
            raise ValueError(f"dtype must be one of {list(get_args(Dtype))}, got {self.dtype!r}")
        if self.pad_token_id is not None and (isinstance(self.pad_token_id, bool) or not isinstance(self.pad_token_id, int)):
            raise ValueError(f"pad_token_id must be an int or None, got {self.pad_token_id!r}")

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {x: i for i, x in enumerate(self.labels)}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write ``token_classifier_config.json`` (sorted keys, with the ``ecr_hf_version`` that wrote it)."""
        os.makedirs(save_directory, exist_ok=True)
        payload = {**self.to_dict(), "ecr_hf_version": _ecr_hf_version()}
        with open(os.path.join(save_directory, CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")

    @classmethod
    def from_pretrained(cls, pretrained_path: str | os.PathLike) -> "TokenClassifierConfig":
        """Read a saved config; unknown keys (e.g. from a newer ecr-hf) are dropped with a warning."""
        path = os.path.join(pretrained_path, CONFIG_NAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {CONFIG_NAME} in {os.fspath(pretrained_path)!r}; save the model with "
                                    "ECRTokenClassifier.save_pretrained first")
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
        payload.pop("ecr_hf_version", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(payload) - known)
        if unknown:
            logger.warning("Ignoring unknown keys %s in %s (written by another ecr-hf version?)", unknown, path)
        return cls(**{k: v for k, v in payload.items() if k in known})
