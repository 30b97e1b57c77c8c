"""The Space's page: span_metrics.compute on JSON input (ecr_hf.scoring.metric_app, current gradio)."""

from pathlib import Path

from ecr_hf.scoring import build_metric_app

# the module script beside this file: the same in this repository and in a Hub Space
demo = build_metric_app(
    Path(__file__).resolve().with_name("span_metrics.py"),
    references=[[{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 15, "label": "LOC"}]],
    predictions=[[{"start": 0, "end": 5, "label": "PER"}]],
)

if __name__ == "__main__":
    demo.launch()
