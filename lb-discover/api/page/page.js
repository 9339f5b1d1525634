// lb-discover's status page: reads the status from /events (server-sent
// events), draws it, and sends the admin API's writes. Every value from the
// server is set as text (textContent), never parsed as markup: addresses and
// reasons come from the bus and are hostile input.
"use strict";

const HISTORY = 60;            // rate samples kept per backend (the sparkline)
const state = {
  doc: null,                   // the last status document
  prev: new Map(),             // address -> {time, requests, errors}
  rates: new Map(),            // address -> {req, err, history: [req/s, ...]}
  rows: new Map(),             // address -> the backend's table row
  token: "",
  selected: "",                // the Service shown ("": the main one), from #service=NAME
  source: null,                // the EventSource of /events?service=
  svcPrev: new Map(),          // service -> {time, requests, failures}
  svcRates: new Map(),         // service -> {req, err}
  svcRows: new Map(),          // service -> its row in the list
  routesGen: null,             // the routes generation drawn
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function badge(text) {
  const known = /^[a-z-]+$/.test(text) ? text : "unknown";
  return el("span", "state state-" + known, text);
}

function seconds(s) {
  if (typeof s !== "number" || !isFinite(s)) return "";
  if (s < 0) s = 0;
  if (s < 10) return s.toFixed(1) + " s";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.floor(s / 60) + " m " + Math.round(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " m";
}

function perSecond(v) {
  if (typeof v !== "number" || !isFinite(v)) return "";
  return v >= 100 ? Math.round(v).toString() : v.toFixed(1);
}

function sparkline(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 " + (HISTORY - 1) + " 20");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS(ns, "polyline");
  // the samples there are, spread over the width (up to the last minute's)
  const max = Math.max(1, ...values);
  const step = (HISTORY - 1) / Math.max(1, values.length - 1);
  line.setAttribute("points", values.map((v, i) =>
    (i * step).toFixed(2) + "," + (19 - (v / max) * 18).toFixed(2)).join(" "));
  svg.appendChild(line);
  return svg;
}

function fill(cell, ...children) {
  cell.replaceChildren(...children);
}

// Requests and failures per second from two status documents' counters.
function updateRates(doc) {
  const seen = new Set();
  for (const b of doc.backends) {
    seen.add(b.address);
    const failures = (b.errors || 0) + (b.responses_5xx || 0);
    const prev = state.prev.get(b.address);
    let r = state.rates.get(b.address);
    if (!r) { r = { req: null, err: null, history: [] }; state.rates.set(b.address, r); }
    if (prev && doc.time > prev.time) {
      const dt = doc.time - prev.time;
      r.req = Math.max(0, (b.requests - prev.requests) / dt);
      r.err = Math.max(0, (failures - prev.failures) / dt);
      r.history.push(r.req);
      if (r.history.length > HISTORY) r.history.shift();
    }
    state.prev.set(b.address, { time: doc.time, requests: b.requests, failures });
  }
  for (const a of [...state.prev.keys()]) {
    if (!seen.has(a)) { state.prev.delete(a); state.rates.delete(a); }
  }
}

function backendRow(address) {
  let row = state.rows.get(address);
  if (row) return row;
  row = el("tr");
  row.dataset.address = address;
  const names = ["addr", "state", "reason", "health", "weight num", "active num", "req num",
    "err num", "spark", "requests num", "errors num", "r5xx num", "actions"];
  row.cells_ = {};
  for (const n of names) {
    const td = el("td", "col-" + n);
    row.appendChild(td);
    row.cells_[n.split(" ")[0]] = td;
  }
  row.cells_.addr.textContent = address;
  const actions = row.cells_.actions;
  const buttons = {
    drain: el("button", "act-drain", "drain"),
    undrain: el("button", "act-undrain", "undrain"),
    weight: el("button", "act-weight", "weight"),
    uneject: el("button", "act-uneject", "uneject"),
  };
  for (const [verb, button] of Object.entries(buttons)) {
    button.type = "button";
    button.addEventListener("click", () => act(verb, address));
    actions.appendChild(button);
  }
  row.buttons_ = buttons;
  state.rows.set(address, row);
  return row;
}

function drawBackends(doc) {
  const tbody = $("backends").tBodies[0];
  const order = [];
  for (const b of doc.backends) {
    const row = backendRow(b.address);
    const c = row.cells_;
    const r = state.rates.get(b.address) || { history: [] };
    const st = [badge(b.state)];
    if (b.ejection) st.push(document.createTextNode(" "), badge("ejected"));
    fill(c.state, ...st);
    row.dataset.state = b.state;
    row.dataset.ejected = b.ejection ? "1" : "0";
    c.reason.textContent = [b.reason, b.ejection && b.ejection.reason].filter(Boolean).join("; ");
    fill(c.health, badge(b.health));
    c.weight.textContent = b.weight;
    c.active.textContent = b.active;
    c.req.textContent = r.req === null || r.req === undefined ? "" : perSecond(r.req);
    c.err.textContent = r.err === null || r.err === undefined ? "" : perSecond(r.err);
    fill(c.spark, sparkline(r.history));
    c.requests.textContent = b.requests;
    c.errors.textContent = b.errors;
    c.r5xx.textContent = b.responses_5xx;
    row.buttons_.drain.hidden = b.state === "draining";
    row.buttons_.undrain.hidden = b.state !== "draining";
    row.buttons_.uneject.hidden = !b.ejection;
    order.push(row);
  }
  const keep = new Set(order);
  for (const [a, row] of state.rows) {
    if (!keep.has(row)) { state.rows.delete(a); row.remove(); }
  }
  order.forEach((row, i) => {
    if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
  });
}

// What each proxy reports of one backend: [{pid, state, active}].
function perProxy(doc, address) {
  const out = [];
  for (const p of doc.proxies || []) {
    const b = (p.backends || []).find((x) => x.address === address);
    out.push({ pid: p.pid, state: b ? b.state : "absent", active: b ? b.active : 0, sync: p.state });
  }
  return out;
}

function drawChanges(doc) {
  const tbody = $("changes").tBodies[0];
  const rows = [];
  for (const b of doc.backends) {
    const seen = perProxy(doc, b.address);
    if (b.state === "draining") {
      // a proxy acknowledged the drain when its report has the backend draining
      const acked = seen.filter((p) => p.state === "draining" || p.state === "absent").length;
      rows.push({ address: b.address, what: "drained", reason: b.reason || "operator",
        left: "until undrain", acked, seen });
    }
    if (b.ejection) {
      const left = b.ejection.left > 0 ? seconds(b.ejection.left)
        : "half-open: one trial per proxy";
      const acked = seen.filter((p) => p.sync === "synced").length;
      rows.push({ address: b.address, what: "ejected ×" + b.ejection.count,
        reason: b.ejection.reason, left, acked, seen });
    }
  }
  const out = rows.map((r) => {
    const tr = el("tr");
    tr.dataset.address = r.address;
    tr.appendChild(el("td", "col-addr", r.address));
    tr.appendChild(el("td", null, r.what));
    tr.appendChild(el("td", "col-reason", r.reason));
    tr.appendChild(el("td", null, r.left));
    const all = r.seen.length;
    tr.appendChild(el("td", "ack " + (r.acked === all ? "ack-yes" : "ack-no"),
      all ? r.acked + " of " + all : "no proxy reports"));
    tr.appendChild(el("td", "inflight",
      r.seen.map((p) => p.pid + ": " + p.active).join(", ")));
    return tr;
  });
  tbody.replaceChildren(...out);
  $("no-changes").hidden = out.length > 0;
}

function drawProxies(doc) {
  const tbody = $("proxies").tBodies[0];
  const out = (doc.proxies || []).map((p) => {
    const tr = el("tr");
    tr.dataset.pid = p.pid;
    tr.appendChild(el("td", null, p.pid));
    tr.appendChild(el("td", null, p.generation));
    const sync = el("td");
    sync.appendChild(badge(p.state));
    tr.appendChild(sync);
    tr.appendChild(el("td", null, p.follows ? "yes" : "no"));
    tr.appendChild(el("td", null, p.stale ? "stale" : "no"));
    tr.appendChild(el("td", null, p.panic ? "panic" : "no"));
    tr.appendChild(el("td", "num", seconds(p.age)));
    tr.appendChild(el("td", "num", seconds(p.uptime)));
    tr.appendChild(el("td", "num", (p.backends || []).reduce((n, b) => n + (b.active || 0), 0)));
    // the route table it serves: "current" when it is the one published
    const routes = doc.routes && typeof p.routes === "number"
      ? p.routes + (p.routes === doc.routes.generation ? " (current)" : " (behind)") : "";
    tr.appendChild(el("td", "col-routes", routes));
    return tr;
  });
  tbody.replaceChildren(...out);
  $("no-proxies").hidden = out.length > 0;
}

function drawWaiting(doc) {
  const list = doc.waiting || [];
  $("waiting-section").hidden = list.length === 0;
  $("waiting").tBodies[0].replaceChildren(...list.map((w) => {
    const tr = el("tr");
    tr.appendChild(el("td", "col-addr", w.address));
    const what = [w.drained && "drained", w.removed && "removed",
      w.weight && "weight " + w.weight].filter(Boolean).join(", ");
    tr.appendChild(el("td", null, what));
    tr.appendChild(el("td", "num", seconds(w.left_ago)));
    tr.appendChild(el("td", "num", seconds(w.expires_in)));
    return tr;
  }));
}

function text(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function drawCluster(doc) {
  const replicas = Array.isArray(doc.replicas) ? doc.replicas : [];
  const shared = doc.shared_state && typeof doc.shared_state === "object" ? doc.shared_state : null;
  $("cluster-section").hidden = !replicas.length && !shared;
  $("replicas").tBodies[0].replaceChildren(...replicas.map((r) => {
    const tr = el("tr");
    tr.appendChild(el("td", "col-addr", text(r.pod) + (r.self ? " (this one)" : "")));
    const st = el("td");
    st.appendChild(badge(text(r.state)));
    tr.appendChild(st);
    tr.appendChild(el("td", "num", text(r.generation)));
    tr.appendChild(el("td", null, r.synced === undefined ? "" : r.synced ? "yes" : "no"));
    tr.appendChild(el("td", "num", r.proxy_count !== undefined ? text(r.proxy_count)
      : Array.isArray(r.proxies) ? r.proxies.length : ""));
    tr.appendChild(el("td", "num", typeof r.renewed_ago === "number" ? seconds(r.renewed_ago) + " ago" : ""));
    // -1: a proxy of that replica has not applied the drain yet
    const draining = r.draining && typeof r.draining === "object" ? Object.entries(r.draining) : [];
    tr.appendChild(el("td", null, draining.map(([a, n]) =>
      a + ": " + (n < 0 ? "not applied yet" : n)).join(", ")));
    return tr;
  }));
  const kv = [];
  for (const [k, v] of Object.entries(shared || {})) kv.push(el("dt", null, k), el("dd", null, text(v)));
  $("shared-state").replaceChildren(...kv);
}

// The Service of the URL's fragment (#service=NAME), "" for the main one.
function selectedFromHash() {
  const m = /^#service=(.+)$/.exec(location.hash);
  if (!m) return "";
  try { return decodeURIComponent(m[1]); } catch (e) { return ""; }
}

function select(name, main) {
  location.hash = main || !name ? "" : "service=" + encodeURIComponent(name);
}

function serviceRates(doc) {
  const seen = new Set();
  for (const s of doc.services || []) {
    seen.add(s.name);
    const failures = (s.errors || 0) + (s.responses_5xx || 0);
    const prev = state.svcPrev.get(s.name);
    if (prev && doc.time > prev.time) {
      const dt = doc.time - prev.time;
      state.svcRates.set(s.name, { req: Math.max(0, (s.requests - prev.requests) / dt),
        err: Math.max(0, (failures - prev.failures) / dt) });
    }
    state.svcPrev.set(s.name, { time: doc.time, requests: s.requests, failures });
  }
  for (const n of [...state.svcPrev.keys()]) {
    if (!seen.has(n)) { state.svcPrev.delete(n); state.svcRates.delete(n); }
  }
}

function serviceRow(s) {
  let row = state.svcRows.get(s.name);
  if (row) return row;
  row = el("tr");
  row.dataset.service = s.name;
  const name = el("td", "col-addr");
  const b = el("button", "show-service", s.name + (s.main ? " (main)" : ""));
  b.type = "button";
  b.addEventListener("click", () => select(s.name, s.main));
  name.appendChild(b);
  row.appendChild(name);
  row.cells_ = [];
  for (let i = 0; i < 10; i++) row.appendChild(row.cells_[i] = el("td", "num"));
  state.svcRows.set(s.name, row);
  return row;
}

// The list of Services (the main one first), one row each; a name shows it.
function drawServices(doc) {
  const list = Array.isArray(doc.services) ? doc.services : [];
  const total = typeof doc.services_total === "number" ? doc.services_total : list.length;
  $("services-section").hidden = total <= 1;
  if (total <= 1) return;
  serviceRates(doc);
  // rows are kept and updated in place: a row rebuilt every second would
  // take a click that lands as it is replaced
  const tbody = $("services").tBodies[0];
  const order = list.map((s) => {
    const row = serviceRow(s);
    row.className = s.name === doc.service ? "selected" : "";
    const r = state.svcRates.get(s.name) || {};
    const values = [s.backends, s.up, s.draining, s.down, s.ejected, s.active,
      r.req === undefined ? "" : perSecond(r.req), r.err === undefined ? "" : perSecond(r.err),
      s.generation];
    values.forEach((v, i) => { row.cells_[i].textContent = v; });
    const synced = row.cells_[values.length];
    synced.className = "ack " + (s.proxies_synced === s.proxies ? "ack-yes" : "ack-no");
    synced.textContent = s.proxies_synced + " of " + s.proxies;
    return row;
  });
  const keep = new Set(order);
  for (const [n, row] of state.svcRows) {
    if (!keep.has(row)) { state.svcRows.delete(n); row.remove(); }
  }
  order.forEach((row, i) => {
    if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
  });
  $("services-more").hidden = total <= list.length;
  $("services-more").textContent = (total - list.length) + " more Services not listed: " +
    "open #service=NAMESPACE/NAME:PORT to show one";
}

function matchText(m) {
  const out = [];
  if (m.path) out.push(m.path.type + " " + m.path.value);
  if (m.method) out.push(m.method);
  for (const h of m.headers || []) out.push("header " + h.name + (h.type === "Exact" ? " = " : " ~ ") + h.value);
  for (const q of m.queryParams || []) out.push("query " + q.name + (q.type === "Exact" ? " = " : " ~ ") + q.value);
  return out.join(", ");
}

// The route table (GET /admin/routes), fetched when its generation moves.
async function drawRoutes(doc) {
  const r = doc.routes && typeof doc.routes === "object" ? doc.routes : null;
  $("routes-section").hidden = !r;
  if (!r) return;
  $("routes-summary").textContent = "generation " + r.generation + ", " + r.listeners +
    " listener(s), " + r.rules + " rule(s); served by " + r.proxies_serving + " of " +
    r.proxies + " proxies";
  if (state.routesGen === r.generation) return;
  state.routesGen = r.generation;
  let table;
  try {
    const answer = await fetch("/admin/routes", { credentials: "omit", cache: "no-store" });
    table = await answer.json();
  } catch (e) {
    state.routesGen = null;     // the next status tries again
    return;
  }
  $("listeners").tBodies[0].replaceChildren(...(table.listeners || []).map((l) => {
    const tr = el("tr");
    for (const v of [l.name, l.port, l.protocol, (l.hostnames || []).join(", ") || l.hostname || "*"])
      tr.appendChild(el("td", null, v));
    return tr;
  }));
  const rows = [];
  for (const route of table.routes || []) {
    for (const rule of route.rules || []) {
      const tr = el("tr");
      tr.dataset.route = route.name;
      tr.appendChild(el("td", "col-addr", route.name));
      tr.appendChild(el("td", "num", rule.rule));
      tr.appendChild(el("td", "col-reason", (rule.matches || []).map(matchText).join(" | ") || "any"));
      const to = el("td", "col-reason");
      for (const ref of rule.backendRefs || []) {
        const b = el("button", "show-service", ref.service + " ×" + ref.weight +
          (ref.resolved ? "" : " (unresolved)"));
        b.type = "button";
        b.addEventListener("click", () => select(ref.service, false));
        to.appendChild(b);
      }
      tr.appendChild(to);
      rows.push(tr);
    }
  }
  $("routes").tBodies[0].replaceChildren(...rows);
}

function render(doc) {
  if (state.selected && doc.service !== state.selected) {
    // the Service is no longer served: lb-discover sends the main one's
    say("service " + state.selected + " is no longer served: showing " + doc.service, true);
    select("", true);
    return;
  }
  state.doc = doc;
  updateRates(doc);
  $("service").textContent = doc.service;
  // with several Services, the sections say whose they are
  const of = (doc.services_total || 1) > 1 ? "of " + doc.service : "";
  $("backends-of").textContent = of;
  $("changes-of").textContent = of;
  $("generation").textContent = doc.generation;
  $("backend-count").textContent = doc.backends.length;
  $("proxy-count").textContent = (doc.proxies || []).length;
  $("uptime").textContent = seconds(doc.uptime);
  $("token-form").hidden = !doc.token;
  drawBackends(doc);
  drawChanges(doc);
  drawProxies(doc);
  drawWaiting(doc);
  drawCluster(doc);
  drawServices(doc);
  drawRoutes(doc);
  document.body.classList.toggle("has-routes", Boolean(doc.routes));
  document.body.dataset.generation = doc.generation;
  document.body.dataset.service = doc.service;
}

function say(msg, error) {
  const m = $("message");
  m.textContent = msg;
  m.className = "message" + (error ? " error" : "");
  m.hidden = false;
}

// The write behind a verb: [method, path, body].
// A routed Service's backend is addressed with ?service= (its own registry).
function request(verb, address, weight) {
  const base = "/admin/backends/" + encodeURIComponent(address);
  const q = state.selected ? "?service=" + encodeURIComponent(state.selected) : "";
  switch (verb) {
    case "drain": return ["POST", base + "/drain" + q, null];
    case "undrain": return ["POST", base + "/undrain" + q, null];
    case "uneject": return ["POST", base + "/uneject" + q, null];
    case "weight": return ["PUT", base + "/weight" + q, JSON.stringify({ weight })];
  }
  return null;
}

function confirmAction(verb, address) {
  const dialog = $("confirm");
  const weight = $("weight-input");
  const of = state.selected ? " of " + state.selected : "";
  $("confirm-text").textContent = verb === "weight"
    ? "Set the weight of " + address + of + " on every proxy?"
    : verb.charAt(0).toUpperCase() + verb.slice(1) + " " + address + of + " on every proxy?";
  $("weight-label").hidden = verb !== "weight";
  const row = state.doc && state.doc.backends.find((b) => b.address === address);
  weight.value = row ? row.weight : 1;
  dialog.dataset.verb = verb;
  dialog.dataset.address = address;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function act(verb, address) {
  if (!(await confirmAction(verb, address))) return;
  const weight = parseInt($("weight-input").value, 10);
  const [method, path, body] = request(verb, address, weight);
  const headers = {};
  if (body) headers["Content-Type"] = "application/json";
  state.token = $("token").value.trim();
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  let answer = null, status = 0;
  try {
    const r = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
    status = r.status;
    answer = await r.json().catch(() => null);
  } catch (e) {
    say(verb + " " + address + ": lb-discover did not answer (" + e.message + ")", true);
    return;
  }
  if (status >= 200 && status < 300) {
    say(verb + " " + address + ": done, generation " + (answer && answer.generation), false);
  } else {
    const why = answer && answer.error ? answer.error : "HTTP " + status;
    say(verb + " " + address + " refused (" + status + "): " + why, true);
  }
  document.body.dataset.lastWrite = String(status);
}

// Forgets what was drawn of the Service shown before (its rows, rates).
function reset() {
  state.doc = null;
  state.prev.clear();
  state.rates.clear();
  for (const row of state.rows.values()) row.remove();
  state.rows.clear();
}

function connect() {
  const feed = $("feed");
  if (state.source) state.source.close();
  state.selected = selectedFromHash();
  reset();
  const q = state.selected ? "?service=" + encodeURIComponent(state.selected) : "";
  const source = new EventSource("/events" + q);
  state.source = source;
  source.addEventListener("open", () => { feed.textContent = "live"; feed.className = "feed-live"; });
  source.addEventListener("error", () => {
    feed.textContent = "lost: reconnecting";
    feed.className = "feed-lost";
    // refused (404: a Service lb-discover does not serve): show the main one
    if (source.readyState === EventSource.CLOSED && state.selected) {
      say("lb-discover serves no service " + state.selected + ": showing the main one", true);
      select("", true);
    }
  });
  source.addEventListener("status", (ev) => {
    let doc;
    try { doc = JSON.parse(ev.data); } catch (e) { return; }
    if (!doc || !Array.isArray(doc.backends)) return;
    render(doc);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (ev) => ev.preventDefault());
  window.addEventListener("hashchange", connect);
  connect();
});
