"""The documentation site: it builds with warnings as errors, its notebook runs, and the
pieces that must agree (tutorial page and notebook, MathJax and LaTeX macros) agree. The built
site typesets its maths offline: MathJax is served from the site (docs/_hooks/mathjax.py), no
page loads anything from the network, and every formula reaches MathJax in a form it parses."""

import html
import html.parser
import importlib.util
import json
import os
import pathlib
import re
import shutil
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


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    """The site, built once for this module with `mkdocs build --strict`."""
    site_dir = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return site_dir


def test_mkdocs_strict_build(site):
    assert (site / "index.html").is_file()
    assert (site / "generated" / "derivations" / "index.html").is_file()
    assert (site / "tutorial.ipynb").is_file()
    assert not (site / "_hooks").exists()  # build code, not pages


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
    # the `macros:` block itself, not the end of `textmacros:` (which comes first)
    block = re.search(r"(?<![\w-])macros:\s*\{(.*?)\n\s*\}", script, re.S).group(1)
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


# --- maths offline: MathJax served by the site, every formula handed to it -----------------

MATHJAX_DIR = "assets/mathjax"  # docs/_hooks/mathjax.py: SITE_FOLDER
MATHJAX_BUNDLE = f"{MATHJAX_DIR}/tex-mml-chtml.js"
MATHJAX_CONFIG = "javascripts/mathjax.js"
# fetched resources: <link rel=...> values that make the browser load (or connect to) a URL
_FETCHING_RELS = {"stylesheet", "preconnect", "preload", "modulepreload", "prefetch"}
_FETCHING_RELS |= {"dns-prefetch", "icon", "manifest", "apple-touch-icon"}
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.I)
# in .js and .css files: a URL the code or style would fetch (a plain <a href> link is no fetch)
_REMOTE_IN_CODE = re.compile(
    r"""(?:\bsrc\s*=\s*|\burl\(\s*|@import\s+(?:url\(\s*)?|\bimport\(\s*)["'`]?\s*https?://[^"'`)\s]*""",
    re.I,
)


