"""Prompt templates for marker-style extraction (paper 000, Methods, "Fine-Tuning").

``JA_TEMPLATE`` is the paper's Japanese instruction prompt, verbatim: the paper prints it as four
quoted pieces that join with nothing in between, and its ``\\n`` are newlines (an Alpaca-style
layout, after Wang et al.). ``EN_TEMPLATE`` uses the paper's English gloss of it, laid out with
exactly the Japanese template's spaces and newlines, so that the two differ only in language (the
paper's gloss drops the ``" \\n\\n"`` after the first paragraph and adds a space after
``"Instruction:\\n"``; a translation, not the prompt that was trained on).

A template is a ``str`` holding ``{input}`` exactly once; it is filled with ``str.replace`` (not
``str.format``), so braces in clinical text or elsewhere in a user template are left alone.
"""

from __future__ import annotations

__all__ = ["JA_TEMPLATE", "EN_TEMPLATE", "TEMPLATES", "resolve_template", "render_prompt"]

PLACEHOLDER = "{input}"

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


def resolve_template(template: str) -> str:
    """``"ja"``/``"en"`` for the built-in templates, else a user template that holds ``{input}`` once."""
    if template in TEMPLATES:
        return TEMPLATES[template]
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}")
    count = template.count(PLACEHOLDER)
    if count != 1:
        raise ValueError(f"template must contain {PLACEHOLDER!r} exactly once (found {count} times), or be one of "
                         f"{sorted(TEMPLATES)}; got {template[:80]!r}")
    return template


def render_prompt(template: str, text: str) -> str:
    """Fill ``template`` (a name or a template string) with the input ``text``.

    Examples:
        >>> render_prompt("Mark concepts in: {input}\\nAnswer:", "fever {37.8}")
        'Mark concepts in: fever {37.8}\\nAnswer:'
    """
    return resolve_template(template).replace(PLACEHOLDER, text)
