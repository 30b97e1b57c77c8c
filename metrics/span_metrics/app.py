from pathlib import Path

import evaluate
from evaluate.utils import launch_gradio_widget


# the module script beside this file: the same in this repository and in a Hub Space
module = evaluate.load(str(Path(__file__).resolve().with_name("span_metrics.py")))
launch_gradio_widget(module)
