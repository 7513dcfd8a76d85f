// Local shim (not vendored): load between require.min.mjs and embed-amd.mjs.
// embed-amd computes the URL of its bundled Font Awesome webfonts from the
// RequireJS module URIs of its named modules ("@jupyter-widgets/controls",
// "@jupyter-widgets/html-manager/dist/libembed-amd", ...), which by default are
// page-relative (-> 404). Point both prefixes at this folder instead.
(function () {
  var here = document.currentScript.src.split("?")[0].replace(/\/[^\/]*$/, "");
  window.requirejs.config({
    paths: { "@jupyter-widgets": here, "@jupyter-widgets/html-manager/dist": here },
  });
})();
