// The on-call console: renders the open escalations of one clinic or all, with counts by
// severity, keeps them live (Server-Sent Events, with a periodic refresh while the stream is
// down) and sends acknowledge, resolve and reassign. Data is written with textContent only,
// never as markup.
"use strict";

const POLL_MS = 10000;
const TICK_MS = 15000;

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const list = document.getElementById("escalations");
const empty = document.getElementById("empty");
const live = document.getElementById("live");
const template = document.getElementById("escalation");
const clinicFilter = document.getElementById("clinic");
const counts = document.getElementById("counts");

const rows = new Map(); // escalation id -> <li>
let clockOffset = 0; // server time minus this browser's time
let shownAt = 0; // the server time of the list on screen
let poller = null;
let source = null; // the live stream, of the clinic shown
let clinic = new URLSearchParams(window.location.search).get("clinic") ?? "";
const pending = new Map(); // "<id>/<action>" -> the Idempotency-Key its retries reuse

// --- Rendering --------------------------------------------------------------------------------

function render(snapshot) {
  if ((snapshot.clinic ?? "") !== clinic) return; // the list of a filter left since
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
  showCounts(snapshot.counts);
  showClinics(snapshot.clinics);
}

function showCounts(bySeverity) {
  for (const badge of counts.querySelectorAll("[data-severity]")) {
    const n = bySeverity[badge.dataset.severity] ?? 0;
    badge.dataset.count = n;
    badge.textContent = `${n} ${badge.dataset.severity}`;
  }
}

function showClinics(clinics) {
  const shown = new Set([...clinicFilter.options].map((o) => o.value));
  // The one chosen stays offered while it has nothing open.
  for (const id of [...clinics, clinic].filter((c) => c && !shown.has(c)).sort()) {
    const option = new Option(id, id);
    const after = [...clinicFilter.options].find((o) => o.value && o.value > id);
    clinicFilter.add(option, after ?? null);
  }
  clinicFilter.value = clinic;
}

function chooseClinic(chosen) {
  clinic = chosen;
  const url = new URL(window.location.href);
  if (clinic) url.searchParams.set("clinic", clinic);
  else url.searchParams.delete("clinic");
  window.history.replaceState(null, "", url);
  shownAt = 0;
  rows.forEach((row) => row.remove());
  rows.clear();
  connect();
}

function query() {
  return clinic ? `?clinic=${encodeURIComponent(clinic)}` : "";
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
  const reassign = row.querySelector("details.reassign");
  reassign.addEventListener("toggle", () => {
    if (reassign.open) loadOnCall(row);
  });
  row.querySelector('[data-action="reassign"]').addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = event.target.elements.to.selectedOptions[0];
    act(row, "reassign", { to_staff: chosen.dataset.staff, to_role: chosen.dataset.role });
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
  row.dataset.rungSince = e.rung_since;
  row.dataset.clinic = e.clinic_id;
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
  // An acknowledgement stops the ladder: nobody waits at a rung any more.
  set(row, "rung", row.dataset.status === "open"
    ? `waiting ${waited(row.dataset.rungSince)}` : "paging stopped");
}

function minutesSince(iso) {
  return Math.floor((Date.now() + clockOffset - Date.parse(iso)) / 60000);
}

function duration(minutes) {
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function ago(iso) {
  const minutes = minutesSince(iso);
  return minutes < 1 ? "just now" : `${duration(minutes)} ago`;
}

function waited(iso) {
  const minutes = minutesSince(iso);
  return minutes < 1 ? "under a minute" : duration(minutes);
}

function roleName(role) {
  return role.replaceAll("_", " ").replace("on call", "on-call");
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// --- Actions ----------------------------------------------------------------------------------

// Each action keeps its Idempotency-Key until the server has answered it for good: a retry
// after a lost answer or an outage is then the same action, done once.
async function act(row, action, body) {
  const error = row.querySelector('[data-field="error"]');
  const buttons = row.querySelectorAll("button");
  const attempt = `${row.dataset.id}/${action}`;
  if (!pending.has(attempt)) pending.set(attempt, newKey());
  error.textContent = "";
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const url = `/console/escalations/${encodeURIComponent(row.dataset.id)}/${action}${query()}`;
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": csrf,
        "Idempotency-Key": pending.get(attempt),
      },
      body: JSON.stringify(body),
    });
    if (response.status < 500) pending.delete(attempt);
    if (response.status === 401) return signedOut();
    if (!response.ok) {
      error.textContent = await reason(response);
      return;
    }
    if (action === "resolve") row.querySelector('[name="note"]').value = "";
    if (action === "reassign") row.querySelector("details.reassign").open = false;
    render(await response.json());
  } catch (err) {
    // It may have been done all the same: sent again, it is the same action (its key).
    error.textContent = `No answer (${err.message}): try again`;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Who is on call at the row's clinic now: the people it may be reassigned to.
async function loadOnCall(row) {
  const error = row.querySelector('[data-field="error"]');
  const select = row.querySelector('[name="to"]');
  try {
    const response = await fetch(`/console/on-call?clinic=${encodeURIComponent(row.dataset.clinic)}`);
    if (response.status === 401) return signedOut();
    if (!response.ok) {
      error.textContent = await reason(response);
      return;
    }
    const people = await response.json();
    select.replaceChildren(new Option(people.length ? "Who is on call…" : "Nobody is on call", ""));
    for (const person of people) {
      const text = `${person.display_name} (${person.staff_id}), ${roleName(person.role)}`;
      const option = new Option(text, `${person.role}/${person.staff_id}`);
      option.dataset.staff = person.staff_id;
      option.dataset.role = person.role;
      select.add(option);
    }
  } catch (err) {
    error.textContent = `Not loaded: ${err.message}`;
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
  if (source !== null) source.close();
  const opened = new EventSource(`/console/events${query()}`);
  source = opened;
  opened.addEventListener("escalations", (event) => {
    render(JSON.parse(event.data));
    showLive(true);
  });
  opened.addEventListener("error", () => {
    if (opened !== source) return; // a stream left for another clinic's
    showLive(false);
    // CLOSED: the server refused the stream (e.g. signed out); otherwise it reconnects itself.
    if (opened.readyState === EventSource.CLOSED) setTimeout(connect, POLL_MS);
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
    const response = await fetch(`/console/escalations${query()}`);
    if (response.status === 401) return signedOut();
    if (response.status === 404 && clinic) return chooseClinic(""); // not theirs: an old link
    if (response.ok) render(await response.json());
  } catch {
    // Offline for now: the next refresh tries again.
  }
}

function signedOut() {
  window.location.assign("/console");
}

clinicFilter.addEventListener("change", () => chooseClinic(clinicFilter.value));
connect();
setInterval(() => rows.forEach(tick), TICK_MS);
