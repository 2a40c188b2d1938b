/* campus-twin web UI: plain JS, no libraries, no build step. Chinese first, English alongside. */
"use strict";
const API = "/api/v1";
const SVGNS = "http://www.w3.org/2000/svg";
const REFRESH_MS = 5000;
let timer = null;
let quantities = [];

function h(tag, attrs, ...kids) {
  const el = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const bi = (label) => (label ? [label.zh, " ", h("small", {}, label.en)] : ["—"]);
const fmt = (v, d = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(d));
// Times are shown in the API's timezone (the ISO strings carry its offset), not the browser's.
const tstr = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "—");
function offsetMin(iso) {
  const m = /([+-])(\d\d):(\d\d)$/.exec(iso || "");
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}
const statusText = { ok: "达标 OK", fail: "不达标 Fail", unknown: "数据不足 n/a" };

function token() { return localStorage.getItem("ct_token"); }
function showLogin(msg) {
  document.getElementById("view").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = msg || "";
}
async function api(path, params) {
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const r = await fetch(url, { headers: { Authorization: "Bearer " + token() } });
  if (r.status === 401) { localStorage.removeItem("ct_token"); showLogin("令牌无效 Invalid token"); throw new Error("unauthorized"); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.detail || r.statusText);
  return body;
}
function setView(...kids) {
  const v = document.getElementById("view");
  v.hidden = false;
  document.getElementById("login").hidden = true;
  v.replaceChildren(...kids.flat());
}
function crumbs(...links) { return h("div", { class: "crumbs" }, links.map((l, i) => [i ? " › " : "", l])); }

// ---------------------------------------------------------------- pages
async function pageCampuses() {
  const page = await api("/campuses");
  setView(h("h1", {}, "校园 ", h("small", {}, "Campuses")),
    h("div", { class: "cards" }, page.items.map((c) => h("a", { class: "card", href: `#/campus/${encodeURIComponent(c.id)}` },
      h("strong", {}, c.name), h("div", { class: "muted" }, `${c.buildings} 栋楼 buildings · ${c.rooms} 房间 rooms`)))));
}

async function pageCampus(id) {
  const [c, b] = await Promise.all([api(`/campuses/${encodeURIComponent(id)}`), api("/buildings", { campus: id })]);
  setView(crumbs(h("a", { href: "#/" }, "校园 Campuses")), h("h1", {}, c.name),
    h("p", {}, h("a", { href: `#/indicators/${encodeURIComponent(id)}` }, "指标 Indicators")),
    h("div", { class: "cards" }, b.items.map((x) => h("a", { class: "card", href: `#/building/${encodeURIComponent(x.id)}` },
      h("strong", {}, x.name || x.id), h("div", { class: "muted" }, `${x.storeys} 层 storeys · ${x.rooms} 房间 rooms`)))));
}

async function pageBuilding(id) {
  const [b, s] = await Promise.all([api(`/buildings/${encodeURIComponent(id)}`), api("/storeys", { building: id })]);
  setView(crumbs(h("a", { href: "#/" }, "校园 Campuses"), h("a", { href: `#/campus/${encodeURIComponent(b.campus)}` }, b.campus)),
    h("h1", {}, b.name || b.id),
    h("div", { class: "cards" }, s.items.map((x) => h("a", { class: "card storey-link", href: `#/storey/${encodeURIComponent(x.id)}` },
      h("strong", {}, x.name || x.id), h("div", { class: "muted" }, `${x.rooms} 房间 rooms`)))));
}

const SCALES = { co2: [400, 1500, false], temperature: [16, 30, false], humidity: [30, 80, false], illuminance: [0, 600, true],
  pm25: [0, 75, false], pm10: [0, 150, false], noise: [30, 70, false], tvoc: [0, 0.6, false], hcho: [0, 0.1, false] };
function rampColor(t) { // 0 = good (green) … 1 = bad (red)
  t = Math.max(0, Math.min(1, t));
  const hue = 120 - 120 * t;
  return `hsl(${hue}, 65%, 55%)`;
}
function colorFor(room, q, range) {
  if (!q) return { ok: "#4caf6a", fail: "#e05a47", unknown: "#c3cbd3" }[room.status];
  if (room.value === null) return "#c3cbd3";
  const [lo, hi, invert] = range;
  const t = (room.value - lo) / (hi - lo || 1);
  return rampColor(invert ? 1 - t : t);
}

