"""The documentation site: it builds with warnings as errors, its notebook runs, and the
pieces that must agree (tutorial page and notebook, MathJax and LaTeX macros) agree."""

import json
import pathlib
import re
import subprocess
import sys

import pytest

from rnn_derive._docs_pages import (
    cli_reference_markdown,
    gradient_norms,
    gradient_norms_svg,
)
from rnn_sym._export import LATEX_MACROS

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_mkdocs_strict_build(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "generated" / "derivations" / "index.html").is_file()
    assert (tmp_path / "site" / "tutorial.ipynb").is_file()


def _notebook_code_cells() -> list[str]:
    notebook = json.loads((DOCS / "tutorial.ipynb").read_text())
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def test_tutorial_page_shows_exactly_the_code_the_notebook_runs():
    page = (DOCS / "tutorial.md").read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", page, re.S)
    assert blocks == _notebook_code_cells()


def test_notebook_tutorial_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="install the [docs] extra")
    nbclient = pytest.importorskip("nbclient", reason="install the [docs] extra")
    notebook = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = "".join(
        o.get("text", "")
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "dL/dW: SymPy diff vs rnn_num" in outputs


def test_mathjax_knows_the_macros_the_latex_preamble_defines():
    script = (DOCS / "javascripts" / "mathjax.js").read_text()
    block = re.search(r"macros:\s*\{(.*?)\n\s*\}", script, re.S).group(1)
    macros = dict(re.findall(r'(\w+):\s*"((?:[^"\\]|\\.)*)"', block))
    assert {k: v.replace("\\\\", "\\") for k, v in macros.items()} == LATEX_MACROS


def test_gradient_norm_plot_shows_vanishing_and_exploding():
    assert gradient_norms(0.5)[30] < 1e-6  # contracting W: the gradient vanishes
    assert gradient_norms(1.5)[30] > 10  # expanding W: it explodes
    svg = gradient_norms_svg()
    assert svg == gradient_norms_svg()  # deterministic bytes
    assert svg.startswith(b"<?xml") and b"<dc:date>" not in svg


def test_cli_reference_lists_every_subcommand():
    from rnn_derive.cli import _SUBCOMMANDS

    page = cli_reference_markdown()
    for name, _, _ in _SUBCOMMANDS:
        assert f"## `rnn-derive {name}`" in page
    assert "--docs DIR" in page and "--pdf" in page
