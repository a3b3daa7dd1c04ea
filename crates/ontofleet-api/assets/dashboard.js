// ontofleet dashboard: live run views over the API's server-sent events, lease countdowns and
// stalled-progress banners. Pages work without it; it only keeps them current. Text only: no
// markup from the server's data is ever parsed.
"use strict";

function pick(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function fmtRate(perSec) {
  return perSec > 0 ? perSec.toFixed(2) + " items/s" : "–";
}

function fmtSecs(s) {
  if (!isFinite(s) || s < 0) return "–";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function liveRun(root) {
  const run = root.dataset.run;
  const banner = document.getElementById("stall-banner");
  const stallSecs = banner ? Number(banner.dataset.stallSecs || 60) : 60;
  let lastDone = -1;
  let lastChange = Date.now();
  const source = new EventSource("/api/v1/runs/" + encodeURIComponent(run) + "/events");
  source.addEventListener("progress", (ev) => {
    const p = JSON.parse(ev.data);
    const items = p.run.items;
    const done = items.succeeded + items.partial + items.failed + items.skipped + items.cancelled;
    // Rate and time left come computed from the server (ontofleet_core::Pace): formatted only.
    const view = Object.assign({}, p, {
      rate: fmtRate(p.pace.rate_per_sec),
      eta: p.pace.eta_secs == null ? "–" : fmtSecs(p.pace.eta_secs),
    });
    view.run = Object.assign({}, p.run, { done: done });
    root.querySelectorAll("[data-field]").forEach((el) => {
      const v = pick(view, el.dataset.field);
      if (v === undefined) return;
      if (el.tagName === "PROGRESS") { el.value = v; } else { el.textContent = String(v); }
      if (el.classList.contains("status")) { el.className = "status status-" + v; }
    });
    const body = root.querySelector("#matrix tbody");
    if (body) {
      body.replaceChildren(...p.items_by_status.map((r) => {
        const tr = document.createElement("tr");
        [r.status, r.category || "–", r.count].forEach((c) => {
          const td = document.createElement("td");
          td.textContent = String(c);
          tr.appendChild(td);
        });
        return tr;
      }));
    }
    if (done !== lastDone) { lastDone = done; lastChange = Date.now(); }
    if (p.finished) {
      source.close();
      const note = document.getElementById("live-note");
      if (note) {
        const link = document.createElement("a");
        link.href = window.location.pathname;
        link.textContent = "finished: reload for the final summary";
        note.replaceChildren(link);
      }
    }
  });
  if (banner) {
    setInterval(() => {
      const idle = (Date.now() - lastChange) / 1000;
      const stalled = source.readyState !== EventSource.CLOSED && idle > stallSecs;
      banner.textContent = stalled ? "No progress for " + Math.round(idle) + " s: are workers running? (ontofleet worker)" : "";
      banner.classList.toggle("hidden", !stalled);
    }, 1000);
  }
}

function countdowns() {
  document.querySelectorAll("[data-countdown]").forEach((el) => {
    const end = Date.parse(el.dataset.countdown);
    const tick = () => {
      const left = (end - Date.now()) / 1000;
      el.textContent = left > 0 ? "in " + fmtSecs(left) + (left < 30 ? " (near expiry)" : "") : "expired";
    };
    tick();
    setInterval(tick, 1000);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("run-live");
  if (root && root.dataset.live === "true") liveRun(root);
  countdowns();
});