async function pageStorey(id) {
  const [st, plan] = await Promise.all([api(`/storeys/${encodeURIComponent(id)}`), api(`/storeys/${encodeURIComponent(id)}/floorplan`)]);
  const select = h("select", { id: "colour-by" }, h("option", { value: "" }, "合规 Compliance"),
    quantities.filter((q) => q.quantity !== "status").map((q) => h("option", { value: q.quantity }, `${q.label.zh} ${q.label.en}`)));
  select.value = sessionStorage.getItem("ct_colour") || "";
  const [x0, y0, x1, y1] = plan.bounds;
  const pad = 1;
  const svg = h("svg:svg", { id: "plan", viewBox: `${x0 - pad} ${-y1 - pad} ${x1 - x0 + 2 * pad} ${y1 - y0 + 2 * pad}` });
  const shapes = {};
  for (const r of plan.rooms) {
    const pts = r.polygon.map(([x, y]) => `${x},${-y}`).join(" ");
    const poly = h("svg:polygon", { class: "room", points: pts, "data-room": r.id, fill: "#c3cbd3", onclick: () => { location.hash = `#/room/${encodeURIComponent(r.id)}`; } },
      h("svg:title", {}, `${r.number} ${r.name || ""}`));
    const cx = r.polygon.reduce((a, p) => a + p[0], 0) / r.polygon.length;
    const cy = r.polygon.reduce((a, p) => a + p[1], 0) / r.polygon.length;
    const label = h("svg:text", { x: cx, y: -cy, "text-anchor": "middle" }, r.number);
    const value = h("svg:text", { x: cx, y: -cy + 1.1, "text-anchor": "middle" }, "");
    shapes[r.id] = { poly, value };
    svg.append(poly, label, value);
  }
  const legend = h("div", { class: "legend", id: "legend" });
  const stamp = h("span", { class: "muted", id: "stamp" });
  setView(crumbs(h("a", { href: "#/" }, "校园 Campuses"), h("a", { href: `#/campus/${encodeURIComponent(st.campus)}` }, st.campus),
      h("a", { href: `#/building/${encodeURIComponent(st.building)}` }, "楼栋 Building")),
    h("h1", {}, `${st.name || st.id} `, h("small", {}, "平面图 Floor plan")),
    h("div", { class: "toolbar" }, h("label", {}, "着色 Colour by ", select), stamp),
    h("div", { class: "plan-wrap" }, svg, legend));
  async function refresh() {
    const q = select.value;
    const live = await api(`/storeys/${encodeURIComponent(id)}/live`, { quantity: q || undefined });
    const range = SCALES[q] || autoRange(live.rooms);
    for (const r of live.rooms) {
      const s = shapes[r.id];
      if (!s) continue;
      s.poly.setAttribute("fill", colorFor(r, q, range));
      s.poly.setAttribute("data-status", r.status);
      s.value.textContent = q ? (r.value === null ? "—" : fmt(r.value, q === "co2" || q === "illuminance" ? 0 : 1)) : statusText[r.status];
    }
    drawLegend(legend, q, live, range);
    stamp.textContent = `更新 Updated ${tstr(live.time)}`;
  }
  select.addEventListener("change", () => { sessionStorage.setItem("ct_colour", select.value); refresh(); });
  await refresh();
  timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
}
function autoRange(rooms) {
  const v = rooms.map((r) => r.value).filter((x) => x !== null);
  return v.length ? [Math.min(...v), Math.max(...v) + 1e-9, false] : [0, 1, false];
}
function drawLegend(el, q, live, range) {
  if (!q) {
    el.replaceChildren(h("strong", {}, "合规 Compliance"), ...["ok", "fail", "unknown"].map((s) => h("div", {},
      h("span", { class: "swatch", style: `background:${colorFor({ status: s }, "", null)}` }), statusText[s])));
    return;
  }
  const [lo, hi, invert] = range;
  const steps = [0, 0.25, 0.5, 0.75, 1].map((t) => lo + t * (hi - lo));
  el.replaceChildren(h("strong", {}, ...bi(live.label), ` (${live.unit})`),
    ...steps.map((v) => h("div", {}, h("span", { class: "swatch", style: `background:${rampColor(invert ? 1 - (v - lo) / (hi - lo) : (v - lo) / (hi - lo))}` }), fmt(v, 0))),
    h("div", {}, h("span", { class: "swatch", style: "background:#c3cbd3" }), "无数据 No data"));
}

