// Small behaviours of every page, as event listeners (the Content-Security-Policy allows no inline script).
(function () {
  document.addEventListener("change", function (event) {
    const box = event.target;
    if (box.matches("[data-select-all]")) {
      for (const c of box.closest("table").querySelectorAll("tbody input[type=checkbox]:not(:disabled)")) c.checked = box.checked;
    } else if (box.matches("[data-toggle-mask]")) {
      document.getElementById(box.dataset.toggleMask).classList.toggle("hide-mask", !box.checked);
    }
  });
  // a filter form marked data-autosubmit applies a choice at once, as the review queue's filters do
  document.addEventListener("change", function (event) {
    const form = event.target.closest("form[data-autosubmit]");
    if (form && event.target.matches("select, input[type=checkbox]")) form.requestSubmit();
  });
  // a "dismiss" control removes the box it names (a confirmation cancelled: the form under it keeps its state)
  document.addEventListener("click", function (event) {
    const control = event.target.closest("[data-dismiss]");
    const box = control && document.getElementById(control.dataset.dismiss);
    if (box) { event.preventDefault(); box.remove(); }
  });
  // Enter in a field acts through the button that field belongs to (data-enter-clicks names it), not
  // through the form's first button: Enter in the "at or above %" box approves by threshold.
  document.addEventListener("keydown", function (event) {
    const field = event.target;
    if (event.key !== "Enter" || !field.matches("[data-enter-clicks]")) return;
    const button = field.form && field.form.querySelector(field.dataset.enterClicks);
    if (button) { event.preventDefault(); button.click(); }
  });
})();
