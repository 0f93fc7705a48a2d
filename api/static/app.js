// The web page of the territory API (docs/api.md): load a scenario, run it, follow the solve,
// review and download the plan. Plain JavaScript, no dependencies: it works without internet.
"use strict";

const FINAL = new Set(["done", "failed", "cancelled"]);
const POLL_MS = 500;
const KEY_STORE = "territory-api-key";

const $ = (selector) => document.querySelector(selector);

const state = {
  key: sessionStorage.getItem(KEY_STORE) || "",
  job: null, // the job followed: {id, limit, points, timer, refused}
  scenario: null, // the last scenario file read: {name, data}
  reportUrl: null, // blob: URL of the report shown in the frame
};

// --- API --------------------------------------------------------------------------------------

/** fetch() with the API key; never throws: {ok, status, data, response}. */
async function api(method, path, body) {
  const headers = {};
  if (state.key) headers["X-API-Key"] = state.key;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    return { ok: false, status: 0, data: { detail: `The server could not be reached (${error.message}).`, issues: [] } };
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!response.ok && (data === null || typeof data !== "object")) {
    data = { detail: text.trim().slice(0, 500) || `${response.status} ${response.statusText}`, issues: [] };
  }
  if (response.status === 401) askForKey(data.detail);
  return { ok: response.ok, status: response.status, data, response };
}

/** A binary-safe GET with the API key: the Blob, or an error shown to the user. */
async function fetchBlob(path) {
  const headers = state.key ? { "X-API-Key": state.key } : {};
  let response;
  try {
    response = await fetch(path, { headers });
  } catch (error) {
    return { ok: false, detail: `The server could not be reached (${error.message}).` };
  }
  if (!response.ok) {
    const text = await response.text();
    let detail = text.trim().slice(0, 500) || `${response.status} ${response.statusText}`;
    try {
      detail = JSON.parse(text).detail || detail;
    } catch (_) {
      /* not JSON: keep the text */
    }
    if (response.status === 401) askForKey(detail);
    return { ok: false, status: response.status, detail };
  }
  return { ok: true, blob: await response.blob(), response };
}

// --- API key ----------------------------------------------------------------------------------

function askForKey(detail) {
  const panel = $("#key-panel");
  panel.open = true;
  panel.classList.add("needed");
  $("#key-message").textContent = state.key
    ? `The server refused this key: ${detail || "401"}`
    : `This server needs an API key. ${detail || ""}`;
  $("#api-key").focus();
}

function setKey(key) {
  state.key = key.trim();
  if (state.key) sessionStorage.setItem(KEY_STORE, state.key);
  else sessionStorage.removeItem(KEY_STORE);
  $("#key-panel").classList.remove("needed");
  $("#key-message").textContent = state.key ? "Key set for this tab." : "No key set.";
  loadJobs();
  // Follow the job in the address again (it may have been refused for want of the key).
  const id = jobInAddress();
  if (id && (!state.job || state.job.id !== id || state.job.refused)) openJob(id);
}

function jobInAddress() {
  const match = /^#job=([\w-]+)$/.exec(location.hash);
  return match ? match[1] : null;
}

// --- Errors -----------------------------------------------------------------------------------

function clearError() {
  $("#errors").hidden = true;
  $("#error-issues").replaceChildren();
}

/** Show an error with its issues ({path, message}) as a readable list. */
function showError(title, detail, issues) {
  $("#error-title").textContent = title;
  $("#error-detail").textContent = detail || "";
  const items = (issues || []).map((issue) => {
    const li = document.createElement("li");
    if (issue.path) {
      const code = document.createElement("code");
      code.textContent = issue.path;
      li.append(code);
    }
    li.append(document.createTextNode(issue.message || ""));
    return li;
  });
  $("#error-issues").replaceChildren(...items);
  $("#errors").hidden = false;
  $("#errors").scrollIntoView({ block: "nearest" });
}

function showApiError(title, result) {
  const data = result.data || {};
  const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
  const prefix = result.status ? `${result.status}: ` : "";
  showError(title, prefix + detail, Array.isArray(data.issues) ? data.issues : []);
}

// --- Loading a scenario -----------------------------------------------------------------------

