"""A ready-to-push Gradio Space folder for a leaderboard (``ecr-hf leaderboard space``).

ecr-hf is not on PyPI, and a Space cannot install it from a path in ``requirements.txt``: the Space
build runs ``pip install -r requirements.txt`` with only that file mounted, before the repository's
files are copied in. So the folder carries the package itself: the wheel of this ecr-hf, unpacked
(``ecr_hf/`` and its ``.dist-info``, what pip would put in site-packages), importable because
``python app.py`` puts the folder on ``sys.path``; ``requirements.txt`` pins the wheel's own
dependencies and the gradio of the Space's ``sdk_version``. The folder::

    app.py            build_app(results/, $ECR_HF_REFERENCES)
    requirements.txt  the wheel's dependencies, matplotlib, gradio==<this gradio>
    README.md         the Space's YAML header (sdk: gradio, sdk_version, app_file: app.py)
    results/*.json    the leaderboard files (checked by load_results)
    ecr_hf/, ecr_hf-<version>.dist-info/

The reference files are never written into it: a Space's files can be downloaded by anyone who
can see the Space. Submissions are on when the running Space finds them at ``$ECR_HF_REFERENCES``.
:func:`write_metric_space` writes the metric Spaces (``metrics/<name>/``) the same way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from email.parser import Parser
from pathlib import Path

from .results import load_results
from ..utils.outputs import atomic_write_folder

__all__ = ["build_wheel", "write_space", "write_metric_space"]

_APP = '''"""Leaderboard Space written by `ecr-hf leaderboard space` (ecr-hf {version})."""

import os
from pathlib import Path

from ecr_hf.leaderboard import MAX_SUBMISSION_BYTES, build_app

HERE = Path(__file__).resolve().parent
# ECR_HF_RESULTS: a persistent folder for the results (submissions are saved there; a Space's own
# disk is reset on restart). ECR_HF_REFERENCES: the gold test files, kept out of this repository.
demo = build_app(os.environ.get("ECR_HF_RESULTS") or HERE / "results", os.environ.get("ECR_HF_REFERENCES") or None)

if __name__ == "__main__":
    demo.launch(max_file_size=MAX_SUBMISSION_BYTES)
'''

_README = """---
title: {yaml_title}
emoji: 🩺
colorFrom: blue
colorTo: green
sdk: gradio
sdk_version: {gradio}
app_file: app.py
pinned: false
tags:
- leaderboard
- evaluate
---

# {title}

E-CCR leaderboard: weighted soft matching (Tsukiji et al., JMIR 2026) of {n} systems on {datasets},
mean (SD) over cross-validation folds. Written by `ecr-hf leaderboard space` (ecr-hf {version}).

Run it locally: `pip install -r requirements.txt && python app.py`. Push it:

```bash
hf upload <user>/<space> . . --repo-type space
```