class _Page(html.parser.HTMLParser):
    """What a built page fetches, the formulas it hands to MathJax, and its other visible text."""

    _VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
    _VOID |= {"source", "track", "wbr"}
    # not typeset by MathJax (code is code; a <title> is plain text by nature)
    _NOT_PROSE = {"script", "style", "pre", "code", "title", "textarea"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetches: list[tuple[str, str]] = []  # (tag, url)
        self.scripts: list[str] = []
        self.formulas: list[tuple[str, str]] = []  # (tag, TeX with its delimiters)
        self.title_formulas: list[str] = []  # those in an h1 (the page title, large type)
        self.prose: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self._formula: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
            self.fetches.append((tag, a["src"]))
        if tag == "link" and set(a.get("rel", "").lower().split()) & _FETCHING_RELS:
            self.fetches.append((tag, a.get("href", "")))
        if tag in {"img", "iframe", "source", "audio", "video", "embed", "track"} and a.get("src"):
            self.fetches.append((tag, a["src"]))
        self.fetches += [
            ("style", u) for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", a.get("style", ""))
        ]
        role = None
        if self._formula is None and "arithmatex" in a.get("class", "").split():
            role, self._formula = "formula", [tag, ""]
        elif tag in self._NOT_PROSE:
            role = "skip"
        if tag not in self._VOID:
            self._open.append((tag, role))

    def handle_endtag(self, tag):
        while self._open:
            opened, role = self._open.pop()
            if role == "formula":
                self.formulas.append((self._formula[0], self._formula[1]))
                if any(t == "h1" for t, _ in self._open):
                    self.title_formulas.append(self._formula[1])
                self._formula = None
            if opened == tag:
                break

    def handle_data(self, data):
        if self._formula is not None:
            self._formula[1] += data
        elif not any(role == "skip" for _, role in self._open):
            self.prose.append(data)


def _pages(site: pathlib.Path) -> dict[str, _Page]:
    pages = {}
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel.startswith(MATHJAX_DIR + "/"):
            continue
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        page.close()
        pages[rel] = page
    return pages


@pytest.fixture(scope="module")
def pages(site) -> dict[str, _Page]:
    return _pages(site)


def test_the_site_fetches_nothing_from_the_network(site, pages):
    remote = [
        f"{name}: <{tag}> {url}"
        for name, page in pages.items()
        for tag, url in page.fetches
        if _REMOTE.match(url)
    ]
    for path in sorted([*site.rglob("*.js"), *site.rglob("*.css")]):
        text = path.read_text(encoding="utf-8", errors="replace")
        remote += [
            f"{path.relative_to(site)}: {m[0][:120]}" for m in _REMOTE_IN_CODE.finditer(text)
        ]
    assert not remote, "the site loads from the network (offline it breaks):\n" + "\n".join(
        remote[:20]
    )


def test_every_page_loads_the_bundled_mathjax_after_its_configuration(site, pages):
    # the renderer's files are in the site: the bundle, the textmacros extension it loads, fonts
    assert (site / MATHJAX_BUNDLE).stat().st_size > 500_000
    assert (site / MATHJAX_DIR / "input" / "tex" / "extensions" / "textmacros.js").is_file()
    fonts = list((site / MATHJAX_DIR / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert any(f.name == "MathJax_Main-Regular.woff" for f in fonts) and len(fonts) > 20
    assert "Apache License" in (site / MATHJAX_DIR / "LICENSE").read_text()
    with_maths = 0
    for name, page in pages.items():
        # relative to the page; 404.html, served from any folder, uses root-absolute paths
        def local(url: str, page_dir=(site / name).parent) -> pathlib.Path:
            path = url.split("#")[0].split("?")[0]
            return (site / path.lstrip("/") if path.startswith("/") else page_dir / path).resolve()

        for tag, url in page.fetches:
            assert local(url).is_file(), f"{name}: <{tag}> {url} is not in the site"
        if not page.formulas:
            continue
        with_maths += 1
        loaded = [local(s) for s in page.scripts]
        config, bundle = (site / MATHJAX_CONFIG).resolve(), (site / MATHJAX_BUNDLE).resolve()
        assert config in loaded and bundle in loaded, f"{name} has maths but does not load MathJax"
        assert loaded.index(config) < loaded.index(bundle), (
            f"{name}: MathJax before its configuration"
        )
    assert with_maths > 50  # the derivation and errata pages


def test_every_formula_is_handed_to_mathjax_whole(pages):
    # MathJax (javascripts/mathjax.js) typesets \(...\) and \[...\] inside arithmatex elements
    # only: a formula in any other form, or TeX left in the prose, shows as raw TeX.
    bad, formulas = [], 0
    for name, page in pages.items():
        for tag, tex in page.formulas:
            formulas += 1
            body = tex.strip()
            delimited = (tag == "span" and body[:2] == "\\(" and body[-2:] == "\\)") or (
                tag == "div" and body[:2] == "\\[" and body[-2:] == "\\]"
            )
            unescaped = re.sub(r"\\.", "", body)
            if not delimited or unescaped.count("{") != unescaped.count("}"):
                bad.append(f"{name}: <{tag}> {body[:100]!r}")
        prose = "".join(page.prose)
        for m in re.finditer(
            r"\$\$|\\[\[\(]|\\(?:begin|frac|nabla|partial|sum|mathbf|operatorname|hat|odot|delta)\b",
            prose,
        ):
            bad.append(
                f"{name}: raw TeX outside the maths: {prose[max(0, m.start() - 40) : m.end() + 40]!r}"
            )
    assert not bad, "\n".join(bad[:20])
    assert formulas > 1000


def _text_arguments(tex: str) -> list[str]:
    """The arguments of every \\text{...} (nested braces matched)."""
    args = []
    for m in re.finditer(r"\\text\s*\{", tex):
        depth, i = 1, m.end()
        while i < len(tex) and depth:
            if tex[i] == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(tex[i], 0)
            i += 1
        args.append(tex[m.end() : i - 1])
    return args


def _without_inner_maths(text: str) -> str:
    # \(...\), $...$ and \ensuremath{...} switch back to maths: their contents are not text
    # (\ensuremath itself stays, to be checked: MathJax's text mode lacks it by default)
    text = re.sub(r"\\\(.*?\\\)|\$[^$]*\$", "", text)
    while (m := re.search(r"\\ensuremath\s*\{", text)) is not None:
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0) if text[i - 1] != "\\" else 0
            i += 1
        text = text[: m.start()] + "\\ensuremath " + text[i:]
    return text


def test_text_mode_macros_are_known_to_mathjax_textmacros(pages):
    # MathJax's text mode knows only its own macros (and the ones javascripts/mathjax.js adds):
    # any other inside \text{...} turns the whole formula into an error box, e.g. \ensuremath
    # before mathjax.js defined it there. The list is read from the installed MathJax itself.
    spec = importlib.util.find_spec("mathjax")
    assert spec is not None, "install the docs extra: pip install -e '.[docs]'"
    mappings = pathlib.Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    mappings = mappings / "ts" / "input" / "tex" / "textmacros" / "TextMacrosMappings.ts"
    block = re.search(r"new CommandMap\('text-macros', \{(.*?)\n\}", mappings.read_text(), re.S)[1]
    keys = re.findall(r"^\s*(?:'((?:[^'\\]|\\.)+)'|(\w+))\s*:", block, re.M)
    # a quoted key is a JS string literal: '\\' is a backslash, '\u2019' a quote mark
    known = {quoted.encode().decode("unicode_escape") if quoted else word for quoted, word in keys}
    assert {"_", "&", "%", "textbf", "quad"} <= known
    script = (DOCS / "javascripts" / "mathjax.js").read_text()
    added = re.search(r'new CommandMap\("text-ensuremath", \{(.*?)\}', script, re.S)[1]
    known |= set(re.findall(r"(\w+):", added))
    unknown = []
    for name, page in pages.items():
        for _, tex in page.formulas:
            for arg in _text_arguments(tex):
                text = _without_inner_maths(arg)
                for cs in re.findall(r"\\([A-Za-z]+|.)", text):
                    if cs not in known:
                        unknown.append(f"{name}: \\{cs} in \\text{{{arg[:80]}}}")
                if re.search(r"(?<!\\)[_^&#]", text):
                    unknown.append(f"{name}: a bare _ ^ & or # in \\text{{{arg[:80]}}}")
    assert not unknown, "MathJax's text mode cannot typeset:\n" + "\n".join(unknown[:20])


def test_the_mathjax_hook_names_the_fix_when_mathjax_is_missing(monkeypatch):
    from mkdocs.exceptions import PluginError

    spec = importlib.util.spec_from_file_location("_mathjax_hook", DOCS / "_hooks" / "mathjax.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert hook.mathjax_es5_folder().joinpath(hook.BUNDLE).is_file()
    assert f"{hook.SITE_FOLDER}/{hook.BUNDLE}" == MATHJAX_BUNDLE
    monkeypatch.setattr(hook.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PluginError, match=r"pip install -e '\.\[docs\]'"):
        hook.mathjax_es5_folder()
    # a header title keeps its maths typeset: Material repeats the h1 there as plain text
    out = hook.wrap_title_maths('<span class="md-ellipsis">\n  into \\(h_{t-1}\\): x\n</span>')
    assert (
        out
        == '<span class="md-ellipsis">\n  into <span class="arithmatex">\\(h_{t-1}\\)</span>: x\n</span>'
    )


def test_wide_maths_and_tables_scroll_inside_their_own_box():
    # No page scrolls sideways at 1280 px: display maths scroll in their box; an inline formula
    # wider than its line (long page titles) gets a scrolling line of its own from mathjax.js.
    css = (DOCS / "stylesheets" / "extra.css").read_text()
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)))
    rules = {k.strip(): v for k, v in rules.items()}
    assert "overflow-x: auto" in rules[".md-typeset div.arithmatex"]
    assert "overflow-x: auto" in rules[".md-typeset span.arithmatex--wide"]
    assert "display: block" in rules[".md-typeset span.arithmatex--wide"]
    assert 'classList.add("arithmatex--wide")' in (DOCS / "javascripts" / "mathjax.js").read_text()
    assert "stylesheets/extra.css" in (ROOT / "mkdocs.yml").read_text()


