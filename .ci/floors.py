"""Print ``name==version`` pins for the lowest versions pyproject.toml declares of the HF stack.

    python .ci/floors.py           # one pin per line, for `pip install`
    python .ci/floors.py --check   # exit 1 unless the installed versions are exactly those pins

CI installs these pins in a second environment and runs the core and trainer tests there, so the
floors tested are read from the declaration itself and cannot drift from it. A package below without
a ``>=`` bound in pyproject.toml is an error.
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

PACKAGES = ("transformers", "trl", "peft", "accelerate", "datasets", "evaluate")


def floors(pyproject: Path) -> dict[str, str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    out: dict[str, str] = {}
    for text in declared:
        req = Requirement(text)
        if req.name in PACKAGES:
            lows = [s.version for s in req.specifier if s.operator == ">="]
            if len(lows) != 1:
                raise SystemExit(f"{pyproject}: {text!r} needs exactly one '>=' lower bound")
            out[req.name] = lows[0]
    missing = [p for p in PACKAGES if p not in out]
    if missing:
        raise SystemExit(f"{pyproject}: no requirement for {missing}")
    return out


def main() -> None:
    pins = floors(Path(__file__).resolve().parents[1] / "pyproject.toml")
    if sys.argv[1:] == ["--check"]:
        from packaging.version import Version

        wrong = [f"{p} {version(p)} (floor {v})" for p, v in pins.items() if Version(version(p)) != Version(v)]
        if wrong:
            raise SystemExit("installed versions are not the floors: " + ", ".join(wrong))
        print("floors installed: " + ", ".join(f"{p} {v}" for p, v in pins.items()))
    elif sys.argv[1:]:
        raise SystemExit(__doc__)
    else:
        print("\n".join(f"{p}=={v}" for p, v in pins.items()))


if __name__ == "__main__":
    main()
