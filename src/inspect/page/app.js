// The inspector page: vanilla JS, no build step, no third-party code. Everything shown comes
// from the network and is hostile: it is put in the page as text (textContent), never as HTML.
'use strict';

/** Events the page keeps; older ones leave as new ones come. */
const MAX_EVENTS = 500;
const STATE_POLL_MS = 1000;
const DEAD_LETTER_POLL_MS = 5000;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'style-width') node.style.width = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

const timeText = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) + '.' + String(ms % 1000).padStart(3, '0');
const json = (value) => JSON.stringify(value, null, 2);
const fmtRate = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
function fmtBytes(n) {
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return v.toFixed(v >= 10 ? 0 : 1) + ' ' + units[u];
}

// ---- live events ----------------------------------------------------------------------

const events = [];
let paused = false;
let omitted = 0;
const services = new Set();
const topicNames = new Set();

function filters() {
  return { service: $('f-service').value, topic: $('f-topic').value, outcome: $('f-outcome').value, text: $('f-text').value.trim().toLowerCase() };
}

function matches(e, f) {
  if (f.service && e.service !== f.service) return false;
  if (f.topic && `${e.service}/${e.topic}` !== f.topic) return false;
  if (f.outcome === 'accepted' && e.outcome !== 'accepted') return false;
  if (f.outcome === 'refused' && e.outcome === 'accepted') return false;
  if (f.text && !e.searchText.includes(f.text)) return false;
  return true;
}

function errorList(errors) {
  if (!errors || errors.length === 0) return null;
  return el('ul', { class: 'errors' }, ...errors.map((p) => el('li', {}, el('code', {}, p.path === '' ? '(event)' : p.path), ' ', p.message)));
}

/** The first fields of an event, in one short line. */
function summary(data) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return '';
  const text = Object.entries(data).slice(0, 4).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
  return text.length > 90 ? text.slice(0, 89) + '…' : text;
}

function eventNode(e) {
  const refused = e.outcome !== 'accepted';
  const details = el('div', { class: 'details' });
  if (e.envelope) details.append(el('h3', {}, 'envelope'), el('pre', {}, json(e.envelope)));
  details.append(el('h3', {}, refused ? 'as sent' : 'data (schema v' + e.version + ')'), el('pre', {}, e.dataCut !== undefined ? e.dataCut + ' …(cut)' : json(e.data)));
  const meta = el('div', { class: 'message' }, `source ${e.source} · index ${e.index}` + (e.worker ? ` · worker ${e.worker}` : ''));
  details.append(meta);
  const node = el(
    'li',
    { class: 'event', 'data-outcome': e.outcome, 'data-id': e.envelope ? e.envelope.id : '' },
    el(
      'div',
      { class: 'row' },
      el('span', { class: 'time' }, timeText(e.at)),
      el('span', { class: 'badge ' + e.outcome }, e.outcome.replace('_', ' ')),
      el('span', { class: 'where' }, `${e.service}/${e.topic}`),
      el('span', { class: 'version' }, 'v' + e.version),
      e.envelope ? el('span', { class: 'id' }, e.envelope.id) : el('span', { class: 'message' }, `${e.errors ? e.errors.length : 0} problem${e.errors && e.errors.length === 1 ? '' : 's'}`),
      el('span', { class: 'summary' }, summary(e.data)),
    ),
    refused ? errorList(e.errors) : null,
    details,
  );
  node.querySelector('.row').addEventListener('click', () => node.classList.toggle('open'));
  return node;
}

function addOption(select, value) {
  if ([...select.options].some((o) => o.value === value)) return;
  select.append(el('option', { value }, value));
}

function renderEvents() {
  const f = filters();
  const list = $('events');
  const shown = events.filter((e) => matches(e, f));
  list.replaceChildren(...shown.map((e) => e.node));
  $('events-empty').hidden = shown.length > 0;
  $('events-count').textContent = `${shown.length} shown of ${events.length} kept (at most ${MAX_EVENTS})` + (paused ? ' · paused' : '');
  $('omitted').hidden = omitted === 0;
  $('omitted').textContent = `${omitted} events came faster than the page shows them and were left out.`;
}

function receive(batch) {
  if (paused) return;
  omitted += batch.omitted;
  for (const e of batch.events) {
    e.searchText = JSON.stringify([e.envelope, e.data, e.dataCut, e.errors, e.service, e.topic]).toLowerCase();
    e.node = eventNode(e);
    events.unshift(e);
    if (!services.has(e.service)) { services.add(e.service); addOption($('f-service'), e.service); }
  }
  events.length = Math.min(events.length, MAX_EVENTS);
  renderEvents();
}

