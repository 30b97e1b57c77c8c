"""What every ``ecr-hf`` command group shares: the checked argument types, the help format, the
input-format options and reading, printing, the output check, and :func:`run`, which runs a command
and turns bad input into ``ecr-hf <command>: error: ...`` and exit status 2.

Kept light: importing it (and so ``ecr-hf --help``) loads neither torch nor gradio nor matplotlib.
"""

from __future__ import annotations

import argparse
import math
import os
import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..corpora import DISCONTINUOUS, FORMATS, DocumentFile, read_documents, read_jsonl
from ..utils import OutputExistsError

__all__ = ["SAMPLE", "CommandFactory", "HelpFormatter", "checked", "POSITIVE_INT", "SEED", "LEVEL", "POSITIVE", "P",
           "WARMUP", "BIDIRECTIONAL", "split_name", "fold_pattern", "add_input_options", "input_options", "read",
           "read_span_documents", "echo", "check_output", "run"]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ncbi_disease_sample.jsonl"
_TRAIN_EXTRAS = ("torch", "transformers", "accelerate", "peft", "trl")  # pyproject's [train]

# command(name, help): a new subcommand's parser, in HelpFormatter, with help as its description too
CommandFactory = Callable[[str, str], argparse.ArgumentParser]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, except where there is none to show (required
    options, flags, options whose help says what None means)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def checked(convert: Callable[[str], Any], what: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text, then refuse values outside the option's range."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


POSITIVE_INT = checked(int, "an integer >= 1", lambda v: v >= 1)
SEED = checked(int, "an integer >= 0", lambda v: v >= 0)
LEVEL = checked(float, "a number in (0, 1)", lambda v: 0 < v < 1)
POSITIVE = checked(float, "a finite number > 0", lambda v: 0 < v < math.inf)
P = checked(float, "a number >= 1 (or inf)", lambda v: v >= 1)
WARMUP = checked(float, "a whole number of steps >= 0, or a fraction of the training steps in (0, 1)",
                 lambda v: 0 <= v < 1 or (1 <= v < math.inf and v == int(v)))
BIDIRECTIONAL = checked(lambda t: t if t in ("none", "all") else int(t), "'none', 'all' or a number of layers >= 1",
                        lambda v: isinstance(v, str) or v >= 1)


def split_name(text: str) -> str | None:
    """A ``--*-split`` value: ``None`` spelled out means every line."""
    return None if text == "None" else text


def fold_pattern(pattern: str) -> str:
    """A path pattern whose only ``{...}`` field is ``{k}``, the fold number (a format spec such as
    ``{k:02d}`` is fine); a literal brace is written ``{{`` or ``}}``."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
        pattern.format(k=0)
    except (ValueError, KeyError, IndexError, AttributeError) as e:
        fields = {f"error: {e}"}
    if fields != {"k"}:
        raise argparse.ArgumentTypeError(
            f"{pattern!r} is not a path pattern with {{k}} (the fold number) as its only {{...}} field, e.g. "
            "splits/fold{k}/test.jsonl; write a literal brace as {{ or }}")
    return pattern


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """``--input-format``, ``--discontinuous`` and ``--label-infon``: how a command reads its input files."""
    parser.add_argument("--input-format", choices=("auto", *FORMATS), default="auto",
                        help="format of the input files: auto detects it per file (a folder: BRAT; by suffix .ann, "
                        ".pubtator, .xml (BioC), .json holding a BioC collection, .spacy (DocBin), .parquet "
                        "(BigBIO kb); a file starting 'PMID|t|': PubTator; JSON records with passages and entities "
                        "with offsets: BigBIO kb; else JSONL)")
    parser.add_argument("--discontinuous", choices=DISCONTINUOUS, default="split",
                        help="BRAT, BioC and BigBIO annotations of several fragments: one span per fragment (split), "
                        "one "
                        "span from the first start to the last end (join), or an error")
    parser.add_argument("--label-infon", default="type", help="BioC: the annotation infon that holds the label")


def input_options(args: argparse.Namespace) -> dict[str, str]:
    """How the command's input files are read (the options :func:`add_input_options` adds)."""
    return {"input_format": args.input_format, "discontinuous": args.discontinuous, "label_infon": args.label_infon}


def read(path: str | os.PathLike, *, marked: bool = False, entities: bool = True, input_format: str = "jsonl",
         discontinuous: str = "split", label_infon: str = "type") -> DocumentFile:
    """An input file's documents (:func:`ecr_hf.corpora.read_documents`; ``input_format="auto"``
    detects the format)."""
    return read_documents(path, None if input_format == "auto" else input_format, marked=marked, entities=entities,
                          discontinuous=discontinuous, label_key=label_infon)


def read_span_documents(path: str | Path, *, marked: bool = False, entities: bool = True) -> dict[str, dict[str, Any]]:
    """``{doc_id: document}`` of a JSONL file of span documents, each line checked as
    :func:`ecr_hf.corpora.read_jsonl` checks it."""
    return read_jsonl(path, marked=marked, entities=entities).docs


def echo(text: str) -> None:
    """Print what the terminal's encoding cannot hold (lone surrogates, or CJK on a Latin-1
    console) as backslash escapes instead of raising ``UnicodeEncodeError``."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding))


def check_output(path: str, overwrite: bool) -> None:
    """Refuse an existing output before any work is done (the atomic write checks again)."""
    if Path(path).exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")


def run(args: argparse.Namespace) -> int:
    """Run the parsed command, ``args.func(args)``, and return its exit status. Bad input (a file, a
    line, a value) and a missing extra print ``ecr-hf <command>: error: ...`` naming it and return 2,
    as argparse does for bad options; a closed stdout (``ecr-hf score | head``) returns 1 quietly."""
    try:
        try:
            code = args.func(args)
        except BrokenPipeError:
            raise
        except ModuleNotFoundError as e:
            if e.name == "spacy":  # its message names the extra
                print(f"ecr-hf {args.command}: error: {e}", file=sys.stderr)
                return 2
            if e.name not in _TRAIN_EXTRAS:
                raise
            print(f"ecr-hf {args.command}: error: {e}; this command needs the training extras: pip install "
                  "'ecr-hf[train]'", file=sys.stderr)
            return 2
        except (OSError, ValueError) as e:
            print(f"ecr-hf {args.command}: error: {e}", file=sys.stderr)
            return 2
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader left (ecr-hf score | head): as the Python docs advise (signal module, "Note on
        # SIGPIPE"), point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
