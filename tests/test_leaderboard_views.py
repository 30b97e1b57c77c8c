"""The leaderboard's precomputed views: built once per (data set, families), rebuilt when a results or
counts file changes on disk, and the same tables for threads that ask at once."""

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from test_leaderboard_app import _significance_board

from ecr_hf.leaderboard import cross_validate
from ecr_hf.leaderboard.app import DEMO_DIR, Leaderboard
from ecr_hf.scoring import save_counts


def _marks(view):
    table = view.tables[0]  # By p
    if "vs best F1" not in table["headers"]:
        return None
    i = table["headers"].index("vs best F1")
    return {row[0]: shown[i] for row, shown in zip(table["data"], table["metadata"]["display_value"])}


def test_views_are_built_once_and_follow_the_files(tmp_path, monkeypatch):
    docs, counts, _ = _significance_board(tmp_path)
    folder = tmp_path / "references" / "toy" / "counts"
    save_counts(counts["good"], folder / "toy__good.counts.json")
    save_counts(counts["worse"], folder / "toy__worse.counts.json")
    lb = Leaderboard(tmp_path / "results", tmp_path / "references")
    calls = {"table": 0, "figures": 0, "reload": 0}
    for name in calls:
        def counted(*args, _name=name, _original=getattr(Leaderboard, name), **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(Leaderboard, name, counted)
    families = lb.families()

    first = lb.view("toy", families)
    assert calls == {"table": 4, "figures": 1, "reload": 0}
    assert _marks(first)["good"] == "best" and _marks(first)["worse"].startswith("p=")
    assert lb.view("toy", list(reversed(families))) is first  # the same choice: nothing computed again
    assert calls == {"table": 4, "figures": 1, "reload": 0}

    gold = [[d["entities"] for d in docs[i::3]] for i in range(3)]  # written by hand: no restart, no Refresh
    cross_validate(gold, gold, p_values=[1, 2]).save(tmp_path / "results" / "toy__oracle.json", model_name="oracle",
                                                     dataset="toy", family="encoder")
    second = lb.view("toy", families)
    assert calls == {"table": 8, "figures": 2, "reload": 1}
    assert "oracle" in [row[0] for row in second.tables[0]["data"]]
    assert _marks(second) is None  # the best shown system (the oracle) has no counts: no claim

    (tmp_path / "results" / "toy__oracle.json").unlink()
    assert _marks(lb.view("toy", families))["worse"].startswith("p=")
    save_counts(counts["good"], folder / "toy__worse.counts.json", overwrite=True)  # not worse's: left out
    stat = (folder / "toy__worse.counts.json").stat()
    os.utime(folder / "toy__worse.counts.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a coarse clock
    assert _marks(lb.view("toy", families)) is None  # one system left with counts: no comparison


def test_concurrent_views_agree(tmp_path):
    _, counts, _ = _significance_board(tmp_path)
    for name in ("good", "worse"):
        save_counts(counts[name], tmp_path / "references" / "toy" / "counts" / f"toy__{name}.counts.json")
    lb = Leaderboard(tmp_path / "results", tmp_path / "references")
    families = lb.families()
    with ThreadPoolExecutor(8) as pool:
        views = list(pool.map(lambda _: lb.view("toy", families), range(32)))
    assert all(view is views[0] for view in views)  # built once, by one thread
    expected = [lb.table(view, "toy", families) for view in ("p", "length", "label", "faithfulness")]
    assert views[0].tables == expected


def test_warm_builds_every_data_set_s_view_in_the_background(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(DEMO_DIR / "results", results)
    board = Leaderboard(results, warm=True)
    keys = {(d, tuple(board.families())) for d in board.datasets()}
    deadline = time.monotonic() + 60
    while not keys <= set(board._views) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert keys <= set(board._views)  # every data set's page is ready before anyone asks
