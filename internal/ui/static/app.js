// Plateau's web UI: the operator API's GET_STATE once, then its SUBSCRIBE
// event stream (RecordIO framed JSON) keeps the page live.
"use strict";

const state = { tasks: new Map(), frameworks: new Map(), agents: new Map(), history: [] };
const $ = (sel) => document.querySelector(sel);

async function call(type, extra) {
  const r = await fetch("/api/v1", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify(Object.assign({ type }, extra || {})),
  });
  if (!r.ok) throw new Error(type + ": " + r.status + " " + (await r.text()));
  return r.json();
}

const id = (x) => (x && x.value) || "";
const scalar = (rs, name) => (rs || []).filter((r) => r.name === name && r.scalar).reduce((s, r) => s + r.scalar.value, 0);
const terminal = (s) => ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"].includes(s);
const short = (s) => (s.length > 18 ? "…" + s.slice(-14) : s);
const fmtMem = (mb) => (mb >= 1024 ? (mb / 1024).toFixed(1) + " GB" : Math.round(mb) + " MB");
const when = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function fill(table, rows) {
  const body = $(table + " tbody");
  body.replaceChildren(...rows);
  if (rows.length === 0) body.append(el("tr", {}, el("td", { class: "muted", colspan: "6" }, "none")));
}

function loadState(s) {
  state.tasks.clear(); state.frameworks.clear(); state.agents.clear();
  const tasks = s.get_tasks || {};
  for (const t of [].concat(tasks.tasks || [], tasks.completed_tasks || [], tasks.unreachable_tasks || [])) state.tasks.set(id(t.task_id), t);
  for (const f of (s.get_frameworks || {}).frameworks || []) state.frameworks.set(id(f.framework_info.id), f);
  for (const a of (s.get_agents || {}).agents || []) state.agents.set(id(a.agent_info.id), a);
}

function taskUpdated(u) {
  const t = state.tasks.get(id(u.status.task_id));
  if (!t) return;
  t.state = u.state;
  t.statuses = (t.statuses || []).concat([u.status]);
  if (openTask === id(t.task_id)) showHistory(t);
}

function event(e) {
  switch (e.type) {
    case "SUBSCRIBED": loadState(e.subscribed.get_state || {}); refreshSecondary(); break;
    case "TASK_ADDED": state.tasks.set(id(e.task_added.task.task_id), e.task_added.task); break;
    case "TASK_UPDATED": taskUpdated(e.task_updated); break;
    case "AGENT_ADDED": state.agents.set(id(e.agent_added.agent.agent_info.id), e.agent_added.agent); break;
    case "AGENT_REMOVED": state.agents.delete(id(e.agent_removed.agent_id)); break;
    case "FRAMEWORK_ADDED": case "FRAMEWORK_UPDATED": {
      const f = (e.framework_added || e.framework_updated).framework;
      state.frameworks.set(id(f.framework_info.id), f); refreshSecondary(); break;
    }
    case "FRAMEWORK_REMOVED": state.frameworks.delete(id(e.framework_removed.framework_info.id)); refreshSecondary(); break;
    case "HEARTBEAT": break;
    default: return;
  }
  render();
}

// subscribe reads the SUBSCRIBE stream: records are "<length>\n<json>",
// the length in bytes.
async function subscribe() {
  const r = await fetch("/api/v1", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify({ type: "SUBSCRIBE" }),
  });
  if (!r.ok) throw new Error("SUBSCRIBE: " + r.status);
  $("#live").textContent = "live"; $("#live").className = "badge on";
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(buf.length + value.length);
    joined.set(buf); joined.set(value, buf.length); buf = joined;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      const len = parseInt(decoder.decode(buf.subarray(0, nl)), 10);
      if (buf.length < nl + 1 + len) break;
      event(JSON.parse(decoder.decode(buf.subarray(nl + 1, nl + 1 + len))));
      buf = buf.slice(nl + 1 + len);
    }
  }
  throw new Error("event stream ended");
}

