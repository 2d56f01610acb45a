// MathJax 3 for pymdownx.arithmatex (generic mode), served from the site itself
// (assets/mathjax/, copied by docs/_hooks/mathjax.py): no CDN, the docs typeset offline.
// The macros match rnn_sym._export.LATEX_MACROS, so the Markdown pages and the .tex documents
// typeset the same LaTeX; textmacros lets \text{...} hold the escapes (\_, \&, \%) the
// justifications use.
window.MathJax = {
  loader: { load: ["[tex]/textmacros"] },
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    packages: { "[+]": ["textmacros"] },
    textmacros: { packages: { "[+]": ["text-ensuremath"] } },
    macros: {
      diag: "\\operatorname{diag}",
      softmax: "\\operatorname{softmax}",
      sign: "\\operatorname{sign}",
    },
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
  startup: {
    ready() {
      // The justifications write maths inside \text{...} as \ensuremath{...}, the LaTeX idiom
      // the .tex export needs; MathJax's text mode does not know it, so define it there as
      // inline maths (otherwise the whole formula shows "\hat is only supported in math mode").
      const { Configuration } = MathJax._.input.tex.Configuration;
      const { CommandMap } = MathJax._.input.tex.SymbolMap;
      const { TextMacrosMethods } = MathJax._.input.tex.textmacros.TextMacrosMethods;
      new CommandMap("text-ensuremath", { ensuremath: ["Macro", "\\(#1\\)", 1] }, TextMacrosMethods);
      Configuration.create("text-ensuremath", { handler: { macro: ["text-ensuremath"] } });
      MathJax.startup.defaultReady();
    },
    pageReady() {
      return MathJax.startup.defaultPageReady().then(boxWideInlineMaths);
    },
  },
};

// MathJax 3 cannot break an inline formula across lines: one wider than its line (a long
// formula in a page title) would push the whole page sideways. Give such a formula a line of
// its own that scrolls (.arithmatex--wide in stylesheets/extra.css); the others stay inline.
// Tables need nothing: Material scrolls them inside their own wrapper.
function boxWideInlineMaths() {
  for (const span of document.querySelectorAll(".md-typeset span.arithmatex")) {
    if (span.closest("table")) continue;
    span.classList.remove("arithmatex--wide");
    const block = span.parentElement.closest("p, li, dd, dt, h1, h2, h3, h4, h5, h6, div");
    if (block && span.getBoundingClientRect().width > block.clientWidth) {
      span.classList.add("arithmatex--wide");
    }
  }
}

let boxPending = false;
window.addEventListener("resize", () => {
  if (boxPending) return;
  boxPending = true;
  requestAnimationFrame(() => {
    boxPending = false;
    boxWideInlineMaths();
  });
});

// Material's instant navigation swaps pages without reloading: typeset each new page. The first
// call comes before the bundle has loaded (it typesets the first page by itself): skip it.
document$.subscribe(() => {
  if (typeof MathJax.typesetPromise !== "function") return;
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise().then(boxWideInlineMaths);
});
