// Keyboard review: j / k move between cards, a accepts, r rejects, c opens the correction list.
(function () {
  function cards() { return Array.from(document.querySelectorAll("article.card")); }
  function current() {
    const active = document.activeElement && document.activeElement.closest("article.card");
    return active || null;
  }
  function focusAt(i) {
    const all = cards();
    if (!all.length) return;
    const card = all[Math.max(0, Math.min(i, all.length - 1))];
    card.focus();
    card.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    if (event.target.matches("input, select, textarea") || event.metaKey || event.ctrlKey || event.altKey) return;
    const all = cards();
    const card = current();
    const index = card ? all.indexOf(card) : -1;
    if (event.key === "j") { focusAt(index + 1); event.preventDefault(); }
    else if (event.key === "k") { focusAt(index - 1); event.preventDefault(); }
    else if (card && (event.key === "a" || event.key === "r")) {
      const button = card.querySelector(event.key === "a" ? "button.accept" : "button.reject");
      if (button) { button.click(); event.preventDefault(); }
    } else if (card && event.key === "c") {
      const select = card.querySelector("form.correct select");
      if (select) { select.focus(); event.preventDefault(); }
    }
  });
  // after a card is swapped, keep the keyboard on the next pending card
  document.body.addEventListener("htmx:afterSwap", function (event) {
    const swapped = event.detail.target;
    if (!swapped || !swapped.id || !swapped.id.startsWith("suggestion-")) return;
    const fresh = document.getElementById(swapped.id);
    const all = cards();
    const next = all.slice(all.indexOf(fresh) + 1).find((c) => c.classList.contains("pending"));
    if (next) next.focus();
  });
})();
