// Small behaviours of every page, as event listeners (the Content-Security-Policy allows no inline script).
(function () {
  document.addEventListener("change", function (event) {
    const box = event.target;
    if (box.matches("[data-select-all]")) {
      for (const c of box.closest("table").querySelectorAll("tbody input[type=checkbox]")) c.checked = box.checked;
    } else if (box.matches("[data-toggle-mask]")) {
      document.getElementById(box.dataset.toggleMask).classList.toggle("hide-mask", !box.checked);
    }
  });
})();