function connect() {
  const source = new EventSource('/inspect/stream');
  source.addEventListener('open', () => { $('connection').textContent = 'live'; $('connection').className = 'pill on'; });
  source.addEventListener('error', () => { $('connection').textContent = 'reconnecting…'; $('connection').className = 'pill off'; });
  source.addEventListener('events', (message) => receive(JSON.parse(message.data)));
}

for (const id of ['f-service', 'f-topic', 'f-outcome']) $(id).addEventListener('change', renderEvents);
$('f-text').addEventListener('input', renderEvents);
$('filters').addEventListener('submit', (ev) => ev.preventDefault());
$('pause').addEventListener('click', () => { paused = !paused; $('pause').textContent = paused ? 'Resume' : 'Pause'; renderEvents(); });
$('clear').addEventListener('click', () => { events.length = 0; omitted = 0; renderEvents(); });

// ---- topics and routes ----------------------------------------------------------------

let previous;

function hopNode(name, d, share, spool) {
  const facts = [];
  if (share !== undefined) facts.push(`${Math.round(share * 100)}% last min`);
  if (d && d.learnedRate !== null && d.learnedRate !== undefined) facts.push(`≤ ${fmtRate(d.learnedRate)}/s learned`);
  if (spool) facts.push(`${fmtBytes(spool.bytes)} · ${spool.records} held`);
  const state = d ? d.state : 'healthy';
  return el(
    'span',
    { class: 'hop ' + state, 'data-destination': name, title: `${name}: ${state}` },
    el('span', { class: 'hop-name' }, name, el('small', {}, d ? `${d.type} · ${state}` : '')),
    el('span', { class: 'hop-facts' }, facts.join(' · ') || '—'),
    el('span', { class: 'share' }, el('i', { 'style-width': `${Math.round((share || 0) * 100)}%` })),
  );
}

function renderState(state) {
  const dt = previous ? (state.at - previous.at) / 1000 : 0;
  const before = new Map((previous ? previous.topics : []).map((t) => [`${t.service}/${t.topic}`, t]));
  $('workers').textContent = state.workers.length > 0 ? `${state.workers.length} worker${state.workers.length === 1 ? '' : 's'}: ${state.workers.join(', ')}` : 'one process';
  const rows = state.topics.map((t) => {
    const key = `${t.service}/${t.topic}`;
    topicNames.add(key);
    addOption($('f-topic'), key);
    addOption($('dl-topic'), key);
    const was = before.get(key);
    const rate = (now, then) => (dt > 0 && then !== undefined ? Math.max(0, now - then) / dt : 0);
    const chains = t.routes.map((route) => {
      const total = route.hops.reduce((sum, h) => sum + ((state.destinations[h] || {}).deliveredLastMinute || 0), 0);
      const parts = [];
      route.hops.forEach((h, i) => {
        if (i > 0) parts.push(el('span', { class: 'arrow' }, '→'));
        const d = state.destinations[h];
        const isSpool = i === route.hops.length - 1 && d && d.type === 'spool';
        parts.push(hopNode(h, d, total > 0 ? ((d && d.deliveredLastMinute) || 0) / total : undefined, isSpool ? state.spool : undefined));
      });
      return el('div', { class: 'chain' }, ...parts);
    });
    return el(
      'div',
      { class: 'topic', 'data-topic': key },
      el('div', { class: 'name' }, key, el('small', {}, `${t.access} · v${t.versions.join(', v')} · default v${t.defaultVersion}`)),
      el(
        'div',
        { class: 'rates' },
        el('span', { class: 'rate-ok' }, el('b', {}, fmtRate(rate(t.accepted, was && was.accepted))), el('small', {}, 'accepted/s')),
        el('span', { class: 'rate-bad' }, el('b', {}, fmtRate(rate(t.refused, was && was.refused))), el('small', {}, 'refused/s')),
      ),
      el('div', { class: 'chains' }, ...chains),
    );
  });
  $('topics').replaceChildren(...rows);
  previous = state;
}

async function pollState() {
  try {
    const answer = await fetch('/inspect/state', { cache: 'no-store' });
    if (answer.ok) renderState(await answer.json());
  } catch {
    // The gateway restarts or the network blinks: the next poll tries again.
  }
  setTimeout(pollState, STATE_POLL_MS);
}

// ---- dead letter ----------------------------------------------------------------------

let reason = '';
let listing = { entries: [], byReason: {}, more: false };

function deadLetterFilter() {
  const f = {};
  if ($('dl-topic').value) f.topic = $('dl-topic').value;
  if (reason) f.reason = reason;
  return f;
}

