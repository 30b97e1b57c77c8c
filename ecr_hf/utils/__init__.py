"""Plumbing every wing may use: atomic outputs, offline pretrained models, lazy wing exports."""

from .lazy import lazy_exports
from .offline_models import OFFLINE_MODELS, gguf_to_pretrained, offline_model_path
from .outputs import OutputExistsError, atomic_write_bytes, atomic_write_folder, atomic_write_text
from .processes import is_main_process, run_sharded

__all__ = [
    "lazy_exports",
    "offline_model_path",
    "gguf_to_pretrained",
    "OFFLINE_MODELS",
    "OutputExistsError",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_folder",
    "is_main_process",
    "run_sharded",
]
