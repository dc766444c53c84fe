// runreg's page: the runs table, the sweep view and the run view, drawn
// with the DOM and SVG by hand (no framework, nothing fetched but the API).
//
// The token comes in the page's URL and goes with every API call in the
// X-Runreg-Token header. The table is virtual: only the rows in view are in
// the DOM, fetched from the server a page at a time.
'use strict';

const TOKEN = new URLSearchParams(location.search).get('token') || '';
const PAGE = 200;          // runs per request of the table
const OVERSCAN = 20;       // rows drawn above and below the view
const POLL_MS = 3000;      // how often /api/status is asked
const SVG = 'http://www.w3.org/2000/svg';
const MAX_LINES = 3000;    // lines of the parallel coordinates drawn at most

const state = {
  where: '',               // the where box, as applied
  brushes: new Map(),      // axis key -> {field, clause, label}
  sort: [],                // [{key, desc}]
  columns: null,           // fields shown after run_id (null: not chosen yet)
  keys: null,              // /api/keys
  total: 0,
  pages: new Map(),        // page index -> rows, for the current query
  pending: new Set(),      // page indexes being fetched
  epoch: 0,                // bumps when the query changes: late answers are dropped
  selected: new Set(),     // run ids ticked
  open: null,              // the run shown in the run view
  generation: undefined,   // of /api/status, to redraw on change
  alive: undefined,
  tab: 'sweep',
  sweep: null,             // last /api/sweep answer
  sweepBrush: new Map(),   // axis index -> [y0, y1] in pixels
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// --- the API -------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : 'HTTP ' + status);
    this.status = status;
    this.body = body;
  }
}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of params || []) if (v !== undefined && v !== null && v !== '') query.append(k, v);
  const qs = query.toString();
  const res = await fetch('api/' + path + (qs ? '?' + qs : ''), {
    headers: { 'X-Runreg-Token': TOKEN },
    cache: 'no-store',
  });
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// --- values --------------------------------------------------------------

const isNum = (v) => typeof v === 'number';
// NaN and infinities come as strings.
const toNum = (v) => isNum(v) ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : null;

function fmtNum(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return String(+v.toPrecision(Math.abs(v) < 1e-3 ? 3 : 5));
}

function fmtAge(epoch) {
  const s = Date.now() / 1000 - epoch;
  if (!Number.isFinite(s)) return '';
  if (s < 60) return Math.max(0, Math.round(s)) + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  if (s < 86400 * 2) return Math.round(s / 3600) + 'h ago';
  return Math.round(s / 86400) + 'd ago';
}

