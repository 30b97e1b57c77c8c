"""Token classification over encoders and causal decoders: config, builder, CRF, bidirectional attention."""

from .bidirectional import apply_bidirectional_attention
from .config import CONFIG_NAME, TokenClassifierConfig
from .crf import LinearChainCRF, allowed_transitions
from .model import CRF_WEIGHTS_NAME, ECRTokenClassifier, build_token_classifier

__all__ = [
    "TokenClassifierConfig",
    "build_token_classifier",
    "ECRTokenClassifier",
    "LinearChainCRF",
    "allowed_transitions",
    "apply_bidirectional_attention",
    "CONFIG_NAME",
    "CRF_WEIGHTS_NAME",
]
