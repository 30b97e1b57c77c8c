"""The wings of ecr_hf import downwards only, as the README's "Layout and architecture" table says.

The table is read from the README, so the documented layering and the checked one cannot drift
apart. Every import statement of the package counts, those inside functions and under
``TYPE_CHECKING`` too: a lazy import still ties a lower wing to a higher one.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ecr_hf"
ROOT_NAMES = {"__version__"}  # what a wing may import from the package root
METRICS_MAX_LAYER = 3  # the evaluate modules in metrics/ are adapters over scoring


def documented_layers() -> dict[str, int]:
    """wing -> layer, from the README's table (rows ``| layer | `wing` | ... |``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Layout and architecture"):]
    section = section[:section.index("\n## ", 1)]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", section, re.MULTILINE)
    assert rows, "the README's architecture table is missing"
    return {wing: int(layer) for layer, wing in rows}


def imports(source: str, module: str, is_package: bool) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, absolute module, names) of every import of ``ecr_hf`` in ``source``."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(a.name for a in node.names)
            if target == "ecr_hf":  # from ecr_hf import x: x may be a wing or a root name
                out += [(node.lineno, f"ecr_hf.{n}" if (PACKAGE / n).is_dir() else "ecr_hf", (n,)) for n in names]
            elif target.startswith("ecr_hf."):
                out.append((node.lineno, target, names))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, ()) for a in node.names if a.name.split(".")[0] == "ecr_hf"]
    return out


def violations(source: str, module: str, is_package: bool, layers: dict[str, int],
               max_layer: int | None = None) -> list[str]:
    """Every import of ``source`` (module ``module``) that breaks the layering, as messages."""
    parts = module.split(".")
    own = parts[1] if len(parts) > 1 else None
    if own is not None and own not in layers:
        return [f"{module}: wing {own!r} is not in the README's architecture table"]
    limit = layers[own] - 1 if own is not None else max_layer
    out = []
    for line, target, names in imports(source, module, is_package):
        if target == "ecr_hf" and not names:  # import ecr_hf
            out.append(f"{module}:{line}: imports the package root")
            continue
        if target == "ecr_hf":
            if not set(names) <= ROOT_NAMES:
                out.append(f"{module}:{line}: imports {sorted(set(names) - ROOT_NAMES)} from the package root "
                           f"(only {sorted(ROOT_NAMES)}; import from the wing instead)")
            continue
        wing = target.split(".")[1]
        if wing == own or wing == "_metrics":
            continue
        if wing not in layers:
            out.append(f"{module}:{line}: imports {target}, whose wing is not in the README's table")
        elif limit is not None and layers[wing] > limit:
            out.append(f"{module}:{line}: imports {target} (layer {layers[wing]}), not below its own layer "
                       f"({limit + 1})")
    return out


def package_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        yield path, ".".join(parts[:-1] if is_package else parts), is_package


def documented_modules() -> dict[str, set[str]]:
    """wing -> the modules its row of the README's table lists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \d+ \| `(\w+)` \|[^|]*\| (.*) \|$", text, re.MULTILINE)
    return {wing: set(re.findall(r"`(\w+)`", modules)) for wing, modules in rows}


def test_the_table_lists_every_module_of_every_wing():
    for wing, listed in documented_modules().items():
        found = {p.stem for p in (PACKAGE / wing).glob("*.py") if p.stem not in ("__init__", "__main__")}
        assert listed == found, (f"README's row of {wing!r}: missing {sorted(found - listed)}, "
                                 f"gone {sorted(listed - found)}")


def test_every_wing_is_documented_and_every_documented_wing_exists():
    layers = documented_layers()
    wings = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert wings - {"data"} == set(layers)
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules outside any wing: {loose}; put each in the wing it belongs to"


def test_wings_import_downwards_only():
    layers = documented_layers()
    found = [v for path, module, is_package in package_modules()
             for v in violations(path.read_text(encoding="utf-8"), module, is_package, layers)]
    assert not found, "\n".join(found)


def test_evaluate_modules_import_the_core_only():
    layers = documented_layers()
    found = []
    for path in sorted((ROOT / "metrics").glob("*/*.py")):
        found += violations(path.read_text(encoding="utf-8"), f"metrics.{path.parent.name}.{path.stem}", False,
                            {**layers, path.parent.name: METRICS_MAX_LAYER + 1}, max_layer=METRICS_MAX_LAYER)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("module", "source", "message"), [
    ("ecr_hf.scoring.soft_match", "from ..leaderboard import load_results", "imports ecr_hf.leaderboard (layer 5)"),
    ("ecr_hf.spans.span", "def f():\n    from ecr_hf.corpora import read_jsonl", "imports ecr_hf.corpora (layer 2)"),
    ("ecr_hf.instruct.generation", "from ..token_classification import alignment", "not below its own layer (4)"),
    ("ecr_hf.scoring.flat", "from .. import span_metrics", "from the package root"),
    ("ecr_hf.utils.lazy", "import ecr_hf.spans", "imports ecr_hf.spans (layer 1)"),
    ("ecr_hf.newwing.x", "", "wing 'newwing' is not in the README's architecture table"),
])
def test_the_check_catches_upward_and_sideways_imports(module, source, message):
    found = violations(source, module, False, documented_layers())
    assert len(found) == 1 and message in found[0], found


def test_the_check_allows_downward_relative_and_own_wing_imports():
    layers = documented_layers()
    source = "from ..spans import Span\nfrom .soft_match import x\nfrom . import semeval\nfrom .. import __version__"
    assert violations(source, "ecr_hf.scoring.flat", False, layers) == []
    assert violations("from ..scoring import span_metrics", "ecr_hf.leaderboard", True, layers) == []
