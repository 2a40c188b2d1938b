/* campus-twin web UI: plain JS, no libraries, no build step, no inline script or style (CSP).
   Chinese first, English alongside. Signed in through an HttpOnly session cookie; the CSRF
   token for writes lives only in this page's memory. Every page polls its data (ETags make an
   unchanged poll a 304) and shows when it was last updated. */
"use strict";
const API = "/api/v1";
const SVGNS = "http://www.w3.org/2000/svg";
const LIVE_MS = 5000;
let timers = [];
let quantities = [];
let campusNames = {};
let me = null; // {name, role, csrf}
const etagCache = new Map(); // url → {etag, body}

function h(tag, attrs, ...kids) {
  const el = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
// replaceChildren without the null/false placeholders that conditional children leave
function fill(el, ...kids) { el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false)); }
const bi = (label) => (label ? [label.zh, " ", h("small", {}, label.en)] : ["—"]);
const biText = (zh, en) => [zh, " ", h("small", {}, en)];
const enc = encodeURIComponent;

// ---------------------------------------------------------------- formatting (one place)
// Display decimals come from the sensor catalogue through /quantities (one owner: its resolution).
const HIDDEN_UNITS = new Set(["1", "bool", "count", ""]);
function decimalsFor(q) {
  const meta = quantities.find((x) => x.quantity === q);
  return meta && Number.isInteger(meta.decimals) ? meta.decimals : 1;
}
function unitText(unit) { return !unit || HIDDEN_UNITS.has(unit) ? "" : unit; }
function fmtValue(v, q, unit) {
  if (v === null || v === undefined) return "—";
  if (q === "presence" || unit === "bool") return v >= 0.5 ? "有人 yes" : "无人 no";
  if (q === "status") return v >= 0.5 ? "开 on" : "关 off";
  const u = unitText(unit);
  const n = Number(v).toLocaleString("zh-CN", { minimumFractionDigits: decimalsFor(q), maximumFractionDigits: decimalsFor(q) });
  return u ? `${n} ${u}` : n;
}
// A breach's measured value never rounds onto its limit (21.96 under a 22 floor reads 21.96, not
// 22.0): the same rule as contract.quantities.format_against, which writes the reasons' text.
function fmtAgainst(v, q, unit, limit) {
  const lim = Array.isArray(limit) ? (v < limit[0] ? limit[0] : limit[1]) : limit;
  const base = decimalsFor(q);
  let d = base;
  while (d < base + 3 && v !== lim && Number(Number(v).toFixed(d)) === lim) d += 1;
  const u = unitText(unit);
  const n = Number(v).toLocaleString("zh-CN", { minimumFractionDigits: d, maximumFractionDigits: d });
  return u ? `${n} ${u}` : n;
}
function fmtNumber(v, d) {
  return v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN", { maximumFractionDigits: d });
}
// Times are shown in the API's timezone (ISO strings carry its offset), not the browser's.
const tstr = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "—");
const hhmm = (iso) => (iso ? iso.slice(11, 19) : "—");
function offsetMin(iso) {
  const m = /([+-])(\d\d):(\d\d)$/.exec(iso || "");
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

// The standards engine's statuses; the older ok/fail/unknown vocabulary maps onto them.
const STATUS = {
  compliant: { zh: "达标", en: "Compliant", cls: "ok", fill: "#4caf6a" },
  non_compliant: { zh: "不达标", en: "Non-compliant", cls: "fail", fill: "#e05a47" },
  not_applicable: { zh: "不适用", en: "Not applicable now", cls: "na", fill: "url(#hatch-na)" },
  insufficient_data: { zh: "数据不足", en: "Too little data", cls: "unknown", fill: "#c3cbd3" },
  no_sensor: { zh: "无传感器", en: "No sensor", cls: "nosensor", fill: "#ffffff" },
  no_calendar: { zh: "无校历", en: "No school calendar", cls: "unknown", fill: "#c3cbd3" },
};
const LEGACY = { ok: "compliant", fail: "non_compliant", unknown: "insufficient_data" };
const STATUS_ORDER = ["non_compliant", "insufficient_data", "no_calendar", "not_applicable", "no_sensor", "compliant"];
const normStatus = (s) => (STATUS[s] ? s : LEGACY[s] || "insufficient_data");
function statusLabel(s) { const x = STATUS[normStatus(s)]; return biText(x.zh, x.en); }
function reasonOf(obj) {
  if (obj && obj.reason && typeof obj.reason === "object") return obj.reason;
  if (obj && typeof obj.reason === "string" && obj.reason) return { zh: obj.reason, en: "" };
  const s = normStatus(obj && obj.status);
  if (s === "insufficient_data") return { zh: "数据不足", en: "too little data" };
  if (s === "no_sensor") return { zh: "无该位置传感器", en: "no sensor of that role" };
  if (s === "not_applicable") return { zh: "不在上课时间", en: "not in class" };
  return null;
}
const reasonText = (r) => (r ? `${r.zh}${r.en ? " / " + r.en : ""}` : "");
const OCC_SOURCE = { sensor: "传感器 sensor", timetable: "课表 timetable" };
const AGENT_STATE = { online: "在线 online", offline: "离线 offline", health: "在线 online", unknown: "未知 unknown" };
const QUALITY = { good: "良好 good", uncertain: "存疑 uncertain", bad: "坏值 bad" };
const BASIS = { latest: "最新值 latest", "trailing 1h mean": "近1小时均值 1 h mean", instant: "瞬时值 instant" };
const SEVERITY = { severe: "严重 severe", warning: "一般 warning" };
// Commissioning (binding devices to rooms): every label in one table, Chinese first.
const LABELS = {
  binding: ["设备绑定", "Binding devices to rooms"],
  unbound: ["未绑定设备", "Devices reporting without a room"],
  roomsWithout: ["无传感器的房间", "Rooms without a sensor"],
  audit: ["绑定记录", "Binding log"],
  device: ["设备", "Device"],
  points: ["测点", "Points"],
  lastSeen: ["最近数据", "Last seen"],
  gateway: ["网关", "Gateway"],
  room: ["房间", "Room"],
  roomType: ["类型", "Type"],
  assign: ["分配房间", "Assign a room"],
  bind: ["绑定", "Bind"],
  bindHere: ["绑定到此房间", "Bind to this room"],
  chooseDevice: ["选择未绑定设备", "Choose an unbound device"],
  searchRoom: ["搜索房间号或名称", "Search room number or name"],
  onPlan: ["在平面图上绑定", "Bind on the plan"],
  sensors: ["传感器", "Sensors"],
  noneUnbound: ["没有未绑定的设备", "No device is waiting for a room"],
  noneWithout: ["每个房间都有传感器", "Every room has a sensor"],
  noAudit: ["尚无绑定记录", "No binding yet"],
  time: ["时间", "Time"],
  who: ["操作人", "By"],
  from: ["原房间", "From"],
  to: ["新房间", "To"],
  bound: ["已绑定", "Bound"],
  unknownRoom: ["找不到该房间", "No such room"],
  adminOnly: ["仅管理员可绑定设备", "Only admins bind devices"],
  pickDevice: ["为设备选择房间：点击平面图上的房间", "Choose a room for the device: click it on the plan"],
  unboundShort: ["未绑定", "unbound"],
};
const lt = (k) => `${LABELS[k][0]} ${LABELS[k][1]}`;
const lh = (k) => biText(LABELS[k][0], LABELS[k][1]);
const isAdmin = () => !!(me && me.role === "admin");
// One assignment for every path (plan, search): PUT the binding, return its audit line.
async function assignRoom(site, device, room) {
  const r = await api(`/admin/bindings/${enc(site)}/${enc(device)}`, null, { method: "PUT", body: { room } });
  etagCache.clear(); // plans, rooms and lists changed
  return r;
}
function auditText(a) {
  return `${LABELS.bound[0]} ${a.device}${a.point ? " · " + a.point : ""} → ${a.room_number}` +
    `${a.previous_room_number ? `（${LABELS.from[0]} ${a.previous_room_number}）` : ""} · ${a.by} · ${tstr(a.at)} ${LABELS.bound[1]}`;
}
const basisText = (b) => BASIS[b] || (b ? b.replace(/trailing (\d+)h mean/, "近$1小时均值 $1 h mean") : "—");

// ---------------------------------------------------------------- API access
async function api(path, params, opts) {
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const method = (opts && opts.method) || "GET";
  const headers = { Accept: "application/json" };
  const cached = method === "GET" ? etagCache.get(url.href) : null;
  if (cached) headers["If-None-Match"] = cached.etag;
  if (method !== "GET" && me && me.csrf) headers["X-CSRF-Token"] = me.csrf;
  if (opts && opts.body) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin", cache: "no-store", body: opts && opts.body ? JSON.stringify(opts.body) : undefined });
  if (r.status === 304 && cached) return cached.body;
  if (r.status === 401 && !(opts && opts.quiet401)) { me = null; showLogin("请重新登录 Please sign in again"); throw new Error("unauthorized"); }
  if (r.status === 204) return null;
  const body = await r.json();
  if (!r.ok) { const e = new Error(body.detail || r.statusText); e.status = r.status; throw e; }
  const tag = r.headers.get("ETag");
  if (tag && method === "GET") {
    if (etagCache.size > 200) etagCache.clear();
    etagCache.set(url.href, { etag: tag, body });
  }
  return body;
}
function showLogin(msg) {
  stopTimers();
  document.getElementById("view").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("whoami").textContent = "";
  document.getElementById("nav-bind").hidden = true;
  document.getElementById("login-error").textContent = msg || "";
}
function setView(...kids) {
  const v = document.getElementById("view");
  v.hidden = false;
  document.getElementById("login").hidden = true;
  fill(v, ...kids.flat());
}
function crumbs(...links) { return h("nav", { class: "crumbs", "aria-label": "位置 Breadcrumb" }, links.filter(Boolean).map((l, i) => [i ? " › " : "", l])); }
const campusCrumb = (id) => h("a", { href: `#/campus/${enc(id)}` }, campusNames[id] || id);
const homeCrumb = () => h("a", { href: "#/" }, "首页 Home");
function stopTimers() { for (const t of timers) clearInterval(t); timers = []; }
function every(ms, fn) { timers.push(setInterval(() => fn().catch(() => {}), ms)); }
function stamp(id) { return h("span", { class: "stamp muted", id: id || "stamp" }); }
let apiOffsetMin = null; // the campus's UTC offset, learned from the API's own timestamps
function apiNow() {
  const off = apiOffsetMin === null ? -new Date().getTimezoneOffset() : apiOffsetMin;
  return new Date(Date.now() + off * 60000).toISOString().slice(11, 19);
}
function touch(el, iso) {
  if (iso) apiOffsetMin = offsetMin(iso);
  if (el) el.textContent = `更新于 Updated ${iso ? hhmm(iso) : apiNow()}`;
}

// Responsive tables: each cell carries its column name, shown on phones where rows become cards.
function table(id, heads, rows) {
  return h("table", { id, class: "rtable" }, h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", cells.attrs || {}, cells.map((c, i) => h("td", { "data-label": heads[i] }, h("span", { class: "cell" }, c)))))));
}

// ---------------------------------------------------------------- roll-ups
function rollupChips(r, extra) {
  if (!r) return h("div", { class: "chips muted" }, "…");
  const chips = STATUS_ORDER.filter((s) => r.by_status[s] || Object.keys(LEGACY).some((k) => LEGACY[k] === s && r.by_status[k]))
    .map((s) => {
      const n = (r.by_status[s] || 0) + Object.entries(LEGACY).filter(([k, v]) => v === s).reduce((a, [k]) => a + (r.by_status[k] || 0), 0);
      return h("span", { class: `chip ${STATUS[s].cls}`, "data-status": s }, `${STATUS[s].zh} ${n}`);
    });
  const alerts = r.open_alerts === null ? h("span", { class: "chip" }, "告警 —")
    : h("span", { class: `chip ${r.open_alerts ? "fail" : "ok"}`, "data-role": "open-alerts" }, `进行中告警 ${r.open_alerts} open alerts`);
  return h("div", { class: "chips rollup" }, chips, alerts, extra || null);
}
async function rollupOf(campus) { return api(`/campuses/${enc(campus)}/rollup`); }

// ---------------------------------------------------------------- pages
async function pageCampuses() {
  const page = await api("/campuses");
  const slots = {};
  const live = stamp();
  setView(h("h1", {}, "校园 ", h("small", {}, "Campuses")), live,
    h("div", { class: "cards" }, page.items.map((c) => h("a", { class: "card", href: `#/campus/${enc(c.id)}` },
      h("strong", {}, c.name), h("div", { class: "muted" }, `${c.buildings} 栋楼 buildings · ${c.rooms} 间房 rooms`),
      slots[c.id] = h("div", {}, rollupChips(null))))));
  async function refresh() {
    for (const c of page.items) {
      const r = await rollupOf(c.id);
      const problems = c.problems ? h("span", { class: "chip warn", "data-role": "problems" }, `模型问题 ${c.problems} model problems`) : null;
      slots[c.id].replaceChildren(rollupChips(r.total, problems));
      touch(live, r.time);
    }
  }
  await refresh();
  every(LIVE_MS * 3, refresh);
}

async function pageCampus(id) {
  const [c, b] = await Promise.all([api(`/campuses/${enc(id)}`), api("/buildings", { campus: id, limit: 1000 })]);
  const slots = {};
  const total = h("div", {});
  const live = stamp();
  setView(crumbs(homeCrumb(), campusCrumb(id)), h("h1", {}, c.name), live, total,
    h("p", {}, h("a", { href: `#/indicators/${enc(id)}` }, "指标 Indicators"), " · ", h("a", { href: `#/alerts?campus=${enc(id)}` }, "告警 Alerts")),
    h("div", { class: "cards" }, b.items.map((x) => h("a", { class: "card", href: `#/building/${enc(x.id)}` },
      h("strong", {}, x.name || "楼栋 Building"), h("div", { class: "muted" }, `${x.storeys} 层 storeys · ${x.rooms} 间房 rooms`),
      slots[x.id] = h("div", {}, rollupChips(null))))));
  async function refresh() {
    const r = await rollupOf(id);
    const problems = r.problems ? h("span", { class: "chip warn", "data-role": "problems" }, `模型问题 ${r.problems} model problems`) : null;
    fill(total, rollupChips(r.total, problems));
    for (const x of b.items) slots[x.id].replaceChildren(rollupChips(r.buildings[x.id]));
    touch(live, r.time);
  }
  await refresh();
  every(LIVE_MS * 3, refresh);
}

async function pageBuilding(id) {
  const [b, s] = await Promise.all([api(`/buildings/${enc(id)}`), api("/storeys", { building: id, limit: 1000 })]);
  const slots = {};
  const total = h("div", {});
  const live = stamp();
  setView(crumbs(homeCrumb(), campusCrumb(b.campus), h("span", {}, b.name || "楼栋 Building")), h("h1", {}, b.name || "楼栋 Building"), live, total,
    h("div", { class: "cards" }, s.items.map((x) => h("a", { class: "card storey-link", href: `#/storey/${enc(x.id)}` },
      h("strong", {}, x.name || "楼层 Storey"), h("div", { class: "muted" }, `${x.rooms} 间房 rooms`),
      slots[x.id] = h("div", {}, rollupChips(null))))));
  async function refresh() {
    const r = await rollupOf(b.campus);
    fill(total, rollupChips(r.buildings[id]));
    for (const x of s.items) slots[x.id].replaceChildren(rollupChips(r.storeys[x.id]));
    touch(live, r.time);
  }
  await refresh();
  every(LIVE_MS * 3, refresh);
}

// Colour ramps: [low, high, invert]; the response's `limit` (a number, or [low, high]) is marked on the ramp.
const SCALES = { co2: [400, 1500, false], temperature: [16, 30, false], humidity: [30, 80, false], illuminance: [0, 600, true],
  pm25: [0, 75, false], pm10: [0, 150, false], noise: [30, 70, false], tvoc: [0, 0.8, false], hcho: [0, 0.12, false] };
function rampColor(t) { t = Math.max(0, Math.min(1, t)); return `hsl(${120 - 120 * t}, 65%, 55%)`; }
function colorFor(room, q, range) {
  if (!q) return STATUS[normStatus(room.status)].fill;
  if (room.value === null || room.value === undefined) return STATUS[normStatus(room.status)].fill;
  const [lo, hi, invert] = range;
  const t = (room.value - lo) / (hi - lo || 1);
  return rampColor(invert ? 1 - t : t);
}

// Text fitted to a width (plan metres), the rule of twin/plan_labels.py: a CJK character is about
// one em wide, a Latin one 0.62 em; the font shrinks to PLAN_MIN_FONT, then the text is cut with "…".
const PLAN_MIN_FONT = 0.32;
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;
const textEm = (t) => [...t].reduce((a, c) => a + (WIDE.test(c) ? 1 : 0.62), 0);
function fitText(text, width, font, minFont) {
  text = (text || "").trim();
  if (!text || width <= 0 || font < minFont) return null;
  const em = textEm(text);
  if (em * font <= width) return [text, font];
  if (em * minFont <= width) return [text, width / em];
  const chars = [...text];
  for (let n = chars.length - 1; n > 0; n--) {
    const short = chars.slice(0, n).join("").trimEnd() + "…";
    if (textEm(short) * minFont <= width) return [short, minFont];
  }
  return null;
}

async function pageStorey(id, query) {
  const params = new URLSearchParams(query || "");
  let [st, plan] = await Promise.all([api(`/storeys/${enc(id)}`), api(`/storeys/${enc(id)}/floorplan`)]);
  let unbound = isAdmin() ? (await api("/admin/devices/unbound", { campus: st.campus, limit: 1000 })).items : [];
  let lastAudit = null;
  const b = await api(`/buildings/${enc(st.building)}`);
  const select = h("select", { id: "colour-by", "aria-label": "着色 Colour by" }, h("option", { value: "" }, "合规 Compliance"),
    quantities.filter((q) => q.quantity !== "status").map((q) => h("option", { value: q.quantity }, `${q.label.zh} ${q.label.en}`)));
  select.value = sessionStorage.getItem("ct_colour") || "";
  const [x0, y0, x1, y1] = plan.bounds;
  const pad = 1;
  const svg = h("svg:svg", { id: "plan", viewBox: `${x0 - pad} ${-y1 - pad} ${x1 - x0 + 2 * pad} ${y1 - y0 + 2 * pad}`, role: "img", "aria-label": "楼层平面图 Floor plan" },
    h("svg:defs", {}, h("svg:pattern", { id: "hatch-na", width: 0.8, height: 0.8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      h("svg:rect", { width: 0.8, height: 0.8, fill: "#e6ebf0" }), h("svg:line", { x1: 0, y1: 0, x2: 0, y2: 0.8, stroke: "#9aa8b5", "stroke-width": 0.25 }))));
  const shapes = {};
  const labels = [];
  const info = h("div", { class: "room-info", id: "room-info", "aria-live": "polite" }, h("p", { class: "muted" }, "点击房间查看详情 Tap a room for details"));
  let last = null;
  let selected = null;
  function showInfo(rid) {
    selected = rid;
    const r = plan.rooms.find((x) => x.id === rid);
    const lv = last && last.rooms.find((x) => x.id === rid);
    for (const s of Object.values(shapes)) s.poly.classList.toggle("selected", s.poly.getAttribute("data-room") === rid);
    const reason = lv ? reasonOf(lv) : null;
    fill(info, h("strong", {}, `${r.number} ${r.name || ""}`), h("div", { class: "muted" }, ...bi(r.type_label)),
      h("div", { id: "room-info-sensors" }, `${lt("sensors")}: `, r.devices && r.devices.length ? r.devices.join(", ") : "—"),
      lv ? h("div", { class: `status ${STATUS[normStatus(lv.status)].cls}`, id: "room-info-status" }, statusLabel(lv.status)) : null,
      reason ? h("div", { class: "reason", id: "room-info-reason" }, reasonText(reason)) : null,
      !reason && lv && normStatus(lv.status) === "non_compliant" ? breachReason(rid) : null,
      lv && last.quantity ? h("div", {}, `${last.label ? last.label.zh : ""} ${fmtValue(lv.value, last.quantity, last.unit)}`) : null,
      h("a", { class: "button", href: `#/room/${enc(rid)}`, id: "open-room" }, "打开房间 Open room"),
      isAdmin() ? bindBox(r) : null);
  }
  // Admins bind a device reporting without a room to the room chosen on the plan.
  function bindBox(r) {
    const wanted = params.get("device");
    const sel = h("select", { id: "bind-device", "aria-label": lt("chooseDevice") }, h("option", { value: "" }, `${lt("chooseDevice")} (${unbound.length})`),
      unbound.map((d) => h("option", { value: `${d.site}/${d.id}` }, `${d.id} · ${d.quantities.join(", ")}`)));
    if (wanted && unbound.some((d) => `${d.site}/${d.id}` === wanted)) sel.value = wanted;
    const result = h("div", { id: "bind-result", class: "ack", "aria-live": "polite" }, lastAudit ? auditText(lastAudit) : "");
    const btn = h("button", { type: "button", id: "bind-here", onclick: async () => {
      if (!sel.value) { sel.focus(); return; }
      const [site, device] = sel.value.split("/");
      btn.disabled = true;
      try {
        const out = await assignRoom(site, device, r.id);
        lastAudit = out.audit;
        params.delete("device");
        if (banner) banner.hidden = true;
        plan = await api(`/storeys/${enc(id)}/floorplan`);
        unbound = (await api("/admin/devices/unbound", { campus: st.campus, limit: 1000 })).items;
        drawSensors();
        await refresh();
        showInfo(r.id);
      } catch (e) { btn.disabled = false; fill(result, h("span", { class: "error" }, `出错 Error: ${e.message}`)); }
    } }, lt("bindHere"));
    return h("div", { class: "bind-box" }, h("strong", {}, lt("bind")), h("label", {}, sel), btn, result);
  }
  const sensorLayer = h("svg:g", { class: "sensors" });
  function drawSensors() {
    fill(sensorLayer, plan.rooms.filter((r) => r.devices && r.devices.length).map((r) => {
      // the room's top-left corner, clear of its label (centred in the room's free box)
      const cx = Math.min(...r.polygon.map((p) => p[0])) + 0.6;
      const cy = -Math.max(...r.polygon.map((p) => p[1])) + 0.6;
      return h("svg:g", { class: "sensor-mark", "data-room": r.id, "data-devices": r.devices.join(" ") },
        h("svg:circle", { cx: cx, cy: cy, r: 0.42 }), h("svg:text", { x: cx, y: cy + 0.2, "text-anchor": "middle" }, String(r.devices.length)),
        h("svg:title", {}, `${lt("sensors")}: ${r.devices.join(", ")}`));
    }));
  }
  // Until the live plan carries `reason`, a failing room's breaches come from its status.
  function breachReason(rid) {
    const el = h("div", { class: "reason", id: "room-info-reason" }, "…");
    api(`/rooms/${enc(rid)}/status`).then((st) => {
      const bad = st.verdicts.filter((v) => normStatus(v.status) === "non_compliant");
      fill(el, ...bad.map((v) => h("div", {}, `${v.rule_label.zh}: ${fmtValue(v.value, v.quantity, (st.values.find((x) => x.quantity === v.quantity) || {}).unit)} （${v.requirement}，${v.standard}）`)));
    }).catch(() => {});
    return el;
  }
  for (const r of plan.rooms) {
    const pts = r.polygon.map(([x, y]) => `${x},${-y}`).join(" ");
    const poly = h("svg:polygon", { class: "room", points: pts, "data-room": r.id, fill: STATUS.insufficient_data.fill, tabindex: 0,
      onclick: () => showInfo(r.id), ondblclick: () => { location.hash = `#/room/${enc(r.id)}`; },
      onkeydown: (e) => { // keyboard: Enter or Space selects, then the panel's first control takes focus
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        showInfo(r.id);
        const next = document.getElementById(isAdmin() ? "bind-device" : "open-room");
        if (next) next.focus();
      } },
    h("svg:title", {}, `${r.number} ${r.name || ""}`));
    // the room's free box (twin.plan_labels via the API): number, name and live value fitted
    // into it, shortened with "…" or left to the hover title when they do not fit
    const box = r.label || { x: r.polygon.reduce((a, p) => a + p[0], 0) / r.polygon.length,
      y: r.polygon.reduce((a, p) => a + p[1], 0) / r.polygon.length, w: 3, h: 3 };
    const line = Math.min(0.9, box.h / 3.3);
    const num = fitText(r.number, box.w, line, PLAN_MIN_FONT);
    const nm = fitText(r.name || "", box.w, Math.min(0.65, line), PLAN_MIN_FONT);
    const text = (dy, f, cls, t) => { // font size through the CSSOM: the CSP forbids style attributes
      const el = h("svg:text", { x: box.x, y: -box.y + dy, "text-anchor": "middle", class: cls }, t);
      el.style.fontSize = `${f}px`;
      return el;
    };
    const label = num ? text(-line * 0.9, num[1], "num", num[0]) : null;
    const name = nm ? text(line * 0.2, nm[1], "name", nm[0]) : null;
    const value = text(line * 1.3, Math.min(0.75, line), "val", "");
    shapes[r.id] = { poly, value, box, font: Math.min(0.75, line) };
    labels.push(label, name, value);
    svg.append(poly);
  }
  svg.append(...labels.filter(Boolean)); // above every room: a neighbour never paints over a label
  drawSensors();
  svg.append(sensorLayer);
  const legend = h("div", { class: "legend", id: "legend" });
  const live = stamp();
  const banner = isAdmin() && params.get("device") ? h("p", { class: "bind-banner", id: "bind-banner" }, `${lt("pickDevice")}: ${params.get("device").split("/").pop()}`) : null;
  setView(crumbs(homeCrumb(), campusCrumb(st.campus), h("a", { href: `#/building/${enc(st.building)}` }, b.name || "楼栋 Building")),
    h("h1", {}, `${st.name || "楼层"} `, h("small", {}, "平面图 Floor plan")),
    h("div", { class: "toolbar" }, h("label", {}, "着色 Colour by ", select), live), banner,
    h("div", { class: "plan-wrap" }, svg, h("div", { class: "side" }, info, legend)));
  async function refresh() {
    const q = select.value;
    const data = await api(`/storeys/${enc(id)}/live`, { quantity: q || undefined });
    last = data;
    const range = SCALES[q] || autoRange(data.rooms);
    for (const r of data.rooms) {
      const s = shapes[r.id];
      if (!s) continue;
      const status = normStatus(r.status);
      s.poly.setAttribute("fill", colorFor(r, q, range));
      s.poly.setAttribute("data-status", status);
      const reason = reasonOf(r);
      s.poly.setAttribute("data-reason", reason ? reason.zh : "");
      s.poly.firstChild.textContent = `${plan.rooms.find((x) => x.id === r.id).number} ${plan.rooms.find((x) => x.id === r.id).name || ""} — ${STATUS[status].zh} ${reason ? reasonText(reason) : ""}`;
      const shown = fitText(q ? fmtValue(r.value, q, data.unit) : STATUS[status].zh, s.box.w, s.font, PLAN_MIN_FONT);
      s.value.textContent = shown ? shown[0] : ""; // a small room shows its state by colour and title
      if (shown) s.value.style.fontSize = `${shown[1]}px`;
    }
    drawLegend(legend, q, data, range);
    if (selected) showInfo(selected);
    touch(live, data.time);
  }
  select.addEventListener("change", () => { sessionStorage.setItem("ct_colour", select.value); refresh(); });
  await refresh();
  if (params.get("room") && plan.rooms.some((x) => x.id === params.get("room"))) showInfo(params.get("room"));
  every(LIVE_MS, refresh);
}
function autoRange(rooms) {
  const v = rooms.map((r) => r.value).filter((x) => x !== null && x !== undefined);
  return v.length ? [Math.min(...v), Math.max(...v) + 1e-9, false] : [0, 1, false];
}
function swatch(fill, cls) {
  const s = h("span", { class: `swatch ${cls || ""}` });
  if (fill && !fill.startsWith("url(")) s.style.background = fill;
  return s;
}
function drawLegend(el, q, live, range) {
  if (!q) {
    fill(el, h("strong", {}, "合规 Compliance"), ...STATUS_ORDER.map((s) => h("div", { class: "legend-row" },
      swatch(STATUS[s].fill, STATUS[s].cls), statusLabel(s))));
    return;
  }
  const [lo, hi, invert] = range;
  const limits = live.limit === undefined || live.limit === null ? [] : [].concat(live.limit);
  const ramp = h("div", { class: "ramp" });
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${rampColor(invert ? 1 - t : t)} ${t * 100}%`).join(", ");
  ramp.style.background = `linear-gradient(to right, ${stops})`;
  for (const limit of limits.filter((x) => x > lo && x < hi)) {
    const mark = h("span", { class: "limit-mark", title: `限值 limit ${fmtValue(limit, q, live.unit)}` });
    mark.style.left = `${((limit - lo) / (hi - lo)) * 100}%`;
    ramp.append(mark);
  }
  const limitText = limits.map((x) => fmtValue(x, q, "")).join("–");
  fill(el, h("strong", {}, ...bi(live.label), unitText(live.unit) ? ` (${live.unit})` : ""), ramp,
    h("div", { class: "ramp-scale" }, h("span", {}, fmtValue(lo, q, "")), h("span", {}, fmtValue(hi, q, ""))),
    limits.length ? h("div", { class: "legend-row", id: "legend-limit" }, h("span", { class: "limit-key" }), `限值 Limit ${limitText}${unitText(live.unit) ? ` ${live.unit}` : ""}`) : null,
    h("div", { class: "legend-row" }, swatch(STATUS.insufficient_data.fill), "无数据 No data"));
}

async function pageRoom(id) {
  let s = await api(`/rooms/${enc(id)}/status`);
  const r = s.room;
  const live = stamp();
  const occ = h("p", { class: "muted", id: "room-meta" });
  const head = h("div", { id: "room-status" });
  const values = h("div", {});
  const verdicts = h("div", {});
  const qs = [...new Set(s.values.map((v) => v.quantity))].filter((q) => q !== "status");
  const qSel = h("select", { id: "chart-quantity", "aria-label": "量 Quantity" }, qs.map((q) => {
    const v = s.values.find((x) => x.quantity === q);
    return h("option", { value: q }, `${v.label.zh} ${v.label.en}`);
  }));
  if (qs.includes("co2")) qSel.value = "co2";
  const span = h("select", { id: "chart-span", "aria-label": "时段 Span" }, h("option", { value: "1d" }, "最近一天 Last day"), h("option", { value: "7d" }, "最近一周 Last week"));
  const chart = h("div", { id: "chart-box" });
  setView(crumbs(homeCrumb(), campusCrumb(r.campus), r.storey ? h("a", { href: `#/storey/${enc(r.storey)}` }, "平面图 Floor plan") : null),
    h("h1", {}, `${r.number} ${r.name && (!r.type_label || r.name !== r.type_label.zh) ? r.name : ""} `, h("small", {}, ...bi(r.type_label))), live, occ, head,
    h("h2", {}, "当前读数 ", h("small", {}, "Latest values")), values,
    h("h2", {}, "标准符合性 ", h("small", {}, "Compliance")), verdicts,
    h("h2", {}, "历史曲线 ", h("small", {}, "History")),
    h("div", { class: "toolbar" }, qSel, span), chart);
  function render() {
    const overall = s.status || s.compliance;
    let reason = reasonOf({ status: overall, reason: s.reason });
    if (!reason && normStatus(overall) === "non_compliant" && !(s.breaches || []).length) {
      const bad = s.verdicts.filter((v) => normStatus(v.status) === "non_compliant");
      reason = { zh: bad.map((v) => `${v.rule_label.zh} ${fmtValue(v.value, v.quantity, (s.values.find((x) => x.quantity === v.quantity) || {}).unit)}（${v.requirement}）`).join("；"), en: "" };
    }
    fill(occ, `面积 Area ${fmtNumber(r.area_m2, 1)} m² · 在室 Occupied: ${s.occupied === null ? "未知 unknown" : s.occupied ? "是 yes" : "否 no"}`,
      s.occupancy_source ? ` (依据 from ${OCC_SOURCE[s.occupancy_source] || s.occupancy_source})` : "");
    fill(head, h("div", { class: `status big ${STATUS[normStatus(overall)].cls}` }, statusLabel(overall)),
      reason ? h("div", { class: "reason", id: "room-reason" }, reasonText(reason)) : null,
      (s.breaches || []).length ? h("ul", { class: "breaches", id: "breaches" }, s.breaches.map((x) => h("li", {},
        `${x.label ? x.label.zh : x.quantity}：实测 ${fmtAgainst(x.measured, x.quantity, x.unit, x.limit)}`,
        h("small", {}, ` ${x.label ? x.label.en : ""} · measured · ${x.standard || ""} ${x.clause ? "§" + x.clause : ""}`)))) : null);
    fill(values, table("values", ["量 Quantity", "值 Value", "时间 Time", "设备 Device"],
      s.values.map((v) => Object.assign([bi(v.label), h("span", { class: "value", "data-quantity": v.quantity }, fmtValue(v.value, v.quantity, v.unit)),
        [tstr(v.time), v.stale ? " (过期 stale)" : ""], `${v.device} · ${v.point}`], { attrs: { class: v.stale ? "stale" : "" } }))));
    fill(verdicts, table("verdicts", ["要求 Requirement", "结果 Result", "实测 Measured", "依据 Basis", "标准 Standard"],
      s.verdicts.map((v) => {
        const why = reasonOf(v);
        return [bi(v.rule_label), h("span", { class: STATUS[normStatus(v.status)].cls }, statusLabel(v.status), why && normStatus(v.status) !== "compliant" ? h("div", { class: "reason" }, reasonText(why)) : null),
          `${fmtValue(v.measured ?? v.value, v.quantity, v.unit)} (${v.requirement || ""})`,
          basisText(v.basis), `${v.standard} §${v.clause}`];
      })));
    touch(live, s.time);
  }
  let lastChart = 0;
  async function draw() {
    const days = span.value === "7d" ? 7 : 1;
    const end = new Date(s.time);
    const start = new Date(end.getTime() - days * 86400e3);
    const hist = await api(`/rooms/${enc(id)}/history`, { quantity: qSel.value, from: start.toISOString(), to: end.toISOString(), every: days > 1 ? "1h" : "10m" });
    fill(chart, ...drawChart(hist, start.getTime(), end.getTime(), chart.clientWidth || 600, s.verdicts.filter((v) => v.quantity === qSel.value)));
    lastChart = Date.now();
  }
  render();
  qSel.addEventListener("change", draw);
  span.addEventListener("change", draw);
  if (qs.length) await draw(); else chart.append(h("p", { class: "muted" }, "无数据 No data"));
  every(LIVE_MS, async () => {
    s = await api(`/rooms/${enc(id)}/status`);
    render();
    if (qs.length && Date.now() - lastChart > 60000) await draw();
  });
}

// Hand-drawn SVG chart: limit line, HTML legend (works on touch), window fitted to the data,
// local-time axis, and a viewBox sized to the box so text is never squashed on phones.
function limitsOf(verdict) { // a number, or [low, high] for a range rule: both are drawn
  if (typeof verdict.limit === "number") return [verdict.limit];
  if (Array.isArray(verdict.limit)) return verdict.limit.filter((x) => typeof x === "number");
  const m = /(-?\d+(?:\.\d+)?)/.exec(verdict.requirement || "");
  return m ? [Number(m[1])] : [];
}
function drawChart(hist, t0, t1, width, verdicts) {
  const W = Math.max(320, Math.round(width)), H = W < 500 ? 220 : 280, L = W < 500 ? 44 : 56, R = 14, T = 16, B = 30;
  const q = hist.quantity;
  const svg = h("svg:svg", { class: "chart", id: "room-chart", viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": `${hist.label.zh} ${hist.label.en}` });
  const pts = hist.series.flatMap((s) => s.points.filter((p) => p.value !== null));
  if (!pts.length) { svg.append(h("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "无数据 No data")); return [svg]; }
  const first = Math.min(...pts.map((p) => Date.parse(p.time)));
  if (first > t0) t0 = Math.max(t0, first - (t1 - first) * 0.05); // a young deployment: show only where data is
  const limits = [...new Set(verdicts.flatMap(limitsOf))];
  let lo = Math.min(...pts.map((p) => p.value), ...limits), hi = Math.max(...pts.map((p) => p.value), ...limits);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const padV = (hi - lo) * 0.08; lo -= padV; hi += padV;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => H - B - ((v - lo) / (hi - lo)) * (H - T - B);
  svg.append(h("svg:line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }), h("svg:line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  for (let i = 0; i <= 4; i++) {
    const v = lo + (i / 4) * (hi - lo);
    svg.append(h("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmtValue(v, q, "")));
  }
  const ticks = W < 500 ? 3 : 5;
  const off = offsetMin(hist.end) * 60000;
  for (let i = 0; i < ticks; i++) {
    const t = t0 + (i / (ticks - 1)) * (t1 - t0);
    const local = new Date(t + off).toISOString(); // shifted: read as API-local
    const anchor = i === 0 ? "start" : i === ticks - 1 ? "end" : "middle";
    svg.append(h("svg:text", { x: x(t), y: H - 10, "text-anchor": anchor }, t1 - t0 > 86400e3 ? `${local.slice(5, 10)} ${local.slice(11, 16)}` : local.slice(11, 16)));
  }
  for (const lim of limits) {
    svg.append(h("svg:line", { class: "limit", x1: L, x2: W - R, y1: y(lim), y2: y(lim) }),
      h("svg:text", { class: "limit-text", x: W - R - 2, y: y(lim) - 4, "text-anchor": "end" }, `限值 limit ${fmtValue(lim, q, hist.series[0] ? hist.series[0].unit : "")}`));
  }
  const colours = ["#1f6fb2", "#e67e22", "#8e44ad", "#16a085"];
  const legend = h("div", { class: "chart-legend", id: "chart-legend" });
  hist.series.forEach((s, i) => {
    const d = s.points.filter((p) => p.value !== null).map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
    const line = h("svg:polyline", { class: "line", points: d, stroke: colours[i % colours.length] }, h("svg:title", {}, `${s.device} · ${s.point}`));
    svg.append(line);
    const key = h("button", { type: "button", class: "legend-item", "aria-pressed": "true", onclick: () => {
      const on = key.getAttribute("aria-pressed") !== "true";
      key.setAttribute("aria-pressed", String(on));
      line.classList.toggle("hidden", !on);
    } }, swatch(colours[i % colours.length]), `传感器 ${s.device} · ${s.point}`);
    legend.append(key);
  });
  if (limits.length) legend.append(h("span", { class: "legend-item static" }, h("span", { class: "limit-key" }), "限值 Limit"));
  const unit = hist.series[0] ? unitText(hist.series[0].unit) : "";
  svg.append(h("svg:text", { x: L + 4, y: T + 2 }, `${hist.label.zh} ${hist.label.en}${unit ? ` (${unit})` : ""}`));
  return [svg, legend];
}

async function pageHealth() {
  const live = stamp();
  const agents = h("div", {});
  const devices = h("div", {});
  const title = h("small", {});
  setView(h("h1", {}, "设备与网关健康 ", h("small", {}, "Device & gateway health")), live,
    h("h2", {}, "网关 ", h("small", {}, "Gateways")), agents, h("h2", {}, "设备 ", title), devices);
  async function refresh() {
    const [d, a] = await Promise.all([api("/devices", { limit: 1000 }), api("/agents")]);
    title.textContent = `Devices (${d.total})`;
    fill(agents, table("agents", ["网关 Gateway", "状态 State", "最近数据 Last seen", "队列 Queue", "丢弃 Dropped", "隔离 Quarantined", "设备 Devices"],
      a.items.map((x) => [`${x.site} · ${x.id}`, AGENT_STATE[x.state] || x.state, tstr(x.last_seen), fmtNumber(x.queue_depth, 0), fmtNumber(x.dropped_total, 0), fmtNumber(x.quarantined_total, 0), fmtNumber(x.devices, 0)])));
    fill(devices, table("devices", ["设备 Device", "房间 Room", "最近数据 Last seen", "质量 Quality", "测点 Points"],
      d.items.map((x) => Object.assign([x.id, x.room ? h("a", { href: `#/room/${enc(x.room)}` }, x.room_number) : isAdmin() ? h("a", { href: `#/bind/${enc(x.site)}` }, lt("unboundShort")) : lt("unboundShort"),
        [x.last_seen ? tstr(x.last_seen) : "从未 never", x.stale ? " (过期 stale)" : ""], QUALITY[x.quality] || x.quality || "—", x.points.join(", ")], { attrs: { class: x.stale ? "stale" : "" } }))));
    touch(live);
  }
  await refresh();
  every(LIVE_MS * 2, refresh);
}

// Commissioning: devices reporting without a room, rooms without a sensor, the binding log.
// Assign by searching a room here, or on the plan (a room without a sensor opens its storey).
async function pageBind(campusArg) {
  if (!isAdmin()) { setView(h("h1", {}, ...lh("binding")), h("p", { class: "error", id: "bind-refused" }, lt("adminOnly"))); return; }
  const campus = campusArg || Object.keys(campusNames)[0];
  const rooms = (await api("/rooms", { campus, limit: 1000 })).items;
  const live = stamp();
  const devBox = h("div", { id: "unbound-box" });
  const roomBox = h("div", { id: "rooms-without-box" });
  const auditBox = h("div", { id: "audit-box" });
  const options = h("datalist", { id: "room-options" }, rooms.map((r) => h("option", { value: r.number }, `${r.number} ${r.name || ""}`)));
  setView(crumbs(homeCrumb(), campusCrumb(campus)), h("h1", {}, ...lh("binding")), live, options,
    h("h2", {}, ...lh("unbound")), devBox, h("h2", {}, ...lh("roomsWithout")), roomBox, h("h2", {}, ...lh("audit")), auditBox);
  const roomOf = (text) => {
    const t = text.trim();
    return rooms.find((r) => r.number === t || r.id === t || `${r.number} ${r.name || ""}`.trim() === t);
  };
  function assignCell(d) {
    const input = h("input", { type: "search", list: "room-options", class: "room-search", "data-device": d.id, "aria-label": `${lt("searchRoom")} · ${d.id}`, placeholder: LABELS.searchRoom[0] });
    const msg = h("span", { class: "bind-msg", "aria-live": "polite" });
    const go = async () => {
      const room = roomOf(input.value);
      if (!room) { fill(msg, h("span", { class: "error" }, lt("unknownRoom"))); input.focus(); return; }
      btn.disabled = true;
      try { await assignRoom(d.site, d.id, room.id); await refresh(); } catch (e) { btn.disabled = false; fill(msg, h("span", { class: "error" }, `出错 Error: ${e.message}`)); }
    };
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); go(); } });
    const btn = h("button", { type: "button", class: "bind-button", onclick: go }, lt("bind"));
    return [h("div", { class: "assign" }, input, btn), msg];
  }
  async function refresh() {
    const [u, w, a] = await Promise.all([api("/admin/devices/unbound", { campus, limit: 1000 }),
      api("/admin/rooms/without-sensors", { campus, limit: 1000 }), api("/admin/bindings/audit", { campus, limit: 50 })]);
    const firstStorey = (w.items[0] || rooms.find((r) => r.storey) || {}).storey;
    fill(devBox, u.items.length ? table("unbound", [lt("device"), lt("points"), lt("lastSeen"), lt("gateway"), lt("assign")],
      u.items.map((d) => Object.assign([d.id, d.points.join(", "), [tstr(d.last_seen), d.stale ? " (过期 stale)" : ""], d.agent || "—",
        [assignCell(d), firstStorey ? h("a", { href: `#/storey/${enc(firstStorey)}?device=${enc(`${d.site}/${d.id}`)}`, class: "on-plan" }, lt("onPlan")) : null]],
      { attrs: { "data-device": d.id } })))
      : h("p", { class: "muted" }, lt("noneUnbound")));
    fill(roomBox, w.items.length ? table("rooms-without", [lt("room"), lt("roomType"), lt("onPlan")],
      w.items.map((r) => [`${r.number} ${r.name || ""}`, bi(r.type_label),
        r.storey ? h("a", { href: `#/storey/${enc(r.storey)}?room=${enc(r.id)}` }, lt("onPlan")) : "—"]))
      : h("p", { class: "muted" }, lt("noneWithout")));
    fill(auditBox, a.items.length ? table("audit", [lt("time"), lt("who"), lt("device"), lt("from"), lt("to")],
      a.items.map((x) => [tstr(x.at), x.by, `${x.device}${x.point ? " · " + x.point : ""}`, x.previous_room_number || "—", x.room_number]))
      : h("p", { class: "muted" }, lt("noAudit")));
    touch(live);
  }
  await refresh();
}

async function pageAlerts(query) {
  const params = new URLSearchParams(query || "");
  const campus = params.get("campus") || "";
  const buildings = await api("/buildings", { campus: campus || undefined, limit: 1000 });
  const bSel = h("select", { id: "f-building", "aria-label": "楼栋 Building" }, h("option", { value: "" }, "全部楼栋 All buildings"),
    buildings.items.map((b) => h("option", { value: b.id }, b.name || b.id)));
  const sSel = h("select", { id: "f-storey", "aria-label": "楼层 Storey" }, h("option", { value: "" }, "全部楼层 All storeys"));
  bSel.addEventListener("change", async () => {
    const st = bSel.value ? (await api("/storeys", { building: bSel.value, limit: 1000 })).items : [];
    fill(sSel, h("option", { value: "" }, "全部楼层 All storeys"), st.map((x) => h("option", { value: x.id }, x.name || x.id)));
  });
  const qSel = h("select", { id: "f-quantity", "aria-label": "量 Quantity" }, h("option", { value: "" }, "全部指标 All quantities"),
    quantities.filter((q) => q.quantity !== "status").map((q) => h("option", { value: q.quantity }, `${q.label.zh} ${q.label.en}`)));
  const sevSel = h("select", { id: "f-severity", "aria-label": "严重程度 Severity" }, h("option", { value: "" }, "全部级别 All severities"),
    Object.entries(SEVERITY).map(([k, v]) => h("option", { value: k }, v)));
  const openBox = h("input", { type: "checkbox", id: "f-open" });
  const sortSel = h("select", { id: "f-sort", "aria-label": "排序 Sort" }, h("option", { value: "start" }, "最新开始 Newest first"),
    h("option", { value: "worst" }, "最严重 Worst first"), h("option", { value: "room" }, "按房间 By room"));
  const csv = h("button", { type: "button", id: "export-csv" }, "导出 CSV Export");
  const list = h("div", { id: "alerts-box" });
  const live = stamp();
  let rows = [];
  let acks = {};
  const ackKey = (x) => `${x.room}|${x.quantity}|${x.device}|${x.point}|${Math.floor(Date.parse(x.start) / 1000)}`;
  function ackCell(x) {
    const a = acks[ackKey(x)];
    if (a) return h("span", { class: "ack", "data-role": "acked" }, `已确认 ${a.by} · ${tstr(a.at)}`);
    if (!me || me.role !== "admin") return h("span", { class: "muted" }, "未确认 open");
    return h("button", { type: "button", class: "ack-button", onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const a = await api("/alerts/acks", null, { method: "POST", body: { room: x.room, quantity: x.quantity, device: x.device, point: x.point, start: x.start } });
        acks[ackKey(a)] = a;
        render();
      } catch (e) { ev.target.disabled = false; ev.target.textContent = `出错 Error: ${e.message}`; }
    } }, "确认 Acknowledge");
  }
  setView(h("h1", {}, "超标告警 ", h("small", {}, "Threshold breaches (24 h)")), live,
    h("div", { class: "toolbar filters" }, bSel, sSel, qSel, sevSel, h("label", {}, openBox, " 仅进行中 Open only"), sortSel, csv), list);
  const roomNames = {};
  const rooms = await api("/rooms", { campus: campus || undefined, limit: 1000 });
  for (const r of rooms.items) roomNames[r.id] = `${r.number} ${r.name || ""}`.trim();
  function shown() {
    const sev = sevSel.value;
    const out = rows.filter((x) => !sev || x.severity === sev);
    const key = sortSel.value;
    out.sort((a, b) => key === "worst" ? (Math.abs(b.worst || 0) - Math.abs(a.worst || 0)) : key === "room" ? a.room_number.localeCompare(b.room_number) : b.start.localeCompare(a.start));
    return out;
  }
  function render() {
    const items = shown();
    fill(list, items.length ? table("alerts", ["房间 Room", "量 Quantity", "要求 Requirement", "开始 Start", "结束 End", "最差 Worst", "设备 Device", "标准 Standard", "处理 Handling"],
      items.map((x) => [h("a", { href: `#/room/${enc(x.room)}` }, roomNames[x.room] || x.room_number), bi(x.label),
        [x.requirement || "", x.severity ? h("div", { class: `sev ${x.severity}` }, SEVERITY[x.severity] || x.severity) : null],
        tstr(x.start), x.end ? tstr(x.end) : h("span", { class: "fail" }, "持续中 ongoing"),
        h("span", { class: "fail" }, fmtValue(x.worst, x.quantity, x.unit || (quantities.find((q) => q.quantity === x.quantity) || {}).unit)),
        `${x.device} · ${x.point}`, (x.rules && x.rules.length ? x.rules : [x]).map((r) => h("div", {}, `${r.standard} §${r.clause || ""}`)), ackCell(x)]))
      : h("p", { class: "muted", id: "alerts-empty" }, "没有符合条件的告警 No alerts match"));
  }
  async function refresh() {
    for (const k of await api("/alerts/acks")) acks[ackKey(k)] = k;
    const a = await api("/alerts", { limit: 1000, campus: campus || undefined, building: bSel.value || undefined, storey: sSel.value || undefined, quantity: qSel.value || undefined, open: openBox.checked ? "true" : undefined });
    rows = a.items;
    render();
    touch(live);
  }
  for (const el of [bSel, sSel, qSel, openBox]) el.addEventListener("change", () => refresh().catch(() => {}));
  for (const el of [sevSel, sortSel]) el.addEventListener("change", render);
  csv.addEventListener("click", () => {
    const head = ["room", "room_name", "quantity", "requirement", "severity", "start", "end", "worst", "device", "point", "standard", "clause", "acknowledged_by", "acknowledged_at"];
    const esc = (v) => { const t = v === null || v === undefined ? "" : String(v); return /[",\n]/.test(t) || /^[=+\-@]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t; };
    const lines = [head.join(",")].concat(shown().map((x) => [x.room_number, roomNames[x.room] || "", x.quantity, x.requirement, x.severity || "", x.start, x.end || "", x.worst, x.device, x.point, x.standard, x.clause || "", (acks[ackKey(x)] || {}).by, (acks[ackKey(x)] || {}).at].map(esc).join(",")));
    const blob = new Blob(["\ufeff" + lines.join("\r\n")], { type: "text/csv;charset=utf-8" });
    const a = h("a", { href: URL.createObjectURL(blob), download: "alerts.csv" });
    document.body.append(a); a.click(); a.remove();
  });
  await refresh();
  every(LIVE_MS * 2, refresh);
}

async function pageIndicators(id) {
  const live = stamp();
  const box = h("div", {});
  setView(crumbs(homeCrumb(), campusCrumb(id)), h("h1", {}, "指标 ", h("small", {}, "Indicators")), live, box);
  async function refresh() {
    const d = await api(`/campuses/${enc(id)}/indicators`);
    fill(box, table("indicators", ["指标 Indicator", "值 Value", "目标 Target"],
      d.indicators.map((x) => {
        // unit "1" is a share (shown as %); "%"-units are already percent; others are counts with units
        const ratio = x.unit === "1";
        const pct = ratio || (x.unit || "").startsWith("%");
        const show = (n) => (n === null || n === undefined ? "—"
          : pct ? `${fmtNumber(ratio ? n * 100 : n, 1)} %` : `${fmtNumber(n, 2)} ${x.unit || ""}`.trim());
        return [bi(x.label), show(x.value), x.target !== undefined && x.target !== null ? `${show(x.target)}${x.target_year ? `（${x.target_year} 年）` : ""}` : "—"];
      })));
    touch(live);
  }
  await refresh();
  every(60000, refresh);
}

// ---------------------------------------------------------------- router and sign-in
const ROUTES = [[/^#\/campus\/([^?]+)$/, pageCampus], [/^#\/building\/([^?]+)$/, pageBuilding], [/^#\/storey\/([^?]+)(?:\?(.*))?$/, pageStorey],
  [/^#\/room\/([^?]+)$/, pageRoom], [/^#\/health$/, pageHealth], [/^#\/bind(?:\/([^?]+))?$/, pageBind], [/^#\/alerts(?:\?(.*))?$/, pageAlerts], [/^#\/indicators\/([^?]+)$/, pageIndicators]];
async function route() {
  stopTimers();
  try {
    if (!me) me = await api("/session", null, { quiet401: true });
  } catch (e) {
    showLogin(e.status === 401 ? "" : `出错 Error: ${e.message}`);
    return;
  }
  document.getElementById("whoami").textContent = me.name;
  document.getElementById("nav-bind").hidden = !isAdmin();
  try {
    if (!quantities.length) { quantities = await api("/quantities"); touch(null, (await api("/health")).time); }
    if (!Object.keys(campusNames).length) for (const c of (await api("/campuses")).items) campusNames[c.id] = c.name;
    for (const [re, fn] of ROUTES) {
      const m = location.hash.match(re);
      if (m) { await fn(...m.slice(1).map((x) => (x === undefined ? x : decodeURIComponent(x)))); return; }
    }
    await pageCampuses();
  } catch (e) {
    if (e.message !== "unauthorized") setView(h("p", { class: "error" }, `出错 Error: ${e.message}`));
  }
}
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("token");
  try {
    me = await api("/session", null, { method: "POST", body: { token: input.value.trim() }, quiet401: true });
    input.value = "";
    route();
  } catch (e) {
    document.getElementById("login-error").textContent = e.status === 401 ? "令牌无效 Invalid token" : e.status === 422 ? "令牌格式不对 Token too short" : `出错 Error: ${e.message}`;
  }
});
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("/session", null, { method: "DELETE", quiet401: true }); } catch (e) { /* signed out anyway */ }
  me = null; etagCache.clear();
  showLogin("已退出 Signed out");
});
window.addEventListener("hashchange", route);
route();