function mode() {
  return $("#mode-csv").checked ? "csv" : "json";
}

function setMode(value) {
  $(value === "csv" ? "#mode-csv" : "#mode-json").checked = true;
  $("#scenario-form").classList.toggle("csv", value === "csv");
}

async function readScenarioFile() {
  const file = $("#scenario-file").files[0];
  if (!file) return { error: { path: "scenario", message: "choose a scenario JSON file" } };
  let data;
  try {
    data = JSON.parse(await file.text());
  } catch (error) {
    return { error: { path: file.name, message: `not valid JSON: ${error.message}` } };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { error: { path: file.name, message: "a scenario is a JSON object" } };
  }
  return { name: file.name, data };
}

function describe(rows, kind) {
  if (typeof rows === "string") return `${kind} from ${rows}`;
  if (Array.isArray(rows)) return `${rows.length} ${kind}`;
  return `no ${kind}`;
}

async function scenarioChosen() {
  clearError();
  const read = await readScenarioFile();
  state.scenario = read.error ? null : read;
  const summary = $("#scenario-summary");
  if (read.error) {
    summary.textContent = "";
    showError("The scenario file cannot be read", "", [read.error]);
    return;
  }
  const data = read.data;
  const names = typeof data.accounts === "string" || typeof data.csms === "string";
  if (names) setMode("csv");
  summary.textContent = `${data.name || read.name}: ${describe(data.csms, "CSMs")}, ${describe(data.accounts, "accounts")}.`;
  const limit = data.solver && data.solver.time_limit_s;
  $("#time-limit").placeholder = `${limit || 60} (the scenario's)`;
}

/** The scenario as the API takes it (rows inline), or null after showing why not. */
async function scenarioBody() {
  const read = await readScenarioFile();
  if (read.error) {
    showError("The scenario file cannot be read", "", [read.error]);
    return null;
  }
  const data = read.data;
  const accounts = $("#accounts-file").files[0];
  const csms = $("#csms-file").files[0];
  const useCsv = mode() === "csv" && (accounts || csms);
  const missing = [];
  for (const [kind, file] of [["accounts", accounts], ["csms", csms]]) {
    if (typeof data[kind] === "string" && !(mode() === "csv" && file)) {
      missing.push({ path: kind, message: `the scenario reads its ${kind} from "${data[kind]}": choose that file` });
    }
  }
  if (missing.length) {
    setMode("csv");
    showError("Files are missing", `${read.name} names CSV files; load them with it.`, missing);
    return null;
  }
  if (!useCsv) return data;
  const body = { scenario: data };
  if (accounts) body.accounts_csv = await accounts.text();
  if (csms) body.csms_csv = await csms.text();
  const result = await api("POST", "/v1/scenarios/import", body);
  if (!result.ok) {
    showApiError("The scenario or its CSV files are not valid", result);
    return null;
  }
  return result.data;
}

async function submitScenario(event) {
  event.preventDefault();
  clearError();
  const run = $("#run");
  run.disabled = true;
  try {
    const scenario = await scenarioBody();
    if (!scenario) return;
    const params = new URLSearchParams();
    const limit = $("#time-limit").value.trim();
    if (limit) params.set("time_limit_s", limit);
    if ($("#backend").value) params.set("backend", $("#backend").value);
    const query = params.toString() ? `?${params}` : "";
    const result = await api("POST", `/v1/jobs${query}`, scenario);
    if (!result.ok) {
      showApiError("The scenario was not accepted", result);
      return;
    }
    const given = Number(limit || (scenario.solver && scenario.solver.time_limit_s) || 0);
    follow(result.data, given || null);
    loadJobs();
  } finally {
    run.disabled = false;
  }
}

// --- Following a job --------------------------------------------------------------------------

function fmt(value, digits = 5) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function pct(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return `${(value * 100).toFixed(value < 0.01 ? 4 : 2)}%`;
}

function setBadge(element, status) {
  element.textContent = status || "";
  element.className = `badge ${status || ""}`;
}

