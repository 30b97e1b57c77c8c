"""Prompt templates for marker-style extraction (paper 000, Methods, "Fine-Tuning").

``JA_TEMPLATE`` is the paper's Japanese instruction prompt, verbatim: the paper prints it as four
quoted pieces that join with nothing in between, and its ``\\n`` are newlines (an Alpaca-style
layout, after Wang et al.). ``EN_TEMPLATE`` uses the paper's English gloss of it, laid out with
exactly the Japanese template's spaces and newlines, so that the two differ only in language (the
paper's gloss drops the ``" \\n\\n"`` after the first paragraph and adds a space after
``"Instruction:\\n"``; a translation, not the prompt that was trained on).

A template is a ``str`` holding ``{input}`` exactly once; it is filled with ``str.replace`` (not
``str.format``), so braces in clinical text or elsewhere in a user template are left alone.

Typed extraction (not in the paper; the English and Japanese texts here are this package's, with the
layout of the paper's template):

* ``typed="markers"``: ``{labels}`` (the label set, joined with ``", "``) tells the model to write a
  label right after ``##`` (``@@aspirin##Chemical``): :data:`TYPED_TEMPLATES`.
* ``typed="queries"``: ``{label}`` names the one label the model is to mark (UniversalNER's one query
  per label): :data:`QUERY_TEMPLATES`.

A user template for typed extraction must hold that placeholder (at least once) besides ``{input}``.
The labels are filled in the template's own text only, never in the input text.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["JA_TEMPLATE", "EN_TEMPLATE", "TEMPLATES", "TYPED_MODES", "DEFAULT_TYPED", "EN_TYPED_TEMPLATE", "JA_TYPED_TEMPLATE", "TYPED_TEMPLATES",
           "EN_QUERY_TEMPLATE", "JA_QUERY_TEMPLATE", "QUERY_TEMPLATES", "resolve_template", "render_prompt"]

PLACEHOLDER = "{input}"
LABELS_PLACEHOLDER = "{labels}"
LABEL_PLACEHOLDER = "{label}"
TYPED_MODES = ("markers", "queries")
DEFAULT_TYPED = "markers"
"""How typed corpora are extracted generatively by default (the leaderboard's choice): typed markers,
one generation per document; per-label queries cost one generation per label."""

JA_TEMPLATE = (
    "以下は、タスクを説明する指示と、文脈のある入力組み合わせです。"
    "要求を適切に満たす応答を書きなさい。 \n\n"
    "### 指示:\n与えられた文に対して重要臨床概念を@@と##で強調表示し、抽出してください。"
    "重要臨床概念が存在しない場合は同じ文を出力してください。 \n\n### 入力:{input} \n\n### 応答:"
)

EN_TEMPLATE = (
    "The following is a combination of instructions describing a task and contextual input. "
    "Write a response that appropriately fulfills the request. \n\n"
    "### Instruction:\nFor the given sentence, highlight the key clinical concepts using @@ and ##, "
    "and extract them. "
    "If there are no key clinical concepts, output the same sentence as it is. \n\n### Input:{input} \n\n"
    "### Response:"
)

TEMPLATES = {"ja": JA_TEMPLATE, "en": EN_TEMPLATE}

EN_TYPED_TEMPLATE = (
    "The following is a combination of instructions describing a task and contextual input. "
    "Write a response that appropriately fulfills the request. \n\n"
    "### Instruction:\nFor the given sentence, highlight the key clinical concepts using @@ and ##, "
    "write the type of each concept right after its ## (one of: {labels}), and extract them. "
    "If there are no key clinical concepts, output the same sentence as it is. \n\n### Input:{input} \n\n"
    "### Response:"
)

JA_TYPED_TEMPLATE = (
    "以下は、タスクを説明する指示と、文脈のある入力組み合わせです。"
    "要求を適切に満たす応答を書きなさい。 \n\n"
    "### 指示:\n与えられた文に対して重要臨床概念を@@と##で強調表示し、各概念の##の直後にその種類（{labels}のいずれか）を"
    "書いて、抽出してください。"
    "重要臨床概念が存在しない場合は同じ文を出力してください。 \n\n### 入力:{input} \n\n### 応答:"
)

EN_QUERY_TEMPLATE = (
    "The following is a combination of instructions describing a task and contextual input. "
    "Write a response that appropriately fulfills the request. \n\n"
    "### Instruction:\nFor the given sentence, highlight the concepts of type {label} using @@ and ##, "
    "and extract them. "
    "If there are no concepts of type {label}, output the same sentence as it is. \n\n### Input:{input} \n\n"
    "### Response:"
)

JA_QUERY_TEMPLATE = (
    "以下は、タスクを説明する指示と、文脈のある入力組み合わせです。"
    "要求を適切に満たす応答を書きなさい。 \n\n"
    "### 指示:\n与えられた文に対して種類が{label}である概念を@@と##で強調表示し、抽出してください。"
    "種類が{label}である概念が存在しない場合は同じ文を出力してください。 \n\n### 入力:{input} \n\n### 応答:"
)

TYPED_TEMPLATES = {"ja": JA_TYPED_TEMPLATE, "en": EN_TYPED_TEMPLATE}
QUERY_TEMPLATES = {"ja": JA_QUERY_TEMPLATE, "en": EN_QUERY_TEMPLATE}
_BUILT_IN = {None: TEMPLATES, "markers": TYPED_TEMPLATES, "queries": QUERY_TEMPLATES}
_TYPED_PLACEHOLDER = {"markers": LABELS_PLACEHOLDER, "queries": LABEL_PLACEHOLDER}


def resolve_template(template: str, typed: str | None = None) -> str:
    """``"ja"``/``"en"`` for the built-in templates, else a user template that holds ``{input}`` once.

    ``typed="markers"`` picks the typed-marker templates (:data:`TYPED_TEMPLATES`) and asks a user
    template for ``{labels}``; ``typed="queries"`` the per-label query templates
    (:data:`QUERY_TEMPLATES`) and ``{label}``.
    """
    if typed not in _BUILT_IN:
        raise ValueError(f"typed must be None, 'markers' or 'queries', got {typed!r}")
    built_in = _BUILT_IN[typed]
    if template in built_in:
        return built_in[template]
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}")
    count = template.count(PLACEHOLDER)
    if count != 1:
        raise ValueError(f"template must contain {PLACEHOLDER!r} exactly once (found {count} times), or be one of "
                         f"{sorted(built_in)}; got {template[:80]!r}")
    if typed is not None and _TYPED_PLACEHOLDER[typed] not in template:
        what = "the label set" if typed == "markers" else "the queried label"
        raise ValueError(f"a template for typed={typed!r} must contain {_TYPED_PLACEHOLDER[typed]!r} (where "
                         f"{what} is named), or be one of {sorted(built_in)}; got {template[:80]!r}")
    return template


def render_prompt(template: str, text: str, *, labels: Sequence[str] | None = None, label: str | None = None) -> str:
    """Fill ``template`` (a name or a template string) with the input ``text``.

    With ``labels`` (typed markers) or ``label`` (one query per label) the typed templates are used
    (see :func:`resolve_template`) and ``{labels}`` / ``{label}`` filled in the template's text.

    Examples:
        >>> render_prompt("Mark concepts in: {input}\\nAnswer:", "fever {37.8}")
        'Mark concepts in: fever {37.8}\\nAnswer:'
        >>> render_prompt("Mark {labels} in: {input}", "aspirin {label}", labels=["Chemical", "Disease"])
        'Mark Chemical, Disease in: aspirin {label}'
        >>> render_prompt("Mark {label} in: {input}", "aspirin", label="Chemical")
        'Mark Chemical in: aspirin'
    """
    if labels is None and label is None:
        return resolve_template(template).replace(PLACEHOLDER, text)
    if labels is not None and label is not None:
        raise ValueError("pass labels= (typed markers: the label set) or label= (one query: its label), not both")
    if labels is not None:
        if isinstance(labels, str):
            raise TypeError(f"labels must be a list of label strings, got the string {labels!r}")
        typed, placeholder, value = "markers", LABELS_PLACEHOLDER, ", ".join(labels)
    else:
        typed, placeholder, value = "queries", LABEL_PLACEHOLDER, label
    head, tail = resolve_template(template, typed).split(PLACEHOLDER)
    return head.replace(placeholder, value) + text + tail.replace(placeholder, value)
