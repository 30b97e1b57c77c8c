"""The README's ``>>>`` examples run as written."""

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples():
    text = re.sub(r"(?m)^```\w*$", "", README.read_text(encoding="utf-8"))  # fences end an example
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.tries >= 8
    assert runner.failures == 0
