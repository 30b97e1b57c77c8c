"""ecr-hf: Extended Clinical Concept Recognition on the Hugging Face stack.

One subpackage (wing) per part: ``spans`` (the span model and its text forms), ``corpora`` (files in
and out), ``scoring`` (every metric), ``token_classification`` and ``instruct`` (the two training
paths), ``error_analysis``, ``leaderboard`` (results, app, figures, model cards) and ``cli``; ``utils``
holds plumbing. Lower wings never import higher ones (README, Architecture). The light core (spans,
corpora, scoring) imports without torch.
"""

from .scoring import flatten_scores, load_metric, register_metrics, soft_match_scores, span_metrics
from .spans import Span, SpanError

__version__ = "0.1.0"

__all__ = ["Span", "SpanError", "soft_match_scores", "flatten_scores", "span_metrics", "load_metric",
           "register_metrics", "__version__"]
