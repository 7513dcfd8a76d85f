// On a reader's first visit no theme mode is stored yet, so the theme's head script leaves data-mode empty and
// its main script then logs "Got invalid theme mode" before falling back to auto. Say auto from the start.
if (!document.documentElement.dataset.mode) {
  document.documentElement.dataset.mode = "auto";
}