async function pageRoom(id) {
  const s = await api(`/rooms/${encodeURIComponent(id)}/status`);
  const r = s.room;
  const qs = [...new Set(s.values.map((v) => v.quantity))];
  const qSel = h("select", { id: "chart-quantity" }, qs.map((q) => {
    const v = s.values.find((x) => x.quantity === q);
    return h("option", { value: q }, `${v.label.zh} ${v.label.en}`);
  }));
  if (qs.includes("co2")) qSel.value = "co2";
  const span = h("select", { id: "chart-span" }, h("option", { value: "1d" }, "最近一天 Last day"), h("option", { value: "7d" }, "最近一周 Last week"));
  const chart = h("div", { id: "chart-box" });
  setView(crumbs(h("a", { href: "#/" }, "校园 Campuses"), h("a", { href: `#/campus/${encodeURIComponent(r.campus)}` }, r.campus),
      r.storey ? h("a", { href: `#/storey/${encodeURIComponent(r.storey)}` }, "平面图 Floor plan") : null),
    h("h1", {}, `${r.number} `, ...bi(r.type_label)),
    h("p", { class: "muted" }, `面积 Area ${fmt(r.area_m2)} m² · 在室 Occupied: ${s.occupied === null ? "未知 unknown" : s.occupied ? "是 yes" : "否 no"}`,
      s.occupancy_source ? ` (${s.occupancy_source})` : "", ` · 合规 Compliance: `, h("span", { class: s.compliance }, statusText[s.compliance])),
    h("h2", {}, "当前读数 ", h("small", {}, "Latest values")),
    h("table", { id: "values" }, h("tr", {}, ["量 Quantity", "值 Value", "时间 Time", "设备 Device"].map((t) => h("th", {}, t))),
      s.values.map((v) => h("tr", { class: v.stale ? "stale" : "" }, h("td", {}, ...bi(v.label)), h("td", {}, `${fmt(v.value)} ${v.unit}`),
        h("td", {}, tstr(v.time), v.stale ? " (过期 stale)" : ""), h("td", {}, `${v.device}/${v.point}`)))),
    h("h2", {}, "标准符合性 ", h("small", {}, "Compliance")),
    h("table", { id: "verdicts" }, h("tr", {}, ["要求 Requirement", "结果 Result", "依据 Basis", "标准 Standard"].map((t) => h("th", {}, t))),
      s.verdicts.map((v) => h("tr", {}, h("td", {}, ...bi(v.rule_label)), h("td", { class: v.status }, `${statusText[v.status]} ${fmt(v.value)}`),
        h("td", {}, v.basis), h("td", {}, `${v.standard} §${v.clause}`)))),
    h("h2", {}, "历史曲线 ", h("small", {}, "History")),
    h("div", { class: "toolbar" }, qSel, span), chart);
  async function draw() {
    const days = span.value === "7d" ? 7 : 1;
    const end = new Date(s.time);
    const start = new Date(end.getTime() - days * 86400e3);
    const hist = await api(`/rooms/${encodeURIComponent(id)}/history`, { quantity: qSel.value, from: start.toISOString(), to: end.toISOString(), every: days > 1 ? "1h" : "10m" });
    chart.replaceChildren(drawChart(hist, start.getTime(), end.getTime()));
  }
  qSel.addEventListener("change", draw);
  span.addEventListener("change", draw);
  if (qs.length) await draw(); else chart.append(h("p", { class: "muted" }, "无数据 No data"));
}

