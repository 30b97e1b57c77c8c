"""Quiet transformers' LOAD REPORT for a token-classification head that is new by design.

Building a token classifier on a checkpoint always leaves its new head (``classifier``/``score``)
MISSING from the checkpoint and the checkpoint's own heads (a pooler, an LM head) UNEXPECTED;
transformers prints a table of that on every train and predict run. The filter drops that report
only, and keeps any report with another row (a missing backbone weight, a size mismatch). It lives
outside :mod:`ecr_hf.token_classification`, and touches only the stdlib logger, so importing it loads no
transformers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NewHeadReport", "quiet_new_head_reports"]

_NEW_HEADS = ("classifier", "score")  # AutoModelForTokenClassification's head module names


class NewHeadReport(logging.Filter):
    """Drops transformers' LOAD REPORT when it only says what building a token classifier on a
    checkpoint always does: the new head (``classifier``/``score``) is MISSING (initialised) and the
    checkpoint's own heads (a pooler, an LM head) are UNEXPECTED. A report with any other row (a
    missing backbone weight, a size mismatch) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        rows = [[cell.strip() for cell in re.sub(r"\x1b\[[0-9;]*m", "", line).split("|")]
                for line in message.splitlines() if line.count("|") >= 2]
        expected = [(key.split(".")[0] in _NEW_HEADS and status == "MISSING") or status == "UNEXPECTED"
                    for key, status, *_ in rows[1:]]  # rows[0] is the header
        return not (expected and all(expected))


@contextmanager
def quiet_new_head_reports() -> Iterator[None]:
    """:class:`NewHeadReport` on transformers' loading logger (a plain ``logging`` logger, so
    commands that never load a model do not import transformers)."""
    logger, report = logging.getLogger("transformers.modeling_utils"), NewHeadReport()
    logger.addFilter(report)
    try:
        yield
    finally:
        logger.removeFilter(report)
