// The built-in dashboard: one page over the same REST API that curl and
// scripts use (no private endpoints), polled every few seconds. Plain
// JavaScript, no build step; uPlot draws the charts.
"use strict";

const POLL_MS = 2000;
const PLUGINS_POLL_MS = 10000;
const CHART_POINTS = 500;
const RANGES_MS = { "15m": 15 * 60e3, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };

const $ = (sel, root = document) => root.querySelector(sel);
const state = {
  items: [],
  plugins: [],
  keys: new Map(), // key name -> {plugin, description, unit, arg}
  chart: null, // {unit, lines: [{item, field, measurement, tags}]}
  plot: null,
  editing: null, // item name being edited, or null when adding
  reachable: true,
};

// ---- the API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A JSON request; on 401 asks for the token once and retries. */
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("datalogger-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    unreachable(true);
    throw new ApiError(0, "the logger cannot be reached; retrying");
  }
  unreachable(false);
  if (response.status === 401) {
    await askToken(token ? "that token was refused" : "");
    return api(method, path, body);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    /* not JSON: reported below */
  }
  if (!response.ok) throw new ApiError(response.status, (json && json.error) || `${response.status} ${text.slice(0, 200)}`);
  return json;
}

let tokenPrompt = null;
/** Shows the token dialog (once, however many requests wait for it). */
function askToken(why) {
  if (!tokenPrompt) {
    tokenPrompt = new Promise((resolve) => {
      const dialog = $("#token-dialog");
      $("#token-error").textContent = why;
      $("#token-form").onsubmit = (e) => {
        e.preventDefault();
        sessionStorage.setItem("datalogger-token", $("#token-form").token.value.trim());
        dialog.close();
        tokenPrompt = null;
        resolve();
      };
      dialog.showModal();
    });
  }
  return tokenPrompt;
}

function unreachable(down) {
  if (down === !state.reachable) return;
  state.reachable = !down;
  const banner = $("#banner");
  banner.hidden = !down;
  banner.textContent = down ? "The logger cannot be reached; retrying every few seconds." : "";
}

// ---- formatting -------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function value(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return v === null || v === undefined ? "–" : String(v);
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

/** The field of a sample that holds the item's primary value. */
function primaryField(item) {
  const fields = (item.last_sample && item.last_sample.fields) || {};
  const names = Object.keys(fields);
  return names.find((n) => fields[n] === item.last_value) || names.find((n) => typeof fields[n] === "number") || null;
}

function unitOf(item) {
  const key = state.keys.get(item.key);
  return (key && key.unit) || "";
}

// ---- overview ---------------------------------------------------------------

function renderItems() {
  const body = $("#items tbody");
  const now = Date.now();
  body.replaceChildren(
    ...state.items.map((item) => {
      const ts = item.last_sample ? Date.parse(item.last_sample.timestamp) : null;
      const stale = ts !== null && item.enabled && now - ts > 3 * item.interval * 1000 + 5000;
      const unit = unitOf(item);
      const st = item.stats || {};
      return el(
        "tr",
        { "data-item": item.name },
        el("td", {}, item.name, item.enabled ? "" : el("span", { class: "muted" }, " (disabled)")),
        el("td", {}, item.key, item.arg ? el("span", { class: "muted" }, ` ${item.arg}`) : ""),
        el("td", { class: "num latest" }, value(item.last_value), unit ? ` ${unit}` : ""),
        el("td", { class: "num" + (stale ? " stale" : "") }, ts === null ? "never" : age(now - ts) + (stale ? " (stale)" : "")),
        el("td", { class: "num" }, `${st.polls ?? 0} / ${st.errors ?? 0} / ${st.skipped_ticks ?? 0}`),
        el("td", { class: "bad last-error" }, item.last_error || ""),
        el(
          "td",
          {},
          el(
            "div",
            { class: "actions" },
            el("button", { type: "button", class: "chart", onclick: () => openChart(item) }, "Chart"),
            el("button", { type: "button", class: "edit", onclick: () => openForm(item) }, "Edit"),
            el("button", { type: "button", class: "toggle", onclick: () => toggle(item) }, item.enabled ? "Disable" : "Enable"),
            el("button", { type: "button", class: "delete", onclick: () => remove(item) }, "Delete"),
          ),
        ),
      );
    }),
  );
  $("#items-empty").hidden = state.items.length > 0;
}

