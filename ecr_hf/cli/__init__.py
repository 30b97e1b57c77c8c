"""The ``ecr-hf`` console script: :func:`main` builds the parser from the command groups and runs the
chosen command.

One module per group: :mod:`.scoring` (register-metrics, score, semeval), :mod:`.training` (train,
predict), :mod:`.leaderboard` (cv-split, cv-score, evaluate, leaderboard, leaderboard-serve,
leaderboard-space, leaderboard-worker)
and :mod:`.reports` (errors, buckets, significance, plot, model-card); :mod:`.common` holds what they share.
Wherever a command reads documents it reads JSONL (``{"doc_id", "text", "entities": [{"start", "end",
"label"}]}`` per line) and also BRAT, PubTator, BioC XML/JSON and spaCy DocBin corpora
(:mod:`ecr_hf.corpora`; ``--input-format``, detected per file by default).

The group modules import light, shared names at the top, from each wing's public face. A command
imports the rest inside itself (torch, transformers, gradio and matplotlib among them, so ``--help``
and ``score`` load none), from the defining module rather than the wing's lazy name, which is cached
once looked up: a missing extra then fails at that import, and a patch of the module reaches the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import leaderboard, reports, scoring, training
from .common import SAMPLE, HelpFormatter, read_span_documents, run

__all__ = ["SAMPLE", "main", "read_span_documents"]

# Each adds one command; their order is that of ``ecr-hf --help``.
_COMMANDS = (
    scoring.add_register_metrics, scoring.add_score, reports.add_errors, reports.add_buckets, scoring.add_semeval,
    training.add_train, leaderboard.add_cv_split, leaderboard.add_cv_score, leaderboard.add_evaluate,
    training.add_predict,
    leaderboard.add_leaderboard, leaderboard.add_leaderboard_serve, leaderboard.add_leaderboard_space,
    leaderboard.add_leaderboard_worker, reports.add_model_card, reports.add_plot, reports.add_significance,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ecr-hf`` command. Bad input (a file, a line, a value) prints ``ecr-hf <command>:
    error: ...`` naming it and returns 2, as argparse does for bad options; a closed stdout (``ecr-hf
    score | head``) ends the command quietly."""
    from .. import __version__

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["leaderboard"] and argv[1:2] in (["serve"], ["space"]):  # a file so named: ./serve
        argv = [f"leaderboard-{argv[1]}", *argv[2:]]
    parser = argparse.ArgumentParser(prog="ecr-hf", description="Extended Clinical Concept Recognition tools.",
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)

    for add in _COMMANDS:
        add(command)
    return run(parser.parse_args(argv))