function drawChart(hist, t0, t1) {
  const W = 900, H = 280, L = 56, R = 12, T = 16, B = 28;
  const svg = h("svg:svg", { class: "chart", id: "room-chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  const pts = hist.series.flatMap((s) => s.points.filter((p) => p.value !== null));
  if (!pts.length) { svg.append(h("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "无数据 No data")); return svg; }
  let lo = Math.min(...pts.map((p) => p.value)), hi = Math.max(...pts.map((p) => p.value));
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => H - B - ((v - lo) / (hi - lo)) * (H - T - B);
  svg.append(h("svg:line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }), h("svg:line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  for (let i = 0; i <= 4; i++) {
    const v = lo + (i / 4) * (hi - lo);
    svg.append(h("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v, hi - lo > 20 ? 0 : 1)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (i / 4) * (t1 - t0);
    const local = new Date(t + offsetMin(hist.end) * 60000).toISOString(); // shifted: read as API-local
    svg.append(h("svg:text", { x: x(t), y: H - 8, "text-anchor": "middle" }, `${local.slice(5, 10)} ${local.slice(11, 16)}`));
  }
  const colours = ["#1f6fb2", "#e67e22", "#8e44ad", "#16a085"];
  hist.series.forEach((s, i) => {
    const d = s.points.filter((p) => p.value !== null).map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
    svg.append(h("svg:polyline", { class: "line", points: d, stroke: colours[i % colours.length] }, h("svg:title", {}, `${s.device}/${s.point}`)));
  });
  svg.append(h("svg:text", { x: L + 4, y: T + 2 }, `${hist.label.zh} ${hist.label.en} (${hist.series[0] ? hist.series[0].unit : ""})`));
  return svg;
}

async function pageHealth() {
  const [d, a] = await Promise.all([api("/devices", { limit: 1000 }), api("/agents")]);
  setView(h("h1", {}, "设备与网关健康 ", h("small", {}, "Device & gateway health")),
    h("h2", {}, "网关 ", h("small", {}, "Gateways")),
    h("table", { id: "agents" }, h("tr", {}, ["网关 Gateway", "状态 State", "最近数据 Last seen", "队列 Queue", "丢弃 Dropped", "隔离 Quarantined", "设备 Devices"].map((t) => h("th", {}, t))),
      a.items.map((x) => h("tr", {}, h("td", {}, `${x.site}/${x.id}`), h("td", {}, x.state), h("td", {}, tstr(x.last_seen)),
        h("td", {}, x.queue_depth ?? "—"), h("td", {}, x.dropped_total ?? "—"), h("td", {}, x.quarantined_total ?? "—"), h("td", {}, x.devices)))),
    h("h2", {}, "设备 ", h("small", {}, `Devices (${d.total})`)),
    h("table", { id: "devices" }, h("tr", {}, ["设备 Device", "房间 Room", "最近数据 Last seen", "质量 Quality", "测点 Points"].map((t) => h("th", {}, t))),
      d.items.map((x) => h("tr", { class: x.stale ? "stale" : "" }, h("td", {}, x.id), h("td", {}, x.room ? h("a", { href: `#/room/${encodeURIComponent(x.room)}` }, x.room_number) : "未绑定 unbound"),
        h("td", {}, x.last_seen ? tstr(x.last_seen) : "从未 never", x.stale ? " (过期 stale)" : ""), h("td", {}, x.quality || "—"), h("td", {}, x.points.join(", "))))));
}

async function pageAlerts() {
  const a = await api("/alerts", { limit: 200 });
  setView(h("h1", {}, "超标告警 ", h("small", {}, "Threshold breaches (24 h)")),
    h("table", { id: "alerts" }, h("tr", {}, ["房间 Room", "量 Quantity", "要求 Requirement", "开始 Start", "结束 End", "最差 Worst", "标准 Standard"].map((t) => h("th", {}, t))),
      a.items.map((x) => h("tr", {}, h("td", {}, h("a", { href: `#/room/${encodeURIComponent(x.room)}` }, x.room_number)), h("td", {}, ...bi(x.label)), h("td", {}, x.requirement),
        h("td", {}, tstr(x.start)), h("td", {}, x.end ? tstr(x.end) : "持续中 ongoing"),
        h("td", { class: "fail" }, fmt(x.worst)), h("td", {}, `${x.standard} §${x.clause || ""}`)))));
}

async function pageIndicators(id) {
  const d = await api(`/campuses/${encodeURIComponent(id)}/indicators`);
  setView(crumbs(h("a", { href: "#/" }, "校园 Campuses"), h("a", { href: `#/campus/${encodeURIComponent(id)}` }, id)),
    h("h1", {}, "指标 ", h("small", {}, "Indicators")),
    h("table", { id: "indicators" }, h("tr", {}, ["指标 Indicator", "值 Value", "单位 Unit"].map((t) => h("th", {}, t))),
      d.indicators.map((x) => h("tr", {}, h("td", {}, ...bi(x.label)), h("td", {}, fmt(x.value, 2)), h("td", {}, x.unit || "")))));
}

// ---------------------------------------------------------------- router
const ROUTES = [[/^#\/campus\/(.+)$/, pageCampus], [/^#\/building\/(.+)$/, pageBuilding], [/^#\/storey\/(.+)$/, pageStorey],
  [/^#\/room\/(.+)$/, pageRoom], [/^#\/health$/, pageHealth], [/^#\/alerts$/, pageAlerts], [/^#\/indicators\/(.+)$/, pageIndicators]];
async function route() {
  if (timer) { clearInterval(timer); timer = null; }
  if (!token()) { showLogin(); return; }
  try {
    if (!quantities.length) quantities = await api("/quantities");
    for (const [re, fn] of ROUTES) {
      const m = location.hash.match(re);
      if (m) { await fn(...m.slice(1).map(decodeURIComponent)); return; }
    }
    await pageCampuses();
  } catch (e) {
    if (e.message !== "unauthorized") setView(h("p", { class: "error" }, `出错 Error: ${e.message}`));
  }
}
document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem("ct_token", document.getElementById("token").value.trim());
  route();
});
document.getElementById("logout").addEventListener("click", () => { localStorage.removeItem("ct_token"); showLogin(); });
window.addEventListener("hashchange", route);
route();
