"""Every fenced code block of README.md, run as a reader would run it.

Blocks are found by parsing the README (not by line numbers), so a block added later is run
too, or fails asking to be made runnable or listed in NOT_RUN with its reason. Python blocks
run in a fresh interpreter; shell blocks (bash, sh, console, or no language) run through bash.
Each runs in an empty temporary directory beside a link `../shared` to the shared data, so
that paths written as in the README (`../shared/data/conll2003/test.txt`) resolve, and holding
links to the repository's `experiments/` and `benchmarks/`, as a reader runs them from its
root; a block that reads the shared data is skipped, saying so, where it is absent. In a
Python block, `print(value)  # -> shown` checks that str(value) is what the README shows.
"""

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SHARED = README.parent.parent / "shared"

PYTHON = ("python", "py", "python3")
SHELL = ("bash", "sh", "shell", "console", "")

# Blocks not run, by the start of their first line, and why. Each must match a block.
NOT_RUN = {
    "a<0> = 0": "the lecture's equations, not code",
    "pip install '.[test]'": "installs the test extras and runs the whole suite, this one too",
    "rnnkit train --task per --train train.txt": (
        "a synopsis with placeholders (train.txt, runs/per, [--json]); the block after it runs "
        "the same commands on real files, and tests/cli runs each command"
    ),
    "python experiments/quality.py": "trains several models, minutes each",
    "python experiments/robustness.py": "scores four models on four corpora (minutes of CPU) "
    "and needs the previous default from git; tests/ner/test_people_write.py runs its scoring "
    "on the fixture",
    "rnnkit train --task per --bidirectional --layers 2": "trains the shipped default model "
    "(20 minutes)",
    "python experiments/generalise.py": "trains three to twelve models, minutes each",
    "git show 4c5dc07": "needs the repository's history (a clean checkout has it; an sdist "
    "does not) and times models for a minute",
    "python benchmarks/compare_torch.py": "the full benchmark against PyTorch (minutes)",
    "dask scheduler": "starts a cluster's scheduler and workers on several machines; "
    "tests/test_dask.py runs the same command on a real local cluster",
    "pip install 'rnnkit[serve]'": "starts a server that runs until stopped; tests/serve runs it",
    "curl -s localhost:8000": "needs a running server; tests/serve sends the same requests",
}
# `pip install ... && ` before a shell block's command is not run: the package under test is
# installed already, and installing needs the network. The rest of the line is run.
INSTALL = re.compile(r"^pip install \S+ && ")
# print(value)  # -> shown
SHOWN = re.compile(r"^(\s*)print\((.*)\)\s*#\s*->\s*(.*?)\s*$")
PRELUDE = """\
def _readme_shows(value, shown):
    assert str(value) == shown, f"the README shows {shown}, the code gives {value}"
"""


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def first(self):
        return next((s.strip() for s in self.text.splitlines() if s.strip()), "")

    def __str__(self):
        return f"README.md:{self.line} ({self.lang or 'no language'}): {self.first[:50]}"


def fenced_blocks(markdown):
    """The fenced code blocks (``` or ~~~, indented or not) of a Markdown text, in order."""
    blocks, lines, i = [], markdown.splitlines(), 0
    opening = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
    while i < len(lines):
        m = opening.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body, j = [], i + 1
        while j < len(lines) and not closing.match(lines[j]):
            # the fence's own indent goes; a line indented less loses what it has
            body.append(lines[j][indent:] if not lines[j][:indent].strip() else lines[j].lstrip())
            j += 1
        blocks.append(Block(i + 1, lang, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def not_run_reason(block):
    """Why a block is not run, or None if it is."""
    if block.lang not in PYTHON + SHELL:
        return f"a {block.lang} block is shown, not run"
    return next((why for start, why in NOT_RUN.items() if block.first.startswith(start)), None)


def shell_script(block):
    if block.lang == "console":  # commands are the lines after a prompt; the rest is output
        lines = [s[2:] for s in block.text.splitlines() if s.startswith("$ ")]
    else:
        lines = block.text.splitlines()
    return "set -eo pipefail\n" + "\n".join(INSTALL.sub("", s) for s in lines) + "\n"


def python_script(block):
    lines = []
    for line in block.text.splitlines():
        m = SHOWN.match(line)
        lines.append(f"{m[1]}_readme_shows({m[2]}, {m[3]!r})" if m else line)
    return PRELUDE + "\n".join(lines) + "\n"


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_blocks_of_each_kind():
    langs = {b.lang for b in BLOCKS}
    assert "python" in langs and langs & set(SHELL), langs


def test_every_block_not_run_is_listed_with_a_reason_that_still_applies():
    """A NOT_RUN entry that matches no block is stale: remove it."""
    for start in NOT_RUN:
        assert any(b.first.startswith(start) for b in BLOCKS), f"no block starts with {start!r}"


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_block_runs(block, tmp_path):
    reason = not_run_reason(block)
    if reason:
        pytest.skip(f"not run: {reason}")
    if "../shared/data" in block.text and not (SHARED / "data").is_dir():
        pytest.skip(f"reads ../shared/data, which is not at {SHARED / 'data'}")
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    for scripts in ("experiments", "benchmarks"):  # `python experiments/x.py`, as from the root
        if (README.parent / scripts).is_dir():
            (work / scripts).symlink_to(README.parent / scripts, target_is_directory=True)
    if block.lang in PYTHON:
        cmd = [sys.executable, "-c", python_script(block)]
    else:
        cmd = ["bash", "-c", shell_script(block)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{block} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


def test_the_parser_finds_fences_of_any_kind():
    text = textwrap.dedent("""\
        Text.

        ```python
        for i in [1]:
            print(i)  # -> 1
        ```
        - a list item

          ~~~~bash
          echo ```
          ~~~~
        ```
        bare
        ```
        """)
    blocks = fenced_blocks(text)
    assert [(b.line, b.lang, b.text) for b in blocks] == [
        (3, "python", "for i in [1]:\n    print(i)  # -> 1\n"),
        (9, "bash", "echo ```\n"),
        (12, "", "bare\n"),
    ]
    assert "    _readme_shows(i, '1')" in python_script(blocks[0])


def test_a_python_block_that_shows_the_wrong_output_fails(tmp_path):
    block = Block(1, "python", "print(1 + 1)  # -> 3\n")
    out = subprocess.run([sys.executable, "-c", python_script(block)], capture_output=True)
    assert out.returncode != 0 and b"the README shows 3, the code gives 2" in out.stderr


def test_tagger_is_importable_from_the_top_level_without_slowing_import_rnnkit():
    """`import rnnkit` is the model alone; rnnkit.Tagger imports the tagger when first used."""
    code = (
        "import sys, rnnkit; assert 'rnnkit.ner.tagger' not in sys.modules; "
        "from rnnkit import Tagger; from rnnkit.ner.tagger import Tagger as T; "
        "assert Tagger is T and rnnkit.Tagger is T and 'Tagger' in dir(rnnkit)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