def _widest_pages(pages: dict[str, _Page], per_kind: int = 2) -> list[str]:
    """The pages with the widest title, inline and display formulas: those that could overflow."""

    def longest(formulas) -> int:
        # a rough width: the characters that print, not the commands that typeset them
        lines = [ln for f in formulas for ln in f.split("\\\\")]
        return max((len(re.sub(r"\\[A-Za-z]+|[{}^_ ]", "", ln)) for ln in lines), default=0)

    kinds = [
        lambda p: p.title_formulas,
        lambda p: [f for t, f in p.formulas if t == "span"],
        lambda p: [f for t, f in p.formulas if t == "div"],
    ]
    chosen: list[str] = []
    for formulas_of in kinds:
        ranked = sorted(sorted(pages), key=lambda n: longest(formulas_of(pages[n])), reverse=True)
        chosen += [n for n in ranked if n not in chosen][:per_kind]
    return chosen


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

_HARNESS = """<!doctype html><html><body>
<iframe id="f" style="width:1280px;height:900px;border:0"></iframe><pre id="out">pending</pre>
<script>
const pages = %s, sleep = ms => new Promise(r => setTimeout(r, ms));
async function check(p) {
  const f = document.getElementById("f");
  await new Promise(r => { f.onload = r; f.src = p; });
  const w = f.contentWindow, d = w.document;
  for (let i = 0; i < 400 && !(w.MathJax && w.MathJax.startup && w.MathJax.startup.document); i++) await sleep(25);
  const mj = w.MathJax && w.MathJax.startup;
  if (!mj || !mj.document) return {error: "MathJax did not start"};
  await mj.promise;
  await d.fonts.ready;
  const failed = [];  // an error box (merror) or an undefined macro (noundefined: red text)
  for (const item of mj.document.math) {
    if (/<merror|mathcolor="red"/.test(mj.toMML(item.root))) failed.push(item.math);
  }
  return {scrollWidth: d.documentElement.scrollWidth, clientWidth: d.documentElement.clientWidth,
          formulas: d.querySelectorAll(".arithmatex").length,
          typeset: d.querySelectorAll(".arithmatex mjx-container").length, failed};
}
(async () => {
  const out = {};
  for (const p of pages) { try { out[p] = await check(p); } catch (e) { out[p] = {error: String(e)}; } }
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script></body></html>"""