async function live() {
  for (;;) {
    try { await subscribe(); } catch (err) { console.warn(err); }
    $("#live").textContent = "reconnecting…"; $("#live").className = "badge off";
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

let secondaryPending = null;
function refreshSecondary() {
  if (secondaryPending) return;
  secondaryPending = setTimeout(async () => {
    secondaryPending = null;
    try {
      const [roles, quota, maint] = await Promise.all([call("GET_ROLES"), call("GET_QUOTA"), call("GET_MAINTENANCE_STATUS")]);
      renderRoles(roles.get_roles.roles || [], ((quota.get_quota || {}).status || {}).configs || []);
      renderMaintenance(maint.get_maintenance_status.status || {});
    } catch (err) { console.warn(err); }
  }, 300);
}

function quantities(m) {
  return Object.entries(m || {}).map(([k, v]) => k + ":" + v.value).join(" ") || "–";
}

function renderRoles(roles, configs) {
  const quota = new Map(configs.map((c) => [c.role, c]));
  fill("#roles", roles.map((r) => el("tr", {}, el("td", {}, r.name), el("td", {}, r.weight), el("td", {}, quantities((quota.get(r.name) || {}).guarantees)),
    el("td", {}, quantities((quota.get(r.name) || {}).limits)), el("td", {}, (r.frameworks || []).length))));
}

function renderMaintenance(st) {
  const rows = [];
  for (const m of st.draining_machines || []) {
    rows.push(el("tr", {}, el("td", {}, m.id.hostname || m.id.ip), el("td", {}, "DRAINING"),
      el("td", {}, (m.statuses || []).map((s) => short(id(s.framework_id)) + ": " + s.status).join(", ") || "–")));
  }
  for (const m of st.down_machines || []) rows.push(el("tr", {}, el("td", {}, m.hostname || m.ip), el("td", {}, "DOWN"), el("td", {}, "–")));
  fill("#maintenance", rows);
}

function render() {
  const tasks = [...state.tasks.values()];
  const running = tasks.filter((t) => t.state === "TASK_RUNNING");
  const live = tasks.filter((t) => !terminal(t.state));
  let cpusTotal = 0, memTotal = 0;
  for (const a of state.agents.values()) { cpusTotal += scalar(a.total_resources, "cpus"); memTotal += scalar(a.total_resources, "mem"); }
  const cpusUsed = live.reduce((s, t) => s + scalar(t.resources, "cpus"), 0);
  const memUsed = live.reduce((s, t) => s + scalar(t.resources, "mem"), 0);
  const offers = [...state.frameworks.values()].reduce((s, f) => s + (f.offers || []).length, 0);
  $("#n-agents").textContent = state.agents.size;
  $("#n-frameworks").textContent = state.frameworks.size;
  $("#n-running").textContent = running.length;
  $("#cpus").textContent = cpusUsed.toFixed(1) + " / " + cpusTotal.toFixed(1);
  $("#mem").textContent = fmtMem(memUsed) + " / " + fmtMem(memTotal);
  $("#n-offers").textContent = offers;
  sample(cpusTotal ? cpusUsed / cpusTotal : 0, memTotal ? memUsed / memTotal : 0);

  const hostOf = (aid) => ((state.agents.get(aid) || {}).agent_info || {}).hostname || short(aid);
  const nameOf = (fid) => (((state.frameworks.get(fid) || {}).framework_info) || {}).name || short(fid);
  tasks.sort((a, b) => (terminal(a.state) - terminal(b.state)) || lastTime(b) - lastTime(a));
  fill("#tasks", tasks.slice(0, 500).map((t) => el("tr", { "data-task": id(t.task_id), onclick: () => openDetail(id(t.task_id)) },
    el("td", {}, id(t.task_id)), el("td", {}, t.name), el("td", { class: "state " + t.state }, t.state.replace("TASK_", "")),
    el("td", {}, nameOf(id(t.framework_id))), el("td", {}, hostOf(id(t.agent_id))), el("td", { class: "muted" }, when(lastTime(t))))));
  fill("#frameworks", [...state.frameworks.values()].map((f) => {
    const i = f.framework_info, fid = id(i.id);
    const roles = (i.roles && i.roles.length ? i.roles : [i.role || "*"]).join(", ");
    const n = tasks.filter((t) => id(t.framework_id) === fid && !terminal(t.state)).length;
    return el("tr", {}, el("td", {}, short(fid)), el("td", {}, i.name), el("td", {}, roles), el("td", {}, f.active ? "yes" : "no"), el("td", {}, n), el("td", {}, (f.offers || []).length));
  }));
  fill("#agents", [...state.agents.values()].map((a) => {
    const aid = id(a.agent_info.id);
    const used = live.filter((t) => id(t.agent_id) === aid);
    return el("tr", {}, el("td", {}, short(aid)), el("td", {}, a.agent_info.hostname),
      el("td", {}, used.reduce((s, t) => s + scalar(t.resources, "cpus"), 0).toFixed(1) + " / " + scalar(a.total_resources, "cpus")),
      el("td", {}, fmtMem(used.reduce((s, t) => s + scalar(t.resources, "mem"), 0)) + " / " + fmtMem(scalar(a.total_resources, "mem"))),
      el("td", {}, a.deactivated ? "deactivated" : a.active ? "active" : "inactive"));
  }));
}

const lastTime = (t) => ((t.statuses || []).slice(-1)[0] || {}).timestamp || 0;

// The chart: one sample per second at most, the last ten minutes.
function sample(cpu, mem) {
  const now = Date.now(), h = state.history;
  if (h.length && now - h[h.length - 1].t < 1000) h[h.length - 1] = { t: now, cpu, mem };
  else h.push({ t: now, cpu, mem });
  while (h.length > 600) h.shift();
  const pts = h.length === 1 ? [h[0], h[0]] : h;
  const path = (key) => pts.map((p, i) => (i ? "L" : "M") + ((i / (pts.length - 1)) * 600).toFixed(1) + "," + (115 - p[key] * 110).toFixed(1)).join(" ");
  $("#chart").innerHTML = '<path d="' + path("cpu") + '" fill="none" stroke="#4fb3ff" stroke-width="2"/>' +
    '<path d="' + path("mem") + '" fill="none" stroke="#f5c451" stroke-width="2"/>';
}

// The task panel: its history, its sandbox and its output, followed live.
let openTask = null, follow = null, which = "stdout", offset = 0;

function sandboxOf(t) {
  const executor = id(t.executor_id) || id(t.task_id);
  let path = "/frameworks/" + id(t.framework_id) + "/executors/" + executor + "/runs/latest";
  if (id(t.executor_id) && id(t.executor_id) !== id(t.task_id)) path += "/tasks/" + id(t.task_id);
  return path;
}

function showHistory(t) {
  $("#d-history").replaceChildren(...(t.statuses || []).map((s) => el("li", {}, when(s.timestamp) + " " + s.state + (s.message ? " — " + s.message : ""))));
}

async function openDetail(taskID) {
  const t = state.tasks.get(taskID);
  if (!t) return;
  openTask = taskID; which = "stdout"; offset = 0;
  $("#detail").hidden = false;
  $("#d-title").textContent = taskID;
  $("#d-info").textContent = (t.name || "") + " · " + t.state + " · agent " + (((state.agents.get(id(t.agent_id)) || {}).agent_info || {}).hostname || id(t.agent_id));
  $("#d-which").textContent = which; $("#d-toggle").textContent = "show stderr";
  $("#d-log").textContent = "";
  showHistory(t);
  const base = "/agents/" + encodeURIComponent(id(t.agent_id)) + "/files/";
  try {
    const files = await (await fetch(base + "browse?path=" + encodeURIComponent(sandboxOf(t)))).json();
    $("#d-files").replaceChildren(...files.map((f) => el("li", {}, f.mode + "  " + String(f.size).padStart(8) + "  " + f.path.split("/").pop())));
  } catch (err) { $("#d-files").replaceChildren(el("li", { class: "muted" }, "sandbox unavailable")); }
  clearInterval(follow);
  const tail = async () => {
    if (openTask !== taskID) return;
    try {
      const r = await fetch(base + "read?path=" + encodeURIComponent(sandboxOf(t) + "/" + which) + "&offset=" + offset + "&length=65536");
      if (!r.ok) return;
      const chunk = await r.json();
      if (chunk.data) { $("#d-log").textContent += chunk.data; offset = chunk.offset + new TextEncoder().encode(chunk.data).length; }
    } catch (err) { console.warn(err); }
  };
  await tail();
  follow = setInterval(tail, 1000);
}

$("#close").addEventListener("click", () => { $("#detail").hidden = true; openTask = null; clearInterval(follow); });
$("#d-toggle").addEventListener("click", () => {
  which = which === "stdout" ? "stderr" : "stdout"; offset = 0; $("#d-log").textContent = "";
  $("#d-which").textContent = which; $("#d-toggle").textContent = which === "stdout" ? "show stderr" : "show stdout";
});

(async () => {
  try {
    const m = await call("GET_MASTER");
    const info = m.get_master.master_info;
    $("#master").textContent = "master " + (info.hostname || "") + " · " + info.address.ip + ":" + info.address.port + " · Mesos API " + (info.version || "");
  } catch (err) { console.warn(err); }
  render();
  // The chart moves on between events: the page samples what it knows.
  setInterval(render, 5000);
  live();
})();