function deadLetterNode(entry) {
  const payload = entry.payloadTruncated !== undefined ? entry.payloadTruncated + ` …(cut; ${entry.payloadBytes} bytes, sha256 ${entry.payloadSha256})` : json(entry.payload);
  const node = el(
    'li',
    { class: 'dead-letter', 'data-id': entry.id },
    el(
      'div',
      { class: 'row' },
      el('span', { class: 'time' }, entry.receivedtime.replace('T', ' ').replace('Z', '')),
      el('span', { class: 'badge ' + entry.reason }, entry.reason.replaceAll('_', ' ')),
      el('span', { class: 'where' }, `${entry.service}/${entry.topic}`),
      entry.version !== undefined ? el('span', { class: 'version' }, 'v' + entry.version) : null,
    ),
    // The problems with their paths when known; the message says the same in one line.
    entry.errors && entry.errors.length > 0 ? errorList(entry.errors) : el('div', { class: 'message' }, entry.message),
    el('div', { class: 'details' }, el('h3', {}, 'payload as stored'), el('pre', {}, payload), el('div', { class: 'id' }, entry.id)),
  );
  node.querySelector('.row').addEventListener('click', () => node.classList.toggle('open'));
  return node;
}

function renderDeadLetters() {
  const total = Object.values(listing.byReason).reduce((a, b) => a + b, 0);
  $('dl-count').textContent = `${listing.entries.length} newest shown${listing.more ? ' (more stored)' : ''}`;
  const chips = [el('button', { type: 'button', class: 'chip' + (reason === '' ? ' active' : ''), 'data-reason': '' }, `all ${reason === '' ? total : ''}`.trim())];
  for (const r of ['invalid', 'event_too_large', 'too_large', 'malformed']) {
    const n = listing.byReason[r];
    if (n === undefined && reason !== r) continue;
    chips.push(el('button', { type: 'button', class: 'chip' + (reason === r ? ' active' : ''), 'data-reason': r }, `${r.replaceAll('_', ' ')} ${n || 0}`));
  }
  $('dl-reasons').replaceChildren(...chips);
  for (const chip of $('dl-reasons').children) chip.addEventListener('click', () => { reason = chip.dataset.reason; loadDeadLetters(); });
  $('dead-letters').replaceChildren(...listing.entries.map(deadLetterNode));
  $('dl-empty').hidden = listing.entries.length > 0;
  $('dl-redrive').disabled = listing.entries.length === 0;
  $('dl-dry-run').disabled = listing.entries.length === 0;
}

async function loadDeadLetters() {
  try {
    const answer = await fetch('/inspect/dead-letter?' + new URLSearchParams(deadLetterFilter()), { cache: 'no-store' });
    if (answer.ok) listing = await answer.json();
  } catch {
    // Tried again on the next poll.
  }
  renderDeadLetters();
}

function showResult(answer) {
  const c = answer.counts || {};
  const parts = ['accepted', 'invalid', 'unreadable', 'failed'].filter((k) => c[k]).map((k) => `${c[k]} ${k}`);
  const verb = answer.dryRun ? 'Dry run against today\u2019s schemas' : 'Re-drive';
  $('dl-result').replaceChildren(`${verb}: ${parts.join(', ') || 'nothing matched'}.`);
  const failing = (answer.results || []).filter((r) => r.outcome !== 'accepted').slice(0, 5);
  for (const r of failing) $('dl-result').append(el('div', { class: 'message' }, `${r.service}/${r.topic} ${r.outcome}: `, r.errors ? r.errors.map((p) => `${p.path || '(event)'} ${p.message}`).join('; ') : r.message || ''));
  $('dl-result').hidden = false;
}

async function replay(dryRun) {
  const body = { ...deadLetterFilter(), ids: listing.entries.map((e) => e.id), dryRun, confirm: !dryRun };
  try {
    const answer = await fetch('/inspect/dead-letter/replay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const result = await answer.json();
    if (!answer.ok) {
      $('dl-result').replaceChildren(`Re-drive refused: ${result.error ? result.error.message : answer.status}`);
      $('dl-result').hidden = false;
    } else showResult(result);
  } catch (err) {
    $('dl-result').replaceChildren(`Re-drive failed: ${err.message}`);
    $('dl-result').hidden = false;
  }
  loadDeadLetters();
}

$('dl-topic').addEventListener('change', loadDeadLetters);
$('dl-refresh').addEventListener('click', loadDeadLetters);
$('dl-dry-run').addEventListener('click', () => replay(true));
$('dl-redrive').addEventListener('click', () => {
  $('dl-confirm-text').textContent = `Send the ${listing.entries.length} entries shown through today's validation and down their routes?`;
  $('dl-confirm').hidden = false;
});
$('dl-confirm-no').addEventListener('click', () => ($('dl-confirm').hidden = true));
$('dl-confirm-yes').addEventListener('click', () => {
  $('dl-confirm').hidden = true;
  replay(false);
});

function pollDeadLetters() {
  loadDeadLetters().finally(() => setTimeout(pollDeadLetters, DEAD_LETTER_POLL_MS));
}

connect();
pollState();
pollDeadLetters();
renderEvents();