function fmtDate(epoch) {
  if (!isNum(epoch)) return '';
  return new Date(epoch * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

function fmtValue(v) {
  if (v === null || v === undefined) return '-';
  if (isNum(v)) return fmtNum(v);
  if (Array.isArray(v)) return v.map(fmtValue).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const TIME_FIELDS = new Set(['created_at', 'updated_at', 'ended_at']);

// A field as the where language writes it (odd keys in backticks).
function fieldText(field) {
  const dot = field.indexOf('.');
  if (dot < 0) return field;
  const root = field.slice(0, dot), key = field.slice(dot + 1);
  return /^[A-Za-z0-9_.:\/-]+$/.test(key) ? field : root + '.`' + key.replace(/`/g, '') + '`';
}

function literal(v) {
  if (isNum(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  const s = String(v);
  return s.includes("'") ? '"' + s.replace(/"/g, '') + '"' : "'" + s + "'";
}

// --- status: the header, and live refresh -------------------------------

async function pollStatus() {
  try {
    const st = await api('status');
    const counts = $('counts');
    counts.replaceChildren(el('span', {}, el('b', {}, String(st.total)), ' runs'));
    for (const [name, n] of st.statuses) {
      if (n > 0) counts.append(el('span', {}, el('span', { class: 'badge ' + name }, name), ' ' + n));
    }
    counts.append(el('span', {}, el('span', { class: st.alive ? 'alive' : 'stale' }), ' ' + st.alive + ' alive'));
    const changed = state.generation !== undefined &&
      (st.generation !== state.generation || st.alive !== state.alive);
    state.generation = st.generation;
    state.alive = st.alive;
    const live = $('live');
    live.textContent = st.scan_error ? 'scan failed: ' + st.scan_error
      : st.scan_interval_s === null ? 'not rescanning (--no-scan)'
        : 'live · scanned ' + fmtAge(st.scanned_at);
    live.classList.toggle('changed', changed);
    if (changed) refreshAll();
  } catch (e) {
    $('live').textContent = e.status === 403 ? 'refused: open the URL runreg ui printed' : 'server unreachable';
  }
}

function refreshAll() {
  loadKeys().then(() => { resetTable(); loadSweep(); if (state.open || state.selected.size) loadRunView(); });
}

// --- the where box and the brushes ---------------------------------------

// The expression the table is asked with: the box and every brush.
function tableWhere() {
  const parts = [];
  if (state.where.trim()) parts.push('(' + state.where + ')');
  for (const b of state.brushes.values()) parts.push('(' + b.clause + ')');
  return parts.join(' and ');
}

function drawBrushChips() {
  const box = $('brushes');
  box.replaceChildren();
  for (const [key, b] of state.brushes) {
    box.append(el('span', { class: 'chip', 'data-brush': key }, b.label,
      el('button', { type: 'button', title: 'remove', onclick: () => { state.brushes.delete(key); state.sweepBrush.clear(); drawSweep(); drawBrushChips(); resetTable(); } }, '×')));
  }
}

async function applyWhere() {
  const text = $('where').value;
  // Checked on a one-row request first: a bad expression keeps the table.
  try {
    await api('runs', [['where', text], ['limit', 0]]);
  } catch (e) {
    showWhereError(e);
    return;
  }
  showWhereError(null);
  state.where = text;
  state.brushes.clear();
  state.sweepBrush.clear();
  drawBrushChips();
  const url = new URL(location.href);
  if (text.trim()) url.searchParams.set('where', text); else url.searchParams.delete('where');
  history.replaceState(null, '', url);
  await loadKeys();
  resetTable();
  loadSweep();
}

function showWhereError(e) {
  const box = $('where-error');
  $('where').classList.toggle('bad', !!e);
  if (!e) { box.hidden = true; box.textContent = ''; return; }
  box.hidden = false;
  box.textContent = e.message;
}

// --- the columns -----------------------------------------------------------

// The keys of the newest runs first (cheap at 100,000 runs: the table's
// first paint waits for them); every run's when the column chooser opens.
const KEY_SAMPLE = 1000;
async function loadKeys(all) {
  try {
    state.keys = await api('keys', [['where', state.where], ['limit', all ? null : KEY_SAMPLE]]);
    state.keysComplete = !!all;
  } catch (e) {
    state.keys = state.keys || { fields: [], hparams: [], summary: [] };
  }
  if (state.columns === null) {
    const summary = state.keys.summary.map((k) => 'summary.' + k.key);
    const preferred = summary.filter((k) => /acc|loss/.test(k)).slice(0, 4);
    const rest = summary.filter((k) => !preferred.includes(k));
    state.columns = ['status', 'created_at', 'tags', ...preferred, ...rest].slice(0, 8);
  }
  drawColumnChooser();
  fillMetricChoosers();
}

function drawColumnChooser() {
  const list = $('column-list');
  list.replaceChildren();
  const group = (title, fields) => {
    if (!fields.length) return;
    list.append(el('h4', {}, title));
    for (const f of fields) {
      const box = el('input', { type: 'checkbox', value: f, checked: state.columns.includes(f) });
      box.addEventListener('change', () => {
        if (box.checked) state.columns.push(f);
        else state.columns = state.columns.filter((c) => c !== f);
        resetTable();
      });
      list.append(el('label', {}, box, ' ' + f));
    }
  };
  group('fields', state.keys.fields.filter((f) => f !== 'run_id'));
  group('summary', state.keys.summary.map((k) => 'summary.' + k.key));
  group('hparams', state.keys.hparams.map((k) => 'hparams.' + k.key));
}

// --- the runs table (virtual) ------------------------------------------------

function rowHeight() {
  return parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row')) || 26;
}

function sortParam() {
  return state.sort.map((s) => s.key + (s.desc ? ':desc' : ':asc')).join(',');
}

function resetTable() {
  state.epoch++;
  state.pages.clear();
  state.pending.clear();
  drawHead();
  return fetchPage(0).then(() => drawRows());
}

async function fetchPage(index) {
  if (state.pages.has(index) || state.pending.has(index)) return;
  const epoch = state.epoch;
  state.pending.add(index);
  try {
    const page = await api('runs', [
      ['where', tableWhere()], ['sort', sortParam()], ['offset', index * PAGE], ['limit', PAGE],
      ['columns', state.columns.join(',')],
    ]);
    if (epoch !== state.epoch) return;
    state.total = page.total;
    state.pages.set(index, page.runs);
    $('runs-total').textContent = String(page.total);
  } catch (e) {
    if (epoch !== state.epoch) return;
    showWhereError(e);
  } finally {
    if (epoch === state.epoch) state.pending.delete(index);
  }
}

function drawHead() {
  const head = $('runs-head');
  head.replaceChildren(el('th', { class: 'select' }, ''), th('run_id'));
  for (const c of state.columns) head.append(th(c));
  $('sort-info').textContent = state.sort.length
    ? 'sorted by ' + state.sort.map((s) => s.key + (s.desc ? ' ↓' : ' ↑')).join(', ') + ' (shift-click adds a key)'
    : 'newest first · click a header to sort, shift-click to add a key';
}

function th(field) {
  const at = state.sort.findIndex((s) => s.key === field);
  const label = field.startsWith('summary.') ? field.slice(8) : field.startsWith('hparams.') ? field.slice(8) : field;
  const cell = el('th', { 'data-field': field, title: field + ' (click: sort, shift-click: add a sort key)' }, label);
  if (at >= 0) {
    cell.append(el('span', { class: 'arrow' }, (state.sort[at].desc ? '↓' : '↑') + (state.sort.length > 1 ? String(at + 1) : '')));
  }
  if (field !== 'tags') cell.addEventListener('click', (ev) => sortBy(field, ev.shiftKey));
  return cell;
}

function sortBy(field, add) {
  const at = state.sort.findIndex((s) => s.key === field);
  // Numbers and times read best largest first; names smallest first.
  const firstDesc = !['run_id', 'status', 'notes', 'run_dir', 'checkpoint_path'].includes(field);
  if (add) {
    if (at >= 0) state.sort[at].desc = !state.sort[at].desc;
    else state.sort.push({ key: field, desc: firstDesc });
  } else if (at >= 0 && state.sort.length === 1) {
    state.sort[0].desc = !state.sort[0].desc;
  } else {
    state.sort = [{ key: field, desc: firstDesc }];
  }
  resetTable();
}

let drawQueued = false;
function queueDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => { drawQueued = false; drawRows(); });
}

function drawRows() {
  const scroll = $('runs-scroll');
  const h = rowHeight();
  const total = state.total;
  const first = Math.max(0, Math.floor(scroll.scrollTop / h) - OVERSCAN);
  const last = Math.min(total, Math.ceil((scroll.scrollTop + scroll.clientHeight) / h) + OVERSCAN);
  const body = $('runs-body');
  const cols = state.columns.length + 2;
  const spacer = (px) => {
    const td = el('td', { colspan: cols });
    td.style.height = px + 'px';
    return el('tr', { class: 'spacer' }, td);
  };
  const rows = [spacer(first * h)];
  let missing = false;
  for (let i = first; i < last; i++) {
    const page = state.pages.get(Math.floor(i / PAGE));
    const run = page && page[i % PAGE];
    if (!run) {
      missing = true;
      fetchPage(Math.floor(i / PAGE)).then(queueDraw);
      rows.push(el('tr', { class: 'loading' }, el('td', { colspan: cols }, '…')));
      continue;
    }
    rows.push(runRow(run));
  }
  rows.push(spacer(Math.max(0, total - last) * h));
  body.replaceChildren(...rows);
  if (!missing && total === 0) body.replaceChildren(el('tr', {}, el('td', { colspan: cols, class: 'muted' }, 'no run matches')));
}

function runRow(run) {
  const box = el('input', { type: 'checkbox', checked: state.selected.has(run.run_id), title: 'select to compare' });
  box.addEventListener('click', (ev) => ev.stopPropagation());
  box.addEventListener('change', () => {
    if (box.checked) state.selected.add(run.run_id); else state.selected.delete(run.run_id);
    selectionChanged();
  });
  const tr = el('tr', { class: 'run-row' + (state.open === run.run_id ? ' open' : ''), 'data-run-id': run.run_id },
    el('td', { class: 'select' }, box), el('td', { class: 'id' }, run.run_id));
  state.columns.forEach((c, i) => tr.append(cell(c, run.values[i], run)));
  tr.addEventListener('click', () => openRun(run.run_id));
  return tr;
}

function cell(field, v, run) {
  if (field === 'status') {
    return el('td', {}, el('span', { class: 'badge ' + v }, v),
      el('span', { class: run.alive ? 'alive' : 'stale', title: run.alive ? 'alive: fresh heartbeat' : 'not alive' }));
  }
  if (v === null || v === undefined) return el('td', { class: 'missing' }, '-');
  if (TIME_FIELDS.has(field) && isNum(v)) return el('td', { title: fmtDate(v) }, fmtAge(v));
  if (field === 'alive') return el('td', {}, v ? 'yes' : 'no');
  const n = toNum(v);
  if (n !== null) return el('td', { class: 'num', title: String(v) }, fmtNum(n));
  const text = fmtValue(v);
  return el('td', { title: text }, text);
}

function selectionChanged() {
  const n = state.selected.size;
  $('selection-info').textContent = n ? n + ' selected: curves overlaid and compared in the run tab' : '';
  $('clear-selection').hidden = n === 0;
  if (n) showTab('run');
  loadRunView();
}

// --- tabs ---------------------------------------------------------------------

function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  $('sweep').hidden = name !== 'sweep';
  $('run').hidden = name !== 'run';
  if (name === 'sweep') drawSweep();
}

// --- the sweep view -------------------------------------------------------------

function fillMetricChoosers() {
  const select = $('sweep-metric');
  const current = select.value;
  const options = state.keys.summary.map((k) => 'summary.' + k.key);
  select.replaceChildren(...options.map((o) => el('option', { value: o }, o.slice(8))));
  const preferred = options.find((o) => o === current) || options.find((o) => /val.*acc/.test(o)) || options[0];
  if (preferred) select.value = preferred;
}

async function loadSweep() {
  const metric = $('sweep-metric').value;
  const epoch = state.epoch;
  try {
    const sweep = await api('sweep', [['where', state.where], ['metric', metric]]);
    if (epoch !== state.epoch) return;
    // Tens of thousands of SVG paths would stall the page: the first
    // MAX_LINES are drawn (a sweep is rarely larger; filter to one).
    sweep.received = sweep.runs.length;
    sweep.runs = sweep.runs.slice(0, MAX_LINES);
    state.sweep = sweep;
  } catch (e) {
    state.sweep = null;
    $('sweep-info').textContent = e.message;
    return;
  }
  const s = state.sweep;
  $('sweep-info').textContent = (s.total > s.runs.length
    ? `the first ${s.runs.length} of ${s.total} runs drawn (filter to a sweep to see all)` : `${s.total} runs`)
    + `, ${s.hparams.length} varying hparams`;
  const xs = $('scatter-x');
  const current = xs.value;
  xs.replaceChildren(...s.hparams.map((a) => el('option', { value: a.key }, a.key)));
  if (s.hparams.some((a) => a.key === current)) xs.value = current;
  drawSweep();
}

// One scale per axis: numbers linear (log when positive and spread over
// decades), anything else as evenly spaced categories.
function axisScale(values, kind, top, bottom) {
  if (kind === 'number') {
    const finite = values.map(toNum).filter((v) => v !== null && Number.isFinite(v));
    let lo = Math.min(...finite), hi = Math.max(...finite);
    if (!finite.length) { lo = 0; hi = 1; }
    const log = lo > 0 && hi / lo >= 100;
    const f = log ? Math.log10 : (x) => x;
    const a = f(lo), b = f(hi);
    const pos = (v) => {
      const n = toNum(v);
      if (n === null || !Number.isFinite(n)) return null;
      return b === a ? (top + bottom) / 2 : bottom - (f(n) - a) / (b - a) * (bottom - top);
    };
    const ticks = b === a ? [lo] : [lo, log ? Math.pow(10, (a + b) / 2) : (lo + hi) / 2, hi];
    return { pos, ticks: ticks.map((t) => [pos(t), fmtNum(t)]), numeric: true };
  }
  const cats = [...new Set(values.filter((v) => v !== null && v !== undefined).map(fmtValue))].sort();
  const step = cats.length > 1 ? (bottom - top) / (cats.length - 1) : 0;
  const at = new Map(cats.map((c, i) => [c, cats.length > 1 ? bottom - i * step : (top + bottom) / 2]));
  const pos = (v) => (v === null || v === undefined ? null : at.get(fmtValue(v)));
  return { pos, ticks: cats.slice(0, 30).map((c) => [at.get(c), c.length > 14 ? c.slice(0, 13) + '…' : c]), numeric: false };
}

// Colour of a metric value: low to high, blue to yellow.
function ramp(t) {
  if (t === null || !Number.isFinite(t)) return '#999';
  const hue = 240 - 190 * Math.min(1, Math.max(0, t));
  return `hsl(${hue}, 70%, ${42 + 12 * t}%)`;
}

function drawSweep() {
  const plot = $('parcoords');
  const s = state.sweep;
  plot.replaceChildren();
  $('scatter').replaceChildren();
  if (!s || state.tab !== 'sweep') return;
  const width = plot.clientWidth || 800, height = plot.clientHeight || 360;
  const top = 28, bottom = height - 30, left = 50, right = width - 60;
  const axes = s.hparams.map((a, i) => ({ key: 'hparams.' + a.key, label: a.key, kind: a.kind, values: s.runs.map((r) => r.hparams[i]) }));
  if (s.metric) axes.push({ key: s.metric, label: s.metric.replace(/^summary\./, ''), kind: 'number', values: s.runs.map((r) => r.metric), metric: true });
  if (!axes.length || !s.runs.length) {
    plot.append(svg('text', { x: 20, y: 40 }, s.runs.length ? 'no hparam varies across these runs' : 'no run matches'));
    return;
  }
  const gap = axes.length > 1 ? (right - left) / (axes.length - 1) : 0;
  axes.forEach((a, i) => { a.x = axes.length > 1 ? left + i * gap : (left + right) / 2; a.scale = axisScale(a.values, a.kind, top, bottom); });
  const metricAxis = axes.find((a) => a.metric);
  // Colour by rank, not by value: one diverged run does not wash out the rest.
  const ranked = metricAxis ? metricAxis.values.map(toNum).filter((v) => v !== null && Number.isFinite(v)).sort((a, b) => a - b) : [];
  const shade = (v) => {
    const n = toNum(v);
    if (n === null || !Number.isFinite(n)) return null;
    if (ranked.length < 2) return 1;
    let lo = 0, hi = ranked.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ranked[mid] < n) lo = mid + 1; else hi = mid; }
    return lo / (ranked.length - 1);
  };

  const lines = svg('g', {});
  s.runs.forEach((run, r) => {
    let d = '', pen = false;
    for (const a of axes) {
      const y = a.scale.pos(a.values[r]);
      const yy = y === null || y === undefined ? bottom + 16 : y;  // missing: below the axis
      d += (pen ? 'L' : 'M') + a.x.toFixed(1) + ',' + yy.toFixed(1);
      pen = true;
    }
    const m = metricAxis ? metricAxis.values[r] : null;
    const nan = metricAxis && (toNum(m) === null || !Number.isFinite(toNum(m)));
    const path = svg('path', { d, class: 'run-line' + (nan ? ' nan' : ''), stroke: ramp(shade(m)), 'data-run-id': run.run_id },
      svg('title', {}, run.run_id + ' (' + run.status + ')' + (metricAxis ? ' ' + metricAxis.label + ' = ' + fmtValue(m) : '')));
    path.addEventListener('click', () => openRun(run.run_id));
    lines.append(path);
  });
  plot.append(lines);

  axes.forEach((a, i) => {
    const g = svg('g', { class: 'axis' });
    g.append(svg('line', { x1: a.x, x2: a.x, y1: top, y2: bottom }));
    const anchor = i === 0 ? 'start' : i === axes.length - 1 ? 'end' : 'middle';
    // Titles share the gap between axes.
    const room = Math.max(4, Math.floor((axes.length > 1 ? gap : right - left) / 6.5));
    const title = a.label.length > room ? a.label.slice(0, room - 1) + '…' : a.label;
    g.append(svg('text', { x: a.x, y: top - 12, 'text-anchor': anchor, class: 'axis-title' }, title, svg('title', {}, a.key)));
    for (const [y, label] of a.scale.ticks) {
      if (y === null || y === undefined) continue;
      g.append(svg('line', { x1: a.x - 3, x2: a.x + 3, y1: y, y2: y }));
      // Crowded axes show ticks without their values (the axis title's tooltip names it).
      if (gap >= 45 || a.metric || axes.length === 1) g.append(svg('text', { x: a.x + 5, y: y + 4 }, label));
    }
    // Brushing: drag along the axis.
    const target = svg('rect', { class: 'brush-target', x: a.x - 10, y: top, width: 20, height: bottom - top, 'data-axis': a.key });
    g.append(target);
    const range = state.sweepBrush.get(a.key);
    if (range) g.append(svg('rect', { class: 'brush', x: a.x - 8, y: range[0], width: 16, height: range[1] - range[0] }));
    target.addEventListener('pointerdown', (ev) => startBrush(ev, a, plot, top, bottom));
    plot.append(g);
  });
  dimOutsideBrushes(axes);
  drawScatter(axes, shade);
}

function svgY(plot, ev) {
  const box = plot.getBoundingClientRect();
  return (ev.clientY - box.top) * ((plot.viewBox.baseVal && plot.viewBox.baseVal.height) || box.height) / box.height;
}

function startBrush(ev, axis, plot, top, bottom) {
  ev.preventDefault();
  const y0 = Math.min(bottom, Math.max(top, svgY(plot, ev)));
  const rect = svg('rect', { class: 'brush', x: axis.x - 8, y: y0, width: 16, height: 0 });
  plot.append(rect);
  const move = (e) => {
    const y = Math.min(bottom, Math.max(top, svgY(plot, e)));
    rect.setAttribute('y', Math.min(y0, y));
    rect.setAttribute('height', Math.abs(y - y0));
  };
  const up = (e) => {
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', up);
    const y = Math.min(bottom, Math.max(top, svgY(plot, e)));
    const lo = Math.min(y0, y), hi = Math.max(y0, y);
    if (hi - lo < 3) state.sweepBrush.delete(axis.key); else state.sweepBrush.set(axis.key, [lo, hi]);
    brushChanged(axis, lo, hi);
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', up);
}

// A brush becomes a clause of the table's where: the values of the runs
// inside it, as a range (numbers) or a list (categories).
function brushChanged(axis, lo, hi) {
  const range = state.sweepBrush.get(axis.key);
  if (!range) {
    state.brushes.delete(axis.key);
  } else {
    const inside = axis.values.filter((v) => { const y = axis.scale.pos(v); return y !== null && y !== undefined && y >= lo && y <= hi; });
    const field = fieldText(axis.key);
    let clause, label;
    if (!inside.length) {
      clause = 'run_id = \'\'';
      label = axis.label + ': none';
    } else if (axis.scale.numeric) {
      const nums = inside.map(toNum);
      const a = Math.min(...nums), b = Math.max(...nums);
      clause = `${field} >= ${a} and ${field} <= ${b}`;
      label = `${axis.label} ∈ [${fmtNum(a)}, ${fmtNum(b)}]`;
    } else {
      const distinct = [...new Map(inside.map((v) => [fmtValue(v), v])).values()];
      clause = `${field} in (${distinct.map(literal).join(', ')})`;
      label = `${axis.label} ∈ {${distinct.map(fmtValue).join(', ')}}`;
    }
    state.brushes.set(axis.key, { clause, label });
  }
  drawBrushChips();
  drawSweep();
  resetTable();
}

function dimOutsideBrushes(axes) {
  const lines = $('parcoords').querySelectorAll('path.run-line');
  const active = axes.filter((a) => state.sweepBrush.has(a.key));
  lines.forEach((line, r) => {
    const out = active.some((a) => {
      const [lo, hi] = state.sweepBrush.get(a.key);
      const y = a.scale.pos(a.values[r]);
      return y === null || y === undefined || y < lo || y > hi;
    });
    line.classList.toggle('dim', out);
    if (out) line.parentNode.prepend(line);
  });
}

function drawScatter(axes, shade) {
  const plot = $('scatter');
  const s = state.sweep;
  const key = 'hparams.' + $('scatter-x').value;
  const xAxis = axes.find((a) => a.key === key);
  const yAxis = axes.find((a) => a.metric);
  if (!xAxis || !yAxis) {
    plot.append(svg('text', { x: 20, y: 40 }, yAxis ? 'no hparam varies' : 'choose a metric'));
    return;
  }
  const width = plot.clientWidth || 360, height = plot.clientHeight || 360;
  const left = 50, right = width - 16, top = 28, bottom = height - 40;
  // The x scale: the axis's, turned on its side.
  const xs = axisScale(xAxis.values, xAxis.kind, left, right);
  const xpos = (v) => { const p = xs.pos(v); return p === null || p === undefined ? null : left + right - p; };
  const ys = axisScale(yAxis.values, 'number', top, bottom);
  const g = svg('g', { class: 'axis' });
  g.append(svg('line', { x1: left, x2: right, y1: bottom, y2: bottom }), svg('line', { x1: left, x2: left, y1: top, y2: bottom }));
  for (const [x, label] of xs.ticks) if (x !== null) g.append(svg('text', { x: left + right - x, y: bottom + 14, 'text-anchor': 'middle' }, label));
  for (const [y, label] of ys.ticks) if (y !== null) g.append(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end' }, label));
  g.append(svg('text', { x: (left + right) / 2, y: bottom + 32, 'text-anchor': 'middle', class: 'axis-title' }, xAxis.label));
  g.append(svg('text', { x: 12, y: top - 4, class: 'axis-title' }, yAxis.label));
  plot.append(g);
  const dims = $('parcoords').querySelectorAll('path.run-line.dim');
  const dimmed = new Set([...dims].map((p) => p.dataset.runId));
  s.runs.forEach((run, r) => {
    const x = xpos(xAxis.values[r]), y = ys.pos(yAxis.values[r]);
    if (x === null || y === null || y === undefined) return;
    const dot = svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 4, class: 'run-dot' + (dimmed.has(run.run_id) ? ' dim' : ''), fill: ramp(shade(yAxis.values[r])), 'data-run-id': run.run_id },
      svg('title', {}, `${run.run_id}: ${xAxis.label} = ${fmtValue(xAxis.values[r])}, ${yAxis.label} = ${fmtValue(yAxis.values[r])}`));
    dot.addEventListener('click', () => openRun(run.run_id));
    plot.append(dot);
  });
}

// --- the run view -----------------------------------------------------------------

const PALETTE = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e8590c', '#1098ad', '#c2255c', '#5c940d', '#f08c00', '#495057'];

function openRun(id) {
  state.open = id;
  for (const tr of document.querySelectorAll('#runs-body tr.run-row')) tr.classList.toggle('open', tr.dataset.runId === id);
  showTab('run');
  loadRunView();
}

// The runs shown: those ticked, and the one opened.
function viewedRuns() {
  const ids = [...state.selected];
  if (state.open && !ids.includes(state.open)) ids.unshift(state.open);
  return ids.slice(0, 16);
}

let runViewEpoch = 0;
async function loadRunView() {
  const ids = viewedRuns();
  const epoch = ++runViewEpoch;
  $('run-hint').hidden = ids.length > 0;
  if (!ids.length) { $('run-details').replaceChildren(); $('curves').replaceChildren(); $('diff').replaceChildren(); $('legend').replaceChildren(); $('curve-controls').hidden = true; return; }
  const points = 500;
  const [records, histories, diff] = await Promise.all([
    Promise.all(ids.map((id) => api('run/' + encodeURIComponent(id)).catch((e) => ({ run_id: id, error: e.message })))),
    Promise.all(ids.map((id) => api('run/' + encodeURIComponent(id) + '/metrics', [['points', points]]).catch((e) => ({ error: e.message, series: [] })))),
    ids.length > 1 ? api('diff', ids.map((id) => ['run', id])).catch((e) => ({ error: e.message })) : Promise.resolve(null),
  ]);
  if (epoch !== runViewEpoch) return;
  state.runView = { ids, records, histories, diff };
  drawRunDetails();
  drawCurveChooser();
  drawCurves();
  drawDiff();
}

function drawRunDetails() {
  const { records } = state.runView;
  const box = $('run-details');
  box.replaceChildren();
  if (records.length !== 1) {
    box.append(el('p', { class: 'muted' }, records.length + ' runs: ' + records.map((r) => r.run_id).join(', ')));
    return;
  }
  const r = records[0];
  if (r.error) { box.append(el('p', { class: 'error' }, r.error)); return; }
  const table = (rows) => el('table', {}, ...rows.map(([k, v, cls]) => el('tr', {}, el('th', {}, k), el('td', { class: cls || '' }, v))));
  const top = [
    ['run_id', r.run_id, 'mono'],
    ['status', el('span', {}, el('span', { class: 'badge ' + r.status }, r.status), el('span', { class: r.alive ? 'alive' : 'stale' }), r.alive ? ' alive' : '')],
    ['created', fmtDate(r.created_at) + ' (' + fmtAge(r.created_at) + ')'],
    ['updated', fmtDate(r.updated_at) + ' (' + fmtAge(r.updated_at) + ')'],
    ['ended', r.ended_at === null ? '-' : fmtDate(r.ended_at)],
    ['tags', r.tags.join(', ') || '-'],
    ['notes', r.notes || '-'],
    ['run_dir', r.run_dir, 'mono'],
    ['checkpoint', r.checkpoint_path || '-', 'mono'],
  ];
  const map = (title, obj) => el('div', {}, el('h3', {}, title),
    table(Object.entries(obj).map(([k, v]) => [k, fmtValue(v), 'mono'])));
  const flat = {};
  const walk = (prefix, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) for (const [k, x] of Object.entries(v)) walk(prefix ? prefix + '.' + k : k, x);
    else if (Array.isArray(v) && v.length) v.forEach((x, i) => walk(prefix + '.' + i, x));
    else flat[prefix] = v;
  };
  walk('', r.config);
  box.append(el('div', { class: 'cols' }, el('div', {}, el('h3', {}, r.run_id), table(top)),
    map('summary', r.summary), map('hparams', r.hparams), Object.keys(flat).length ? map('config', flat) : null));
}

function drawCurveChooser() {
  const { histories } = state.runView;
  const names = [...new Set(histories.flatMap((h) => h.series.map((s) => s.name)))];
  const box = $('curve-metrics');
  const shown = state.curveMetrics || new Set(names);
  box.replaceChildren();
  for (const n of names) {
    const input = el('input', { type: 'checkbox', value: n, checked: shown.has(n) });
    input.addEventListener('change', () => {
      state.curveMetrics = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
      drawCurves();
    });
    box.append(el('label', {}, input, ' ' + n));
  }
  $('curve-controls').hidden = names.length === 0;
}

function smooth(points, alpha) {
  if (!alpha) return points;
  const out = [];
  let acc = null;
  for (const p of points) {
    acc = acc === null ? p.value : alpha * acc + (1 - alpha) * p.value;
    out.push({ step: p.step, value: acc });
  }
  return out;
}

function drawCurves() {
  const { ids, histories } = state.runView;
  const alpha = parseFloat($('smoothing').value) || 0;
  $('smoothing-value').textContent = alpha.toFixed(2);
  const chosen = state.curveMetrics;
  const names = [...new Set(histories.flatMap((h) => h.series.map((s) => s.name)))].filter((n) => !chosen || chosen.has(n));
  const box = $('curves');
  box.replaceChildren();
  const legend = $('legend');
  legend.replaceChildren(...ids.map((id, i) => {
    const swatch = el('i');
    swatch.style.background = PALETTE[i % PALETTE.length];
    return el('span', {}, swatch, id);
  }));
  histories.forEach((h, i) => { if (h.error) legend.append(el('span', { class: 'muted' }, ids[i] + ': ' + h.error)); });
  for (const name of names) {
    const width = 420, height = 220, left = 48, right = width - 10, top = 22, bottom = height - 24;
    const series = histories.map((h) => {
      const s = h.series.find((x) => x.name === name);
      return s ? s.points.map((p) => ({ step: p.step, value: toNum(p.value) })).filter((p) => p.value !== null && Number.isFinite(p.value)) : [];
    });
    const all = series.flat();
    if (!all.length) continue;
    const steps = all.map((p) => p.step), values = all.map((p) => p.value);
    const x0 = Math.min(...steps), x1 = Math.max(...steps), y0 = Math.min(...values), y1 = Math.max(...values);
    const x = (s) => x1 === x0 ? (left + right) / 2 : left + (s - x0) / (x1 - x0) * (right - left);
    const y = (v) => y1 === y0 ? (top + bottom) / 2 : bottom - (v - y0) / (y1 - y0) * (bottom - top);
    const chart = svg('svg', { class: 'curve-chart', viewBox: `0 0 ${width} ${height}`, 'data-metric': name });
    chart.append(svg('text', { x: left, y: 14, class: 'axis-title' }, name));
    const g = svg('g', { class: 'axis' });
    g.append(svg('line', { x1: left, x2: right, y1: bottom, y2: bottom }), svg('line', { x1: left, x2: left, y1: top, y2: bottom }));
    for (const v of [y0, y1]) g.append(svg('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
    g.append(svg('text', { x: x(x0), y: bottom + 14, 'text-anchor': 'start' }, 'step ' + x0));
    if (x1 !== x0) g.append(svg('text', { x: x(x1), y: bottom + 14, 'text-anchor': 'end' }, String(x1)));
    chart.append(g);
    series.forEach((pts, i) => {
      if (!pts.length) return;
      const colour = PALETTE[i % PALETTE.length];
      const line = (p) => p.map((q) => x(q.step).toFixed(1) + ',' + y(q.value).toFixed(1)).join(' ');
      if (alpha) chart.append(svg('polyline', { class: 'curve raw', points: line(pts), stroke: colour }));
      chart.append(svg('polyline', { class: 'curve', points: line(smooth(pts, alpha)), stroke: colour, 'data-run-id': ids[i], 'data-metric': name, 'data-points': pts.length },
        svg('title', {}, ids[i] + ' · ' + name)));
    });
    box.append(chart);
  }
  if (!box.children.length) box.append(el('p', { class: 'muted' }, 'no metric history (metrics.csv) for ' + ids.join(', ')));
}

function drawDiff() {
  const { diff } = state.runView;
  const box = $('diff');
  box.replaceChildren();
  if (!diff) return;
  if (diff.error) { box.append(el('p', { class: 'error' }, diff.error)); return; }
  const table = el('table', { id: 'diff-table' }, el('tr', {}, el('th', {}, ''), ...diff.runs.map((id) => el('th', {}, id))));
  let any = false;
  for (const section of ['hparams', 'config', 'summary']) {
    const keys = Object.entries(diff.differ[section]);
    if (!keys.length) continue;
    any = true;
    table.append(el('tr', {}, el('th', { class: 'section', colspan: diff.runs.length + 1 }, section)));
    for (const [key, values] of keys) {
      table.append(el('tr', { 'data-key': section + '.' + key }, el('td', {}, key),
        ...values.map((v) => el('td', { class: v === null ? 'missing' : '' }, fmtValue(v)))));
    }
  }
  box.append(el('h3', {}, 'what differs'), any ? table : el('p', {}, 'no differences'),
    el('p', { class: 'muted' }, ['hparams', 'config', 'summary'].map((s) => diff.equal[s] + ' ' + s + ' equal').join(', ')));
}

// --- start ------------------------------------------------------------------------

function start() {
  const where = new URLSearchParams(location.search).get('where');
  if (where) { $('where').value = where; state.where = where; }
  $('where').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') applyWhere(); });
  $('where').addEventListener('change', applyWhere);
  $('runs-scroll').addEventListener('scroll', queueDraw, { passive: true });
  window.addEventListener('resize', () => { queueDraw(); drawSweep(); });
  $('column-chooser').addEventListener('toggle', () => { if ($('column-chooser').open && !state.keysComplete) loadKeys(true); });
  $('clear-selection').addEventListener('click', () => { state.selected.clear(); selectionChanged(); queueDraw(); });
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('sweep-metric').addEventListener('change', loadSweep);
  $('scatter-x').addEventListener('change', drawSweep);
  $('smoothing').addEventListener('input', () => state.runView && drawCurves());
  // The table first; the sweep (up to 20,000 runs) and the status once its
  // rows are drawn.
  loadKeys().then(resetTable).then(() => {
    loadSweep();
    pollStatus();
    setInterval(pollStatus, POLL_MS);
  });
}

start();
