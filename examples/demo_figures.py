"""The README's two images of the shipped demo leaderboard: a screenshot of the page and F1 against p.

    python examples/demo_figures.py --output-dir examples/figures --overwrite

The page is served from a copy of the demo (``ecr_hf.leaderboard.copy_demo``) and shot in
headless Chromium (Debian's, driven by Playwright: Playwright's own browser download needs the
network); the figure is ``ecr_hf.leaderboard.plot_f1_by_p`` of the demo results, a panel per data set (mean ± 1 SD over folds).
"""

import argparse
import socket
import tempfile
from pathlib import Path

from ecr_hf.leaderboard import DEMO_DIR, build_app, copy_demo
from ecr_hf.utils import OutputExistsError
from ecr_hf.leaderboard import plot_f1_by_p, save_figure


def screenshot(path: Path, chromium: str, dataset: str) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        demo = build_app(*copy_demo(Path(tmp) / "demo"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("#table-p [role=gridcell]")
                page.locator("#dataset input").click()
                page.get_by_role("option", name=dataset, exact=True).click()
                page.wait_for_function("() => !document.querySelector('.progress-text')", timeout=60000)
                page.wait_for_timeout(1000)
                page.screenshot(path=str(path))
                browser.close()
        finally:
            demo.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", default="examples/figures")
    ap.add_argument("--chromium", default="/usr/lib/chromium/chromium")
    ap.add_argument("--dataset", default="ncbi_disease_sample", help="the data set the screenshot shows")
    ap.add_argument("--figure-dataset", default=None, help="the one data set the figure shows (default: all)")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    out = Path(args.output_dir)
    shot, figure = out / "demo_leaderboard.png", out / "demo_f1_by_p.png"
    if not args.overwrite and (existing := [str(p) for p in (shot, figure) if p.exists()]):
        raise OutputExistsError(f"{', '.join(existing)} exist; pass --overwrite to replace them")
    out.mkdir(parents=True, exist_ok=True)
    print("wrote", save_figure(plot_f1_by_p(DEMO_DIR / "results", dataset=args.figure_dataset), figure, overwrite=args.overwrite, dpi=100))
    screenshot(shot, args.chromium, args.dataset)
    print("wrote", shot)


if __name__ == "__main__":
    main()
