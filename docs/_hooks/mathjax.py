"""MkDocs hook: serve MathJax from the built site itself, so the docs typeset offline.

The MathJax 3 files come from the `django-static-mathjax` wheel of the `docs` extra (the
`es5/` folder of the `mathjax-full` release; the wheel has no Python dependencies and does
not need Django). `on_config` adds the bundle to `extra_javascript` after
`javascripts/mathjax.js` (the configuration must be read before the bundle runs), and
`on_post_build` copies the files into `site/assets/mathjax/`, which every page references by
a relative path: no CDN, no network when building or reading the site.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
import shutil

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

#: Where the files go inside the site, and the one bundle the pages load (TeX in, CHTML out).
SITE_FOLDER = "assets/mathjax"
BUNDLE = "tex-mml-chtml.js"

# Material repeats a page's title as plain text in the header (and in nav and footer links):
# an inline formula of an h1 arrives there as raw `\(...\)`, which MathJax only typesets
# inside an arithmatex element. (The <title> of the browser tab cannot be typeset at all.)
_ELLIPSIS = re.compile(r'(<(span|div) class="md-ellipsis">)([^<]*)(</\2>)')
_INLINE_TEX = re.compile(r"\\\(.+?\\\)", re.S)

_INSTALL_HINT = "install the docs extra: pip install -e '.[docs]' (it brings django-static-mathjax)"


def mathjax_es5_folder() -> pathlib.Path:
    """The installed MathJax 3 `es5/` folder; a PluginError naming the fix if it is missing."""
    # find_spec does not run the package's __init__; the wheel's top-level package is `mathjax`.
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(f"MathJax is not installed: {_INSTALL_HINT}")
    root = pathlib.Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    try:
        version = json.loads((root / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        version = ""
    if not version.startswith("3.") or not (root / "es5" / BUNDLE).is_file():
        # another distribution named `mathjax` (e.g. the PyPI stub) shadows the right one
        raise PluginError(
            f"the installed `mathjax` package at {root.parent} is not MathJax 3 "
            f"(found version {version or 'none'}): {_INSTALL_HINT}"
        )
    return root / "es5"


def _skip_other_bundles(folder: str, names: list[str]) -> set[str]:
    # The other combined bundles (SVG output, speech, node) are never loaded by the pages:
    # leave their ~13 MB out; every component the loader may fetch lazily stays.
    if pathlib.Path(folder).name != "es5":
        return set()
    return {
        n
        for n in names
        if n.endswith(".js") and n.startswith(("tex-", "mml-", "node-main")) and n != BUNDLE
    }


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    mathjax_es5_folder()  # fail before building the pages, not after
    script = f"{SITE_FOLDER}/{BUNDLE}"
    if script not in [str(s) for s in config.extra_javascript]:
        config.extra_javascript.append(script)
    return config


def on_post_build(config: MkDocsConfig) -> None:
    source, target = mathjax_es5_folder(), pathlib.Path(config.site_dir) / SITE_FOLDER
    shutil.copytree(source, target, ignore=_skip_other_bundles, dirs_exist_ok=True)
    licence = source.parent / "LICENSE"
    if licence.is_file():
        shutil.copyfile(licence, target / "LICENSE")


def wrap_title_maths(output: str) -> str:
    """Put every inline formula of the header, nav and footer titles in an arithmatex span."""

    def wrap(m: re.Match[str]) -> str:
        inner = _INLINE_TEX.sub(lambda t: f'<span class="arithmatex">{t.group(0)}</span>', m[3])
        return m[1] + inner + m[4]

    return _ELLIPSIS.sub(wrap, output)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return wrap_title_maths(output)
