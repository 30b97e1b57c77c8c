"""The Space's page: weighted_soft_match.compute on JSON input (ecr_hf.scoring.metric_app, current gradio)."""

from pathlib import Path

from ecr_hf.scoring import build_metric_app

# the module script beside this file: the same in this repository and in a Hub Space
demo = build_metric_app(
    Path(__file__).resolve().with_name("weighted_soft_match.py"),
    references=[[{"start": 0, "end": 10, "label": "finding"}]],
    predictions=[[{"start": 0, "end": 4, "label": "finding"}, {"start": 6, "end": 10, "label": "finding"}]],
    options={"p": 2},
)

if __name__ == "__main__":
    demo.launch()