function renderTable(id, rows, cells) {
  const table = $(`#${id}`);
  table.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...cells(r).map((c) => el("td", {}, c)))));
  table.closest("section").querySelector(".none").hidden = rows.length > 0;
}

function counters(obj) {
  return Object.entries(obj || {})
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`)
    .join(", ");
}

function renderHealth(h) {
  const text = `${h.status === "ok" ? "ok" : "degraded: " + (h.store.write_error || "")} · up ${duration(h.uptime_s)} · ` +
    `${h.items} items (${h.items_failing} failing) · ${h.plugins} plugins` +
    (h.plugin_load_errors ? ` (${h.plugin_load_errors} failed to load)` : "") +
    (h.plugins_compiling.length ? ` · compiling ${h.plugins_compiling.length}` : "");
  const node = $("#health");
  node.textContent = text;
  node.className = h.status === "ok" ? "ok" : "bad";
}

function renderPlugins() {
  const table = $("#plugins");
  table.tBodies[0].replaceChildren(
    ...state.plugins.map((p) => {
      const grants = Object.entries(p.grants || {})
        .filter(([, v]) => (Array.isArray(v) ? v.length : v))
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.map((g) => (typeof g === "object" ? JSON.stringify(g) : g)).join(", ") : v}`)
        .join("; ");
      return el(
        "tr",
        { "data-plugin": p.name },
        el("td", {}, p.name),
        el("td", {}, p.version || ""),
        el("td", {}, (p.keys || []).map((k) => k.name + (k.unit ? ` (${k.unit})` : "")).join(", ") ||
          (p.decoders || []).map((d) => `decoder ${d.name}`).join(", ")),
        el("td", {}, grants || "none"),
        el("td", { class: "bad" }, p.error || ""),
      );
    }),
  );
}

