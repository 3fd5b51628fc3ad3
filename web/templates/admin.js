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
// Agents: presence, registered phones and calls answered, from the `agents` event stream
// (each agent when it changed); the times count on here every second. Text, never HTML.
const agentsLive = document.querySelector("[data-agents-src]");
if (agentsLive && window.EventSource) {
  const agents = new Map(); // id -> the last state received
  let offset = 0; // server clock minus ours, ms
  const clock = (ms) => {
    const s = Math.floor(Math.max(0, ms) / 1000);
    const mm = Math.floor(s / 60) % 60, ss = String(s % 60).padStart(2, "0");
    return s >= 3600 ? `${Math.floor(s / 3600)}:${String(mm).padStart(2, "0")}:${ss}` : `${Math.floor(s / 60)}:${ss}`;
  };
  const stateText = (v, now) => {
    const since = (label) => (v.since_ms != null ? `${label} · ${clock(now - v.since_ms)}` : label);
    switch (v.presence) {
      case "available": return v.since_ms != null ? `available · idle ${clock(now - v.since_ms)}` : "available";
      case "ringing": return since("ringing");
      case "on_call": return since(v.on_call > 1 ? `on ${v.on_call} calls` : "on call");
      case "wrap_up": return `wrap-up · ${clock((v.until_ms != null ? v.until_ms : now) - now)} left`;
      default: return String(v.presence);
    }
  };
  const device = (d, now) => {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = d.contact;
    li.appendChild(code);
    li.appendChild(document.createTextNode(
      ` from ${d.source} (${d.transport}), expires in ${clock(d.expires_at * 1000 - now)}`));
    return li;
  };
  const render = (v, now) => {
    const row = agentsLive.querySelector(`tr[data-agent="${CSS.escape(v.id)}"]`);
    if (row) {
      const state = row.querySelector('[data-f="state"]');
      if (state) { state.textContent = stateText(v, now); state.dataset.presence = v.presence; }
      const devices = row.querySelector('[data-f="devices"]');
      if (devices) {
        if (v.devices.length === 0) devices.textContent = "none";
        else {
          const ul = document.createElement("ul");
          for (const d of v.devices) ul.appendChild(device(d, now));
          devices.replaceChildren(ul);
        }
      }
      const answered = row.querySelector('[data-f="answered"]');
      if (answered) answered.textContent = String(v.answered_today);
    }
    for (const form of document.querySelectorAll(`form[data-agent-form="${CSS.escape(v.id)}"]`)) {
      const input = form.querySelector('input[name="away"]');
      if (input) input.value = v.away ? "0" : "1";
      const btn = form.querySelector("button");
      if (btn) btn.textContent = v.away ? "Set available" : "Set away";
    }
  };
  const es = new EventSource(agentsLive.dataset.agentsSrc);
  es.addEventListener("agents", (e) => {
    const update = JSON.parse(e.data);
    offset = update.now_ms - Date.now();
    for (const v of update.agents) {
      agents.set(v.id, v);
      render(v, update.now_ms);
    }
  });
  setInterval(() => {
    const now = Date.now() + offset;
    for (const v of agents.values()) render(v, now);
  }, 1000);
}
