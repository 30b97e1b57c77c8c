"""Shared test settings: offline, and one torch thread (tiny models run several times faster on one
thread than fighting over the two shared cores); the public corpora some tests read; a recorder for
transformers' log."""

import logging
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Debian's chromium (apt-get install chromium): Playwright's own browser download cannot work offline
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and Path(p).is_file()), None)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright; the browser tests skip where chromium is missing."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


# Public corpora that some tests read, normalised, from ../shared/data/<folder> beside the repository
# (ECR_HF_SHARED_DATA points elsewhere). Where a corpus is missing, its tests skip and say where it
# comes from; the README's "Public corpora" says how to get each.
SHARED_DATA = Path(os.environ.get("ECR_HF_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
CORPUS_SOURCES = {
    "ncbi_disease": "NCBI-disease (Dogan et al. 2014; public domain; https://github.com/spyysalo/ncbi-disease)",
    "bc5cdr": "BC5CDR (BioCreative V CDR; CoNLL version, CC BY 4.0: "
              "https://github.com/cambridgeltl/MTL-Bioinformatics-2016)",
    "ebm_nlp_pico": "EBM-NLP (Nye et al. 2018; https://github.com/bepnye/EBM-NLP)",
    "ada_case_reports": "the Ada case report corpus (Schulz et al. 2020; "
                        "https://github.com/adahealth/medical_case_report_corpus)",
    "jmedllm_ner": "MRNER-disease of JMED-LLM (CC BY 4.0; https://github.com/sociocom/JMED-LLM)",
}


def missing_shared_data(folder: str, *parts: str) -> str | None:
    """Why ``SHARED_DATA/folder/parts...`` cannot be read, naming the corpus's public source; None if it is there."""
    path = SHARED_DATA.joinpath(folder, *parts)
    if path.exists():
        return None
    repository = Path(__file__).resolve().parents[1]
    shown = os.path.relpath(path, repository) if path.is_relative_to(repository.parent) else str(path)
    return (f"{CORPUS_SOURCES[folder]} is not at {shown}: these tests read the corpus from there "
            f"(see \"Public corpora\" in the README)")


def shared_data(folder: str, *parts: str) -> Path:
    """The path of a public corpus's folder (or a file in it) in SHARED_DATA; skips the test where it is missing."""
    reason = missing_shared_data(folder, *parts)
    if reason:
        pytest.skip(reason)
    return SHARED_DATA.joinpath(folder, *parts)


def needs_shared_data(folder: str, *parts: str) -> pytest.MarkDecorator:
    """:func:`shared_data` as a decorator: skip the test where the corpus is missing."""
    reason = missing_shared_data(folder, *parts)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


@pytest.fixture
def transformers_log():
    """Records that transformers' ``modeling_utils`` logger emits during the test (its LOAD REPORT
    tables among them). transformers' loggers do not propagate to the root logger, so ``caplog``
    does not see them."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("transformers.modeling_utils")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