Submissions need the gold test files, which must not be pushed here (a Space's files are
downloadable): set the Space variable `ECR_HF_REFERENCES` to a folder that holds them
(`<data set>/fold{{k}}/test.jsonl`) and `ECR_HF_RESULTS` to a persistent folder for the results.
"""


def build_wheel(out_dir: str | os.PathLike, project: str | os.PathLike | None = None) -> Path:
    """``pip wheel --no-deps`` of the ecr-hf source tree this module runs from (or ``project``)
    into ``out_dir``; the path of the wheel. Needs a source checkout (``pyproject.toml``)."""
    project = Path(project) if project is not None else Path(__file__).resolve().parents[2]
    if not (project / "pyproject.toml").is_file():
        raise ValueError(f"{project} is not an ecr-hf source tree (no pyproject.toml); pass a wheel (--wheel)")
    with tempfile.TemporaryDirectory() as tmp:  # a clean copy: an in-tree build/ could add stale files
        source = Path(tmp) / "src"
        shutil.copytree(project, source, ignore=shutil.ignore_patterns(
            ".*", "build", "dist", "*.egg-info", "__pycache__", "outputs", "runs"))
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                               "-w", str(out_dir), str(source)], capture_output=True, text=True)
    if done.returncode:
        raise ValueError(f"pip wheel {project} failed:\n{done.stderr[-2000:]}")
    wheels = sorted(Path(out_dir).glob("ecr_hf-*.whl"))
    if len(wheels) != 1:
        raise ValueError(f"expected one ecr-hf wheel in {out_dir}, found {[w.name for w in wheels]}")
    return wheels[0]


def _requirements(metadata: str, gradio_version: str) -> list[str]:
    """The wheel's ``Requires-Dist`` without extras, those of its ``leaderboard`` extra, matplotlib
    (the app's figures), and gradio pinned to the version the Space's ``sdk_version`` names."""
    lines = []
    for requirement in Parser().parsestr(metadata).get_all("Requires-Dist") or []:
        name, _, marker = requirement.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if extra is None or extra[1] == "leaderboard":
            if not re.match(r"gradio\b", name.strip()):
                lines.append(name.strip())
    if not any(re.match(r"matplotlib\b", line) for line in lines):
        lines.append("matplotlib>=3.7")
    return [*dict.fromkeys(lines), f"gradio=={gradio_version}"]


_DEMO = "ecr_hf/data/leaderboard_demo/"


def _package(wheel: str | os.PathLike | None) -> tuple[dict[str, str], str]:
    """Every file of the ecr-hf wheel (built from this source tree when None) but the demo
    leaderboard, as text, and its METADATA; a wheel member that is not UTF-8 text is an error (the folder is written as text)."""
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(wheel) if wheel is not None else build_wheel(tmp)
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                # a Space serves its own results: the shipped demo, gold references included, stays out
                if member.is_dir() or member.filename.startswith(_DEMO):
                    continue
                try:
                    files[member.filename] = archive.read(member).decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError(f"{path}: {member.filename} is not text; the Space folder carries text "
                                     "files only") from None
    metadata = next((text for name, text in files.items() if name.endswith(".dist-info/METADATA")), None)
    if metadata is None:
        raise ValueError(f"{path} has no .dist-info/METADATA: not a wheel")
    return files, metadata


def write_space(out_dir: str | os.PathLike, results: str | os.PathLike | Iterable[str | os.PathLike], *,
                wheel: str | os.PathLike | None = None, title: str = "E-CCR leaderboard",
                overwrite: bool = False) -> Path:
    """Write the Space folder (module docstring) for the leaderboard files ``results`` (a folder
    or paths), with the package from ``wheel`` (default: built from this source tree). The folder
    appears whole or not at all (:func:`ecr_hf.utils.atomic_write_folder`); a non-empty
    ``out_dir`` is refused unless ``overwrite``."""
    import gradio

    rows = load_results(results).to_list()  # a broken file fails here, not on the Space
    paths = [Path(results)] if isinstance(results, (str, os.PathLike)) else [Path(p) for p in results]
    files, metadata = _package(wheel)
    for path in paths:
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            name = f"results/{file.name}"
            if name in files:
                raise ValueError(f"two results files are named {file.name}; give them different names")
            files[name] = file.read_text(encoding="utf-8")
    version = Parser().parsestr(metadata)["Version"]
    datasets = sorted({str(row["dataset"]) for row in rows})
    files["app.py"] = _APP.format(version=version)
    files["requirements.txt"] = "\n".join(_requirements(metadata, gradio.__version__)) + "\n"
    files["README.md"] = _README.format(title=title, yaml_title=json.dumps(title, ensure_ascii=False),
                                        gradio=gradio.__version__, version=version, datasets=", ".join(datasets),
                                        n=len({str(row["model_name"]) for row in rows}))
    return atomic_write_folder(out_dir, files, overwrite=overwrite)


def write_metric_space(out_dir: str | os.PathLike, name: str, *, wheel: str | os.PathLike | None = None,
                       overwrite: bool = False) -> Path:
    """Write the Space folder of the ``evaluate`` module ``name`` (``weighted_soft_match`` or
    ``span_metrics``): its ``metrics/<name>/`` files as the wheel ships them (``ecr_hf._metrics``),
    with the package carried as in :func:`write_space`, ``requirements.txt`` the wheel's
    dependencies and this gradio, and the README's ``sdk_version`` set to this gradio (the page is
    :func:`ecr_hf.scoring.build_metric_app`, written for it)."""
    import gradio

    files, metadata = _package(wheel)
    prefix = f"ecr_hf/_metrics/{name}/"
    own = {key[len(prefix):]: text for key, text in files.items()
           if key.startswith(prefix) and "/" not in key[len(prefix):]}
    if "app.py" not in own or "README.md" not in own:
        raise ValueError(f"the wheel has no metric Space {name!r} (expected {prefix}app.py and README.md)")
    files.update(own)
    requirements = [r for r in _requirements(metadata, gradio.__version__) if not re.match(r"matplotlib\b", r)]
    files["requirements.txt"] = "\n".join(requirements) + "\n"
    files["README.md"], n = re.subn(r"(?m)^sdk_version:.*$", f"sdk_version: {gradio.__version__}", own["README.md"], 1)
    if not n:
        raise ValueError(f"{prefix}README.md has no 'sdk_version:' line in its YAML header")
    return atomic_write_folder(out_dir, files, overwrite=overwrite)
