"""Work shared out over the processes of ``torchrun`` / ``accelerate launch``.

``ecr-hf predict`` and ``evaluate`` run unchanged under a launcher: every process runs a contiguous
share of the documents on its own device, all get every result back in input order, and only the
first writes outputs. Outside a launcher nothing is set up and everything runs here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["is_main_process", "run_sharded"]


def is_main_process() -> bool:
    """Whether this process writes shared outputs: True unless it is a rank other than 0 of a
    ``torchrun`` / ``accelerate launch`` job (both set ``RANK``)."""
    return int(os.environ.get("RANK", "0")) == 0


def run_sharded(n: int, run: Callable[[list[int], bool], list], model: Any) -> list:
    """``run(indices, is_main)`` over ``range(n)``, each process a contiguous share with ``model`` on its
    own device, the results gathered back in order on every process; in one process ``run(all, True)``."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:  # not launched: no process group to set up
        return run(list(range(n)), True)
    import torch
    from accelerate import PartialState
    from accelerate.utils import gather_object

    state = PartialState(cpu=not torch.cuda.is_available())  # without cpu=True, CPU ranks see one process
    model.to(state.device)
    with state.split_between_processes(list(range(n))) as mine:
        found = run(list(mine), state.is_main_process)
    out: list = [None] * n
    for i, x in gather_object(list(zip(mine, found))):
        out[i] = x
    return out
