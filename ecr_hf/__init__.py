"""ecr-hf: Extended Clinical Concept Recognition on the Hugging Face stack.

The light core (spans, formats, scoring) imports without torch; trainers and models live in
``ecr_hf.trainer``, ``ecr_hf.modeling``, ``ecr_hf.extractor`` and ``ecr_hf.instruct``.
"""

from .evaluate_modules import load_metric, register_metrics
from .scoring import span_metrics
from .soft_match import flatten_scores, soft_match_scores
from .spans import Span, SpanError

__version__ = "0.1.0"

__all__ = ["Span", "SpanError", "soft_match_scores", "flatten_scores", "span_metrics", "load_metric",
           "register_metrics", "__version__"]
