// MathJax for pymdownx.arithmatex (generic mode). The macros match rnn_sym._export.LATEX_MACROS,
// so the Markdown pages and the .tex documents typeset the same LaTeX; textmacros lets
// \text{...} hold the escapes (\_, \&, \%) the justifications use.
window.MathJax = {
  loader: { load: ["[tex]/textmacros"] },
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    packages: { "[+]": ["textmacros"] },
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
};

document$.subscribe(() => {
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