async function poll() {
  try {
    const [items, health, sinks, sources] = await Promise.all([
      api("GET", "/items/"),
      api("GET", "/health"),
      api("GET", "/outputs"),
      api("GET", "/sources"),
    ]);
    state.items = items;
    renderItems();
    renderHealth(health);
    renderTable("sinks", sinks, (s) => [
      `${s.name} (${s.kind} ${s.url})`,
      el("span", { class: s.state === "failing" ? "bad" : "ok" }, s.state, s.last_error ? `: ${s.last_error}` : ""),
      `${s.backlog_points} points` + (s.backlog_age_s ? `, ${age(s.backlog_age_s * 1000)} old` : ""),
      `written ${s.points_written}, rejected ${s.points_rejected ?? 0} (${s.batches_rejected} batches), dropped ${s.points_dropped}`,
    ]);
    renderTable("sources", sources, (s) => [
      s.name,
      `${s.transport}${s.decoder ? ", decoder " + s.decoder : ""}: ${s.endpoints.join(", ")}`,
      el("span", { class: s.stats.connected === false || s.stats.last_error ? "bad" : "ok" },
        s.stats.connected === false ? "disconnected" : s.stats.connected ? "connected" : "listening",
        s.stats.last_stored ? ` · last stored ${age(Date.now() - Date.parse(s.stats.last_stored))} ago` : "",
        s.stats.last_error ? ` · ${s.stats.last_error}` : ""),
      counters(s.stats),
    ]);
  } catch (e) {
    if (e.status) $("#health").textContent = e.message;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function pollPlugins() {
  try {
    await pollPluginsOnce();
  } catch (_) {
    /* the banner says so */
  } finally {
    setTimeout(pollPlugins, PLUGINS_POLL_MS);
  }
}

// ---- item actions -----------------------------------------------------------

async function toggle(item) {
  try {
    await api("PUT", `/items/${encodeURIComponent(item.name)}`, { enabled: !item.enabled });
  } catch (e) {
    alert(e.message);
  }
  poll();
}

async function remove(item) {
  if (!confirm(`Delete item ${item.name}? Its stored samples stay.`)) return;
  try {
    await api("DELETE", `/items/${encodeURIComponent(item.name)}`);
  } catch (e) {
    alert(e.message);
  }
  poll();
}

function openForm(item) {
  state.editing = item ? item.name : null;
  const form = $("#item-form");
  form.reset();
  $("#item-dialog-h").textContent = item ? `Edit item ${item.name}` : "Add item";
  const select = form.key;
  select.replaceChildren(
    ...[...state.keys.values()].map((k) =>
      el("option", { value: k.name }, `${k.name}${k.unit ? " (" + k.unit + ")" : ""} — ${k.description || ""}`),
    ),
  );
  if (item && !state.keys.has(item.key)) select.prepend(el("option", { value: item.key }, `${item.key} (no loaded plugin serves it)`));
  form.name.value = item ? item.name : "";
  form.name.readOnly = !!item;
  select.value = item ? item.key : select.options[0] ? select.options[0].value : "";
  form.arg.value = item && item.arg !== null ? item.arg : "";
  form.interval.value = item ? item.interval : 10;
  form.enabled.checked = item ? item.enabled : true;
  showErrors(null);
  describeKey();
  $("#item-dialog").showModal();
  (item ? select : form.name).focus();
}

function describeKey() {
  const key = state.keys.get($("#item-form").key.value);
  $("#key-hint").textContent = key ? `${key.description || ""}${key.unit ? " Unit: " + key.unit + "." : ""}` : "";
  const arg = key && key.arg;
  $("#arg-hint").textContent = arg ? `${arg.required ? "Required" : "Optional"}: ${arg.description}` : "This key takes no argument.";
}

/** Puts the API's message next to the field it is about. */
function showErrors(message) {
  for (const node of document.querySelectorAll("#item-form small.error")) node.textContent = "";
  if (!message) return;
  const field =
    [
      ["interval", /\binterval\b/i],
      ["arg", /"arg"|\barg\b|argument/i],
      ["key", /\bkey\b|plugin/i],
      ["name", /\bname\b|named/i],
    ].find(([, re]) => re.test(message))?.[0] || "form";
  $(`#item-form small.error[data-for="${field}"]`).textContent = message;
  const input = $("#item-form").elements[field];
  if (input) input.setAttribute("aria-invalid", "true");
}

async function saveForm(e) {
  e.preventDefault();
  const form = $("#item-form");
  for (const input of form.elements) input.removeAttribute("aria-invalid");
  const interval = Number(form.interval.value);
  const body = {
    key: form.key.value,
    arg: form.arg.value.trim() === "" ? null : form.arg.value.trim(),
    interval: Number.isFinite(interval) && form.interval.value !== "" ? interval : form.interval.value,
    enabled: form.enabled.checked,
  };
  try {
    if (state.editing) await api("PUT", `/items/${encodeURIComponent(state.editing)}`, body);
    else await api("POST", "/items/", { name: form.name.value.trim(), ...body });
    $("#item-dialog").close();
    poll();
  } catch (err) {
    showErrors(err.message);
  }
}

async function rescan() {
  const button = $("#rescan");
  button.disabled = true;
  try {
    await api("POST", "/plugins/reload");
    await pollPluginsOnce();
  } catch (e) {
    alert(e.message);
  } finally {
    button.disabled = false;
  }
}

async function pollPluginsOnce() {
  state.plugins = await api("GET", "/plugins");
  state.keys = new Map();
  for (const p of state.plugins) for (const k of p.keys || []) state.keys.set(k.name, { ...k, plugin: p.name });
  renderPlugins();
}

// ---- charts -----------------------------------------------------------------

/** Charts the item's primary field; overlays it when its unit matches the chart's. */
async function openChart(item) {
  const field = primaryField(item);
  const unit = unitOf(item);
  let series;
  try {
    series = (await api("GET", `/series?item=${encodeURIComponent(item.name)}`)).series;
  } catch (e) {
    $("#chart-note").textContent = e.message;
    return;
  }
  const numeric = series.flatMap((s) =>
    s.fields.filter((f) => f.type !== "string" && f.type !== "boolean").map((f) => ({ item: item.name, field: f.name })),
  );
  const lines = field ? [{ item: item.name, field }] : numeric.slice(0, 1);
  if (!lines.length) {
    $("#chart-panel").hidden = false;
    $("#chart-note").textContent = `${item.name} has no numeric samples stored yet.`;
    return;
  }
  const overlay = state.chart && state.chart.unit === unit && !state.chart.lines.some((l) => l.item === item.name);
  state.chart = overlay ? { unit, lines: [...state.chart.lines, ...lines], choices: [...state.chart.choices, ...numeric] }
                        : { unit, lines, choices: numeric };
  $("#chart-panel").hidden = false;
  renderFieldChoices();
  await drawChart();
  $("#chart-panel").scrollIntoView({ block: "nearest" });
}

function renderFieldChoices() {
  const span = $("#chart-fields");
  span.replaceChildren(
    ...state.chart.choices.map((c) => {
      const on = state.chart.lines.some((l) => l.item === c.item && l.field === c.field);
      const box = el("input", { type: "checkbox" });
      box.checked = on;
      box.addEventListener("change", () => {
        state.chart.lines = box.checked
          ? [...state.chart.lines, c]
          : state.chart.lines.filter((l) => !(l.item === c.item && l.field === c.field));
        drawChart();
      });
      return el("label", { class: "inline" }, box, ` ${c.item}.${c.field}`);
    }),
  );
  $("#chart-title").textContent = [...new Set(state.chart.lines.map((l) => l.item))].join(", ") +
    (state.chart.unit ? ` (${state.chart.unit})` : "");
}

function chosenRange() {
  const now = Date.now();
  const choice = $("#range").value;
  if (choice !== "custom") return [now - RANGES_MS[choice], now];
  const from = Date.parse($("#from").value), to = $("#to").value ? Date.parse($("#to").value) : now;
  return [Number.isFinite(from) ? from : now - 3600e3, to];
}

async function drawChart() {
  if (!state.chart || $("#chart-panel").hidden) return;
  const [from, to] = chosenRange();
  const answers = [];
  try {
    for (const line of state.chart.lines) {
      const q = new URLSearchParams({ item: line.item, field: line.field, from: String(Math.round(from)), to: String(Math.round(to)),
                                      points: String(CHART_POINTS) });
      const data = await api("GET", `/series/data?${q}`);
      for (const s of data.series) {
        const tags = Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(",");
        answers.push({ label: `${s.item}.${s.field}${tags ? " {" + tags + "}" : ""}`, values: s.values });
      }
    }
  } catch (e) {
    $("#chart-note").textContent = e.message;
    return;
  }
  // One x axis for every line: the union of their times, gaps as null.
  const times = [...new Set(answers.flatMap((a) => a.values.map((v) => v[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const data = [times.map((t) => t / 1000)];
  for (const a of answers) {
    const ys = new Array(times.length).fill(null);
    for (const [t, v] of a.values) ys[index.get(t)] = v;
    data.push(ys);
  }
  const points = answers.reduce((n, a) => n + a.values.filter((v) => v[1] !== null).length, 0);
  const box = $("#chart");
  box.dataset.points = String(points);
  $("#chart-note").textContent = points ? `${points} points` : "No samples in this range.";
  const palette = ["#0b62c4", "#d1495b", "#2a9d8f", "#e9a03b", "#7b5ea7", "#5c946e"];
  const opts = {
    width: Math.max(280, box.clientWidth || 800),
    height: 320,
    scales: { x: { time: true, range: [from / 1000, to / 1000] } },
    axes: [{ stroke: getComputedStyle(document.body).color }, { stroke: getComputedStyle(document.body).color,
            label: state.chart.unit || undefined }],
    series: [{}, ...answers.map((a, i) => ({ label: a.label, stroke: palette[i % palette.length], width: 1.5, spanGaps: false }))],
  };
  if (state.plot) state.plot.destroy();
  state.plot = new uPlot(opts, data, box);
}

function chartRefreshLoop() {
  const choice = $("#range").value;
  const every = choice === "15m" || choice === "1h" ? 5000 : 30000;
  if (choice !== "custom") drawChart();
  setTimeout(chartRefreshLoop, every);
}

// ---- wiring -----------------------------------------------------------------

function start() {
  $("#add-item").addEventListener("click", () => openForm(null));
  $("#rescan").addEventListener("click", rescan);
  $("#item-form").addEventListener("submit", saveForm);
  $("#item-form").key.addEventListener("change", describeKey);
  $("#item-cancel").addEventListener("click", () => $("#item-dialog").close());
  $("#range").addEventListener("change", () => {
    $("#custom-range").hidden = $("#range").value !== "custom";
    drawChart();
  });
  $("#from").addEventListener("change", drawChart);
  $("#to").addEventListener("change", drawChart);
  $("#chart-close").addEventListener("click", () => {
    $("#chart-panel").hidden = true;
    state.chart = null;
    if (state.plot) state.plot.destroy();
    state.plot = null;
  });
  window.addEventListener("resize", () => state.plot && state.plot.setSize({ width: $("#chart").clientWidth, height: 320 }));
  pollPlugins();
  poll();
  setTimeout(chartRefreshLoop, 5000);
}

start();
