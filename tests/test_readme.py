"""The README's Python example runs as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS


def test_the_python_api_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "the README shows a Python example"
    shutil.copytree(SEEDS, tmp_path / "seeds")  # the example ingests seeds/ from the cwd
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out
    assert "5 articles" in printed
    assert "002_65d076ec7d10a953" in printed