@pytest.mark.skipif(
    _CHROMIUM is None,
    reason="extra visual check, needs chromium (CI has none; the static tests above cover the feature)",
)
def test_in_chromium_formulas_typeset_and_no_page_scrolls_sideways(site, pages, tmp_path):
    # A few real pages in a 1280-px-wide window (~1 s each): those with the widest formulas,
    # one whose \text{...} holds \ensuremath, and a hand-written one. The static tests above
    # check every formula of the site.
    text_maths = next(
        n for n, p in pages.items() if any("\\ensuremath" in f for _, f in p.formulas)
    )
    chosen = list(dict.fromkeys([*_widest_pages(pages), text_maths, "tutorial/index.html"]))
    harness = tmp_path / "typeset_check.html"
    harness.write_text(
        _HARNESS % json.dumps([(site / n).as_uri() for n in chosen]), encoding="utf-8"
    )
    result = subprocess.run(
        [_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--window-size=1400,1000", "--virtual-time-budget=60000", "--dump-dom", harness.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    dump = re.search(r'<pre id="out">(.*?)</pre>', result.stdout, re.S)
    assert dump and dump[1] != "pending", result.stdout[-1500:] + result.stderr[-1500:]
    report = json.loads(html.unescape(dump[1]))
    problems = []
    for name in chosen:
        r = report[(site / name).as_uri()]
        if "error" in r:
            problems.append(f"{name}: {r['error']}")
            continue
        problems += [f"{name}: MathJax cannot typeset {tex[:120]!r}" for tex in r["failed"]]
        if r["typeset"] != r["formulas"] or r["formulas"] < len(pages[name].formulas):
            problems.append(f"{name}: {r['typeset']} of {r['formulas']} formulas typeset")
        if r["scrollWidth"] > r["clientWidth"]:
            problems.append(
                f"{name}: scrolls sideways at 1280 px ({r['scrollWidth']} > {r['clientWidth']})"
            )
    assert not problems, "\n".join(problems)
