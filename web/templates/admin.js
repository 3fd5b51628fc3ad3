// The dashboard's only script: copy buttons and live updates. No inline handlers (CSP).
"use strict";
document.addEventListener("click", (e) => {
  const btn = e.target.closest("[data-copy]");
  if (!btn) return;
  const src = document.getElementById(btn.dataset.copy);
  if (!src) return;
  navigator.clipboard.writeText(src.value !== undefined ? src.value : src.textContent).then(
    () => { btn.textContent = "Copied"; },
    () => { src.select && src.select(); btn.textContent = "Press Ctrl+C"; });
});
const live = document.getElementById("live-calls");
if (live && window.EventSource) {
  const es = new EventSource(live.dataset.src);
  es.addEventListener("calls", (e) => {
    const rows = JSON.parse(e.data);
    const body = live.querySelector("tbody");
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      for (const v of [r.campaign, r.number, r.destination, r.state, r.duration]) {
        const td = document.createElement("td");
        td.textContent = v; // text, never HTML
        tr.appendChild(td);
      }
      return tr;
    }));
    const n = document.getElementById("live-count");
    if (n) n.textContent = String(rows.length);
  });
}
