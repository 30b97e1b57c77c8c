"""Why a system scores what it scores: error classes of every span and the error browser page.

Names are imported on first use.
"""

from ..utils.lazy import lazy_exports

_EXPORTS = {
    # analysis
    "ERROR_CLASSES": "analysis",
    "OTHER_BIN": "analysis",
    "ErrorSpan": "analysis",
    "ErrorRecord": "analysis",
    "ErrorAnalysis": "analysis",
    "analyze_errors": "analysis",
    "analyze_error_arrays": "analysis",
    # browser
    "error_page": "browser",
    "error_report_html": "browser",
    "write_error_report": "browser",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
