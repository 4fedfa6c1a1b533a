"""The first task of docs/sdks.md runs as written, against the live gateway."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT, Gateway

EXAMPLE = ROOT / "sdks/python/examples/first_task.py"


def test_the_documented_first_task_runs(gateway: Gateway):
    env = {**os.environ, "CCGATE_URL": gateway.url, "CCGATE_API_KEY": gateway.key}
    env["PYTHONPATH"] = str(ROOT / "sdks/python/src")
    done = subprocess.run([sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1 status" and lines[-1] == "completed ok: Summarise notes/todo.txt", done.stdout


def test_the_docs_show_the_example_as_it_is():
    docs = (ROOT / "docs/sdks.md").read_text()
    assert EXAMPLE.read_text() in docs, "docs/sdks.md differs from sdks/python/examples/first_task.py"


def test_the_readme_example_runs(gateway: Gateway):
    readme = (ROOT / "README.md").read_text()
    [block] = [b.split("\n```", 1)[0] for b in readme.split("```python\n")[1:] if "from ccgate import Client" in b]
    code = block.replace('"http://127.0.0.1:8080"', repr(gateway.url)).replace('"ccg_test_…"', repr(gateway.key))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "sdks/python/src")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "ok: Say hi\n"), done.stderr
