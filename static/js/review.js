// Keyboard review. The first pending card is selected when the queue opens, so a key acts at once.
// j / k move, a accepts, r rejects, c opens the colour picker (Enter submits the first match),
// 1 / 2 correct to the model's next readings, n the note (Esc or Enter back to the card), s skips, u undoes the
// last decision, z enlarges the photo, ? shows the keys.
(function () {
  const announce = (text) => { const live = document.getElementById("announce"); if (live) live.textContent = text; };
  function cards() { return Array.from(document.querySelectorAll("article.card")); }
  function pending() { return cards().filter((c) => c.classList.contains("pending")); }
  function current() {
    const active = document.activeElement && document.activeElement.closest("article.card");
    return active || document.querySelector("article.card.selected") || null;
  }
  function select(card, scroll = true, focus = true) {
    if (!card) return;
    for (const c of document.querySelectorAll("article.card.selected")) c.classList.remove("selected");
    card.classList.add("selected");
    if (focus) card.focus({ preventScroll: true });
    if (scroll) card.scrollIntoView({ block: "nearest" });
  }
  function focusAt(i) {
    const all = cards();
    if (all.length) select(all[Math.max(0, Math.min(i, all.length - 1))]);
  }
  // the page stays at its top; while a filter is being set the focus stays on it (the keys still act on
  // the selected card once the focus leaves the filters)
  function selectFirstPending() {
    const filtering = document.activeElement && document.activeElement.closest("form.filters");
    select(pending()[0] || cards()[0], false, !filtering);
  }
  // the kind filter's counts follow the counts line, which every decision and every list refreshes
  function syncKindCounts() {
    const counts = document.getElementById("queue-counts");
    if (!counts) return;
    for (const option of document.querySelectorAll("form.filters select[name=kind] option[data-label]")) {
      const n = counts.dataset[option.value];
      if (n !== undefined) option.textContent = option.dataset.label + " (" + n + ")";
    }
  }
  function nextPendingAfter(card) {
    const all = cards();
    const open = (c) => c !== card && c.classList.contains("pending");
    return all.slice(all.indexOf(card) + 1).find(open) || all.find(open);
  }
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }
  function undo() {
    fetch(document.querySelector(".undo-form").action, { method: "POST", headers: { ...csrfHeaders(), "HX-Request": "true" } })
      .then((r) => r.text().then((html) => ({ ok: r.ok, html })))
      .then(({ ok, html }) => {
        const tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        const card = tpl.content.querySelector("article.card");
        if (!ok || !card) { announce(tpl.content.textContent.trim()); alertBox(tpl.content.textContent.trim()); return; }
        const counts = tpl.content.querySelector("#queue-counts");
        if (counts) { document.getElementById("queue-counts").replaceWith(counts); syncKindCounts(); }
        const old = document.getElementById(card.id);
        if (old) old.replaceWith(card);
        else (document.querySelector("#queue-list .grid") || document.getElementById("queue-list")).prepend(card);
        htmx.process(card);
        select(card);
        const said = card.querySelector(".msg");  // superseded: the product changed since, the card says how
        announce(card.classList.contains("pending") ? "Undone: " + card.dataset.sku + " is back to decide."
          : (said ? said.textContent.trim() : "Undone: " + card.dataset.sku + " no longer applies."));
      });
  }
  function alertBox(text) {
    const list = document.getElementById("queue-list");
    let box = document.getElementById("queue-message");
    if (!box) { box = document.createElement("p"); box.id = "queue-message"; box.className = "msg warning"; list.before(box); }
    box.textContent = text;
  }
  function openZoom(button) {
    const dialog = document.getElementById("zoom");
    if (!dialog || !button || !button.dataset.zoom) return;
    document.getElementById("zoom-image").src = button.dataset.zoom;
    const mask = document.getElementById("zoom-mask");
    mask.hidden = !button.dataset.zoomMask;
    if (button.dataset.zoomMask) mask.src = button.dataset.zoomMask;
    dialog.showModal();
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.zoomable");
    if (button) openZoom(button);
  });
  document.addEventListener("keydown", function (event) {
    if (event.metaKey || event.ctrlKey || event.altKey || event.isComposing) return;
    if (event.target.matches("input.picker") && event.key === "Enter") { pickFirstMatch(event.target); return; }
    // Esc in the note or the picker, or Enter in the note (it is kept for the decision), hands the keys back
    // to the card: the next a, r or 1 decides it
    if (event.target.matches("input.note-input, input.picker") &&
        (event.key === "Escape" || (event.key === "Enter" && event.target.matches("input.note-input")))) {
      const card = event.target.closest("article.card");
      if (card) { event.preventDefault(); select(card, false); announce("Keys act on " + card.dataset.sku + " again."); }
      return;
    }
    if (event.target.matches("input, select, textarea") || document.querySelector("dialog[open]")) return;
    const card = current();
    const all = cards();
    const index = card ? all.indexOf(card) : -1;
    const press = (selector) => { const b = card && card.querySelector(selector); if (b) b.click(); return !!b; };
    let handled = true;
    if (event.key === "j") focusAt(index + 1);
    else if (event.key === "k") focusAt(index - 1);
    else if (event.key === "a") press("button.accept");
    else if (event.key === "r") press("button.reject");
    else if (event.key === "s") press("button.skip");
    else if (event.key === "c" && card) { const p = card.querySelector("input.picker"); if (p) p.focus(); }
    else if (event.key === "n" && card) { const n = card.querySelector("input.note-input"); if (n) n.focus(); }
    else if (event.key === "z") openZoom(card && card.querySelector("button.zoomable"));
    else if ((event.key === "1" || event.key === "2") && card) {  // the model's next readings, one click each
      const alt = card.querySelectorAll("form.alt button")[Number(event.key) - 1];
      if (alt) alt.click(); else handled = false;
    }
    else if (event.key === "u") undo();
    else if (event.key === "?") document.getElementById("keys-help").showModal();
    else handled = false;
    if (handled) event.preventDefault();
  });
  // Enter in the picker takes the typed colour, or the first vocabulary colour it starts, then submits.
  function pickFirstMatch(input) {
    const typed = input.value.trim().toLowerCase();
    const names = Array.from(document.querySelectorAll("#vocabulary option")).map((o) => o.value);
    const match = names.find((n) => n.toLowerCase() === typed) || names.find((n) => n.toLowerCase().startsWith(typed))
      || names.find((n) => n.toLowerCase().includes(typed));
    if (match) input.value = match;
  }
  // Before a card is swapped away remember which one comes next, so the keyboard stays on the queue.
  let after = null;
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const button = event.detail.elt;
    const card = button.closest && button.closest("article.card");
    if (!card) return;
    if (button.matches("button.skip")) {  // the card leaves at once: move on before it goes
      const next = nextPendingAfter(card);
      if (next) select(next);
      announce("Skipped " + card.dataset.sku + (next ? ". Next: " + next.dataset.sku : ". No more cards on this page."));
      button.addEventListener("htmx:afterRequest", loadMoreWhenEmpty, { once: true });
      return;
    }
    after = { id: card.id, sku: card.dataset.sku };
  });
  document.body.addEventListener("htmx:afterSettle", syncKindCounts);
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (!after || !event.detail.target || event.detail.target.id !== after.id) return;  // e.g. the counts' swap
    const done = after; after = null;
    const fresh = document.getElementById(done.id);
    if (fresh && fresh.classList.contains("pending")) { select(fresh); return; }  // refused: stay on it
    const next = fresh ? nextPendingAfter(fresh) : pending()[0];
    const outcome = fresh ? fresh.querySelector(".decided, .msg") : null;
    const said = outcome ? done.sku + ": " + outcome.textContent.trim() : "";
    announce(said + (next ? ". Next: " + next.dataset.sku : ". No more cards on this page."));
    if (next) select(next); else setTimeout(loadMoreWhenEmpty, 1200);  // let the last outcome be read first
  });
  // when every card on the page is decided, fetch the next cards of the queue
  function loadMoreWhenEmpty() {
    if (pending().length) return;
    htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#queue-list", swap: "innerHTML" })
      .then(selectFirstPending);
  }
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "queue-list") selectFirstPending();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", selectFirstPending);
  else selectFirstPending();
})();
