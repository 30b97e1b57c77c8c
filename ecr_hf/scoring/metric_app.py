"""The metric Spaces' page: an ``evaluate`` module's ``compute`` on JSON input, on current gradio.

``evaluate.utils.launch_gradio_widget`` is written for gradio 3 (``gr.inputs``) and fails at start
on gradio 4 and later; ``metrics/*/app.py`` build this page instead, with the same gradio as the
leaderboard app. References, predictions and ``compute``'s keyword arguments are JSON text; a
malformed input or a :class:`ValueError` from the metric (which names the document and span) is
shown in the page, never a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import evaluate
    import gradio as gr

__all__ = ["build_metric_app"]

MAX_INPUT_CHARS = 2_000_000
"""Longest JSON text one box takes (the page is for trying the metric, not for corpora)."""


def _jsonable(value: Any) -> Any:
    """NaN (an undefined score) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def compute_from_json(module: evaluate.EvaluationModule, references: str, predictions: str,
                      options: str) -> dict[str, Any]:
    """``module.compute`` of JSON texts; a ValueError names the box and the problem."""
    values = {}
    for name, text, kind in (("references", references, list), ("predictions", predictions, list),
                             ("options", options or "{}", dict)):
        if len(text) > MAX_INPUT_CHARS:
            raise ValueError(f"{name}: {len(text):,} characters; the limit is {MAX_INPUT_CHARS:,}")
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{name}: not valid JSON at line {e.lineno} column {e.colno} ({e.msg})") from None
        if not isinstance(values[name], kind):
            raise ValueError(f"{name}: expected a JSON {'array (one item per document)' if kind is list else 'object'}"
                             f", got {type(values[name]).__name__}")
    options = values.pop("options")
    clash = {"references", "predictions"} & set(options)
    if clash:
        raise ValueError(f"options: {sorted(clash)} go in their own boxes")
    try:
        return _jsonable(module.compute(**values, **options))
    except TypeError as e:  # an unknown option name
        raise ValueError(f"options: {e}") from None


def build_metric_app(module: str | Path | evaluate.EvaluationModule, *, references: Any = None,
                     predictions: Any = None, options: dict[str, Any] | None = None) -> gr.Blocks:
    """A page for ``module`` (an ``evaluate`` module, or the path of its script), with the given
    example input filled in."""
    import evaluate
    import gradio as gr

    if not isinstance(module, evaluate.EvaluationModule):
        module = evaluate.load(str(module))
    title = module.name.replace("_", " ").title()

    def compute(references: str, predictions: str, options: str) -> tuple[str, dict[str, Any] | None]:
        try:
            return "", compute_from_json(module, references, predictions, options)
        except ValueError as e:
            return f"error: {e}", None

    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"# {title}\n\n{module.description}")
        with gr.Row():
            refs = gr.Textbox(json.dumps(references or [], ensure_ascii=False), lines=6, label="references (JSON)",
                              elem_id="references")
            preds = gr.Textbox(json.dumps(predictions or [], ensure_ascii=False), lines=6,
                               label="predictions (JSON)", elem_id="predictions")
        opts = gr.Textbox(json.dumps(options or {}), label="options: compute()'s keyword arguments (JSON)",
                          elem_id="options")
        button = gr.Button("Compute", variant="primary", elem_id="compute")
        status = gr.Textbox(label="message", interactive=False, elem_id="status")
        scores = gr.JSON(label="scores", elem_id="scores")
        with gr.Accordion("Inputs and outputs", open=False):
            gr.Markdown(f"```\n{module.inputs_description.strip()}\n```")
        button.click(compute, [refs, preds, opts], [status, scores])
    return demo
