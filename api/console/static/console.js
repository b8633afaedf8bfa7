// The on-call console: renders the open escalations, keeps them live (Server-Sent Events,
// with a periodic refresh while the stream is down) and sends acknowledge and resolve.
// Data is written with textContent only, never as markup.
"use strict";

const POLL_MS = 10000;
const TICK_MS = 15000;

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const list = document.getElementById("escalations");
const empty = document.getElementById("empty");
const live = document.getElementById("live");
const template = document.getElementById("escalation");

const rows = new Map(); // escalation id -> <li>
let clockOffset = 0; // server time minus this browser's time
let shownAt = 0; // the server time of the list on screen
let poller = null;

// --- Rendering --------------------------------------------------------------------------------

function render(snapshot) {
  const at = Date.parse(snapshot.now);
  if (at < shownAt) return; // an older list, overtaken by a newer one
  shownAt = at;
  clockOffset = at - Date.now();
  const ids = new Set(snapshot.escalations.map((e) => e.escalation_id));
  for (const [id, row] of rows) {
    if (!ids.has(id)) {
      row.remove();
      rows.delete(id);
    }
  }
  snapshot.escalations.forEach((escalation, index) => {
    const row = rows.get(escalation.escalation_id) ?? newRow(escalation.escalation_id);
    fill(row, escalation);
    // Only moved when out of place: moving a row would drop a half-typed note's focus.
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] ?? null);
  });
  empty.hidden = snapshot.escalations.length > 0;
}

function newRow(id) {
  const row = template.content.firstElementChild.cloneNode(true);
  row.dataset.id = id;
  row.querySelector('[data-action="acknowledge"]').addEventListener("click", () => {
    act(row, "acknowledge", {});
  });
  row.querySelector('[data-action="resolve"]').addEventListener("submit", (event) => {
    event.preventDefault();
    act(row, "resolve", { note: event.target.elements.note.value });
  });
  rows.set(id, row);
  return row;
}

function fill(row, e) {
  row.dataset.severity = e.severity;
  row.dataset.status = e.status;
  row.dataset.raisedAt = e.raised_at;
  row.dataset.acknowledgedBy = e.acknowledged_by ?? "";
  row.dataset.acknowledgedAt = e.acknowledged_at ?? "";
  set(row, "severity", e.severity);
  set(row, "condition", e.condition);
  set(row, "status", e.status);
  set(row, "summary", e.summary);
  set(row, "course", `${e.course_id} (clinic ${e.clinic_id})`);
  set(row, "phase", e.phase ?? "–");
  set(row, "session", e.session ?? "–");
  set(row, "reading", e.reading ? describeReading(e.reading) : "–");
  set(row, "paging", paging(e));
  row.querySelector('[data-action="acknowledge"]').hidden = e.status !== "open";
  tick(row);
}

function set(row, field, text) {
  row.querySelector(`[data-field="${field}"]`).textContent = String(text);
}

function describeReading(r) {
  const signs = [];
  if (r.systolic != null) signs.push(`BP ${r.systolic}/${r.diastolic}`);
  if (r.heart_rate != null) signs.push(`HR ${r.heart_rate}`);
  if (r.spo2 != null) signs.push(`SpO₂ ${r.spo2}%`);
  if (r.moaas != null) signs.push(`MOAA/S ${r.moaas}`);
  if (r.cadss != null) signs.push(`CADSS ${r.cadss}`);
  if (r.hypertensive_crisis_symptoms) signs.push("hypertensive-crisis symptoms");
  return `${signs.join(" · ")} (taken ${clock(r.taken_at)})`;
}

function paging(e) {
  const pages = e.pages === 1 ? "1 page" : `${e.pages} pages`;
  return e.assigned_to ? `${pages}, assigned to ${e.assigned_to}` : pages;
}

// The times shown move on by themselves (see the interval at the end).
function tick(row) {
  const age = row.querySelector('[data-field="age"]');
  age.dateTime = row.dataset.raisedAt;
  age.title = new Date(row.dataset.raisedAt).toLocaleString();
  age.textContent = `raised ${ago(row.dataset.raisedAt)}`;
  const { acknowledgedBy, acknowledgedAt } = row.dataset;
  set(row, "acknowledged", acknowledgedBy
    ? `Acknowledged by ${acknowledgedBy} ${ago(acknowledgedAt)}` : "");
}

function ago(iso) {
  const minutes = Math.floor((Date.now() + clockOffset - Date.parse(iso)) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min ago`;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// --- Actions ----------------------------------------------------------------------------------

async function act(row, action, body) {
  const error = row.querySelector('[data-field="error"]');
  const buttons = row.querySelectorAll("button");
  error.textContent = "";
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const url = `/console/escalations/${encodeURIComponent(row.dataset.id)}/${action}`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    if (response.status === 401) return signedOut();
    if (!response.ok) {
      error.textContent = await reason(response);
      return;
    }
    if (action === "resolve") row.querySelector('[name="note"]').value = "";
    render(await response.json());
  } catch (err) {
    error.textContent = `Not sent: ${err.message}`;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

async function reason(response) {
  try {
    const { detail } = await response.json();
    // 422: a list of field problems; otherwise the server's (or the workflow's) reason.
    return Array.isArray(detail) ? detail.map((p) => p.msg).join("; ") : String(detail);
  } catch {
    return `Refused (${response.status})`;
  }
}

// --- Live updates -----------------------------------------------------------------------------

function connect() {
  const source = new EventSource("/console/events");
  source.addEventListener("escalations", (event) => {
    render(JSON.parse(event.data));
    showLive(true);
  });
  source.addEventListener("error", () => {
    showLive(false);
    // CLOSED: the server refused the stream (e.g. signed out); otherwise it reconnects itself.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, POLL_MS);
  });
}

function showLive(on) {
  live.dataset.state = on ? "live" : "polling";
  live.textContent = on ? "live" : "reconnecting… (refreshing every 10 s)";
  if (on && poller !== null) {
    clearInterval(poller);
    poller = null;
  } else if (!on && poller === null) {
    poller = setInterval(refresh, POLL_MS);
  }
}

async function refresh() {
  try {
    const response = await fetch("/console/escalations");
    if (response.status === 401) return signedOut();
    if (response.ok) render(await response.json());
  } catch {
    // Offline for now: the next refresh tries again.
  }
}

function signedOut() {
  window.location.assign("/console");
}

connect();
setInterval(() => rows.forEach(tick), TICK_MS);