function follow(job, limit) {
  if (state.job && state.job.timer) clearTimeout(state.job.timer);
  state.job = { id: job.id, limit, points: [], timer: null };
  if (location.hash !== `#job=${job.id}`) history.replaceState(null, "", `#job=${job.id}`);
  $("#job").hidden = false;
  $("#result").hidden = true;
  $("#retry").hidden = true;
  $("#job-id").textContent = job.id;
  $("#progress-chart").hidden = true;
  for (const id of ["elapsed", "incumbent", "bound", "gap"]) $(`#progress-${id}`).textContent = "–";
  showJob(job);
  if (FINAL.has(job.status)) finished(job);
  else state.job.timer = setTimeout(() => poll(job.id), POLL_MS);
}

async function poll(id) {
  if (!state.job || state.job.id !== id) return;
  const result = await api("GET", `/v1/jobs/${encodeURIComponent(id)}`);
  if (!state.job || state.job.id !== id) return;
  if (!result.ok) {
    if (result.status === 404 || result.status === 401) {
      state.job.refused = true;
      showApiError("The job cannot be followed", result);
      return;
    }
    $("#job-note").textContent = `(${result.data.detail}; trying again)`;
    state.job.timer = setTimeout(() => poll(id), POLL_MS * 4);
    return;
  }
  const job = result.data;
  showJob(job);
  if (FINAL.has(job.status)) finished(job);
  else state.job.timer = setTimeout(() => poll(id), POLL_MS);
}

function showJob(job) {
  setBadge($("#job-status"), job.status);
  const notes = { queued: "waits for a free solver process", running: "is solving" };
  $("#job-note").textContent = notes[job.status] || "";
  $("#cancel").hidden = FINAL.has(job.status);
  const p = job.progress || {};
  let elapsed = p.elapsed_s;
  if (typeof elapsed !== "number" && job.status === "running" && job.started_at) {
    elapsed = Math.max(0, (Date.now() - Date.parse(job.started_at)) / 1000); // before any report
  }
  if (typeof elapsed === "number" && Number.isFinite(elapsed)) {
    const limit = state.job && state.job.limit;
    $("#progress-elapsed").textContent = `${elapsed.toFixed(1)} s` + (limit ? ` of ${limit} s` : "");
    if (limit && !FINAL.has(job.status)) {
      $("#time-bar").hidden = false;
      $("#time-bar-fill").style.width = `${Math.min(100, (100 * elapsed) / limit)}%`;
    }
  }
  $("#progress-incumbent").textContent = fmt(p.incumbent);
  $("#progress-bound").textContent = fmt(p.bound);
  $("#progress-gap").textContent = pct(p.gap);
  if (state.job && typeof p.elapsed_s === "number") {
    const points = state.job.points;
    const last = points[points.length - 1];
    if (!last || last.t !== p.elapsed_s) points.push({ t: p.elapsed_s, incumbent: p.incumbent, bound: p.bound });
    drawProgress(points);
  }
}

/** A small line chart of the incumbent (solid) and the bound (dashed) over time. */
function drawProgress(points) {
  const svg = $("#progress-chart");
  const values = points.flatMap((p) => [p.incumbent, p.bound]).filter((v) => typeof v === "number");
  if (points.length < 2 || !values.length) return;
  const [w, h, pad] = [300, 90, 6];
  const t0 = points[0].t;
  const t1 = Math.max(points[points.length - 1].t, t0 + 1e-9);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-12) [lo, hi] = [lo - 1, hi + 1];
  const x = (t) => pad + ((w - 2 * pad) * (t - t0)) / (t1 - t0);
  const y = (v) => h - pad - ((h - 2 * pad - 12) * (v - lo)) / (hi - lo);
  const ns = "http://www.w3.org/2000/svg";
  const lines = ["incumbent", "bound"].map((key) => {
    const line = document.createElementNS(ns, "polyline");
    const xy = points.filter((p) => typeof p[key] === "number").map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`);
    line.setAttribute("points", xy.join(" "));
    line.setAttribute("class", key);
    line.setAttribute("fill", "none");
    line.setAttribute("stroke-width", "2");
    return line;
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", String(pad));
  label.setAttribute("y", "11");
  label.textContent = "incumbent — bound - -";
  svg.replaceChildren(label, ...lines);
  svg.hidden = false;
}

function finished(job) {
  $("#cancel").hidden = true;
  $("#time-bar").hidden = true;
  const notes = {
    done: "finished",
    cancelled: job.plan ? "was cancelled: the best plan found so far is kept" : "was cancelled",
    failed: "failed",
  };
  $("#job-note").textContent = notes[job.status] || "";
  $("#retry").hidden = !(job.links && job.links.retry);
  if (job.status === "failed") {
    showError("The solve failed", job.error || "No reason was given.", []);
  }
  if (job.plan) {
    // The plan's final figures (a short solve may end between two looks).
    const plan = job.plan;
    $("#progress-elapsed").textContent = `${fmt(plan.seconds, 1)} s`;
    $("#progress-incumbent").textContent = fmt(plan.objective && plan.objective.total);
    $("#progress-bound").textContent = fmt(plan.bound);
    $("#progress-gap").textContent = pct(plan.gap);
  }
  if (job.plan) showPlan(job.plan);
  else if (job.status === "done") showError("No plan", "The job ended without a plan.", []);
  loadJobs();
}

async function cancelJob() {
  if (!state.job) return;
  const button = $("#cancel");
  button.disabled = true;
  button.textContent = "Cancelling…";
  const id = state.job.id;
  const result = await api("DELETE", `/v1/jobs/${encodeURIComponent(id)}`);
  button.disabled = false;
  button.textContent = "Cancel";
  if (!result.ok && result.status !== 409) {
    showApiError("The job could not be cancelled", result);
    return;
  }
  // 409: it ended meanwhile; the next poll shows how.
  if (result.ok && state.job && state.job.id === id) {
    clearTimeout(state.job.timer);
    showJob(result.data);
    finished(result.data);
  }
}

async function retryJob() {
  if (!state.job) return;
  const result = await api("POST", `/v1/jobs/${encodeURIComponent(state.job.id)}/retry`);
  if (!result.ok) {
    showApiError("The job could not be run again", result);
    return;
  }
  clearError();
  follow(result.data, state.job.limit);
  loadJobs();
}

// --- The plan ---------------------------------------------------------------------------------

function stat(term, value) {
  const div = document.createElement("div");
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  dt.textContent = term;
  dd.textContent = value;
  div.append(dt, dd);
  return div;
}

function money(value) {
  return typeof value === "number" ? value.toLocaleString("en-US", { maximumFractionDigits: 0 }) : "–";
}

function showPlan(plan) {
  const id = plan.plan_id;
  const result = $("#result");
  result.hidden = false;
  result.dataset.planId = id;
  setBadge($("#plan-status"), plan.status);
  $("#plan-message").textContent = plan.message || "";
  const moved = (plan.assignments || []).filter((a) => a.moved);
  const objective = plan.objective || {};
  $("#plan-summary").replaceChildren(
    stat("Objective", fmt(objective.total)),
    stat("Bound", fmt(plan.bound)),
    stat("Gap", pct(plan.gap)),
    stat("Accounts moved", String(moved.length)),
    stat("ARR moved", money(moved.reduce((sum, a) => sum + (a.arr || 0), 0))),
    stat("Solver", `${plan.backend || "–"}, ${fmt(plan.seconds, 1)} s`),
  );
  const base = `/v1/plans/${encodeURIComponent(id)}`;
  const links = {
    "#download-report": [`${base}/report.html?download=1`, `territory-report-${id}.html`],
    "#download-assignments": [`${base}/assignments.csv`, `assignments-${id}.csv`],
    "#download-moves": [`${base}/assignments.csv?moves_only=true`, `moves-${id}.csv`],
    "#download-owner-updates": [`${base}/owner_updates.csv`, `owner_updates-${id}.csv`],
    "#download-books": [`${base}/books.csv`, `books-${id}.csv`],
    "#download-plan": [base, `plan-${id}.json`],
  };
  for (const [selector, [href, name]] of Object.entries(links)) {
    const a = $(selector);
    a.href = href;
    a.download = name;
  }
  $("#open-report").href = `${base}/report.html`;
  loadReport(`${base}/report.html`);
}

/** The plan's HTML report in the frame (fetched with the key, shown from a same-origin blob). */
async function loadReport(path) {
  const frame = $("#report");
  const error = $("#report-error");
  error.hidden = true;
  const result = await fetchBlob(path);
  if (!result.ok) {
    error.textContent = `The report could not be loaded: ${result.detail}`;
    error.hidden = false;
    frame.hidden = true;
    return;
  }
  if (state.reportUrl) URL.revokeObjectURL(state.reportUrl);
  state.reportUrl = URL.createObjectURL(new Blob([result.blob], { type: "text/html" }));
  frame.hidden = false;
  frame.src = state.reportUrl;
}

function fitReport() {
  const frame = $("#report");
  try {
    const doc = frame.contentDocument;
    if (doc && doc.documentElement) {
      frame.style.height = `${Math.max(480, doc.documentElement.scrollHeight + 24)}px`;
    }
  } catch (_) {
    /* not readable: keep the default height */
  }
}

/** Downloads go through fetch(): the API key is sent, and an error is shown, not saved. */
async function download(event) {
  const a = event.currentTarget;
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  if (a.id === "open-report") {
    if (!state.key) window.open(a.href, "_blank", "noopener");
    else if (state.reportUrl) window.open(state.reportUrl, "_blank");
    return;
  }
  const result = await fetchBlob(a.href);
  if (!result.ok) {
    showError(`${a.textContent} could not be downloaded`, `${result.status || ""} ${result.detail}`.trim(), []);
    return;
  }
  const url = URL.createObjectURL(result.blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = a.download || "download";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// --- Recent jobs and health -------------------------------------------------------------------

async function loadJobs() {
  const result = await api("GET", "/v1/jobs?limit=50");
  const body = $("#jobs tbody");
  if (!result.ok) {
    body.replaceChildren();
    $("#jobs-empty").textContent = `Runs cannot be listed: ${result.data.detail}`;
    $("#jobs-empty").hidden = false;
    return;
  }
  const jobs = result.data.filter((job) => job.kind === "plan").slice(0, 10);
  $("#jobs-empty").textContent = "No runs yet.";
  $("#jobs-empty").hidden = jobs.length > 0;
  body.replaceChildren(
    ...jobs.map((job) => {
      const row = document.createElement("tr");
      if (state.job && state.job.id === job.id) row.className = "current";
      const created = job.created_at ? new Date(job.created_at).toLocaleString() : "–";
      const cells = [created, job.id.slice(0, 8), ""].map((text) => {
        const td = document.createElement("td");
        td.textContent = text;
        return td;
      });
      const badge = document.createElement("span");
      setBadge(badge, job.status);
      cells[2].append(badge);
      const open = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = "open";
      button.addEventListener("click", () => openJob(job.id));
      open.append(button);
      row.append(...cells, open);
      return row;
    }),
  );
}

async function openJob(id) {
  clearError();
  const result = await api("GET", `/v1/jobs/${encodeURIComponent(id)}`);
  if (!result.ok) {
    showApiError("The job cannot be shown", result);
    return;
  }
  follow(result.data, null);
  loadJobs();
}

async function loadHealth() {
  const result = await api("GET", "/health");
  const health = $("#health");
  if (!result.ok) {
    health.textContent = "server unreachable";
    return;
  }
  const h = result.data;
  health.textContent = `${h.workers} solver process${h.workers === 1 ? "" : "es"} · ${h.queued} queued · ${h.database}`;
}

// --- Start ------------------------------------------------------------------------------------

function start() {
  $("#scenario-form").addEventListener("submit", submitScenario);
  $("#scenario-file").addEventListener("change", scenarioChosen);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => setMode(mode()));
  }
  setMode(mode());
  $("#cancel").addEventListener("click", cancelJob);
  $("#retry").addEventListener("click", retryJob);
  $("#refresh-jobs").addEventListener("click", loadJobs);
  $("#report").addEventListener("load", fitReport);
  for (const a of document.querySelectorAll("#downloads a")) a.addEventListener("click", download);
  $("#api-key").value = state.key;
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey($("#api-key").value);
  });
  $("#key-clear").addEventListener("click", () => {
    $("#api-key").value = "";
    setKey("");
  });
  loadHealth();
  loadJobs();
  window.addEventListener("resize", fitReport);
  const id = jobInAddress();
  if (id) openJob(id);
}

start();
