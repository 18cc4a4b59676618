// The overview: counts per status, live throughput, and one filtered page of workflows at a time.
// It never asks for more than one page (limit <= 100) and the counts, so it stays fast however many
// workflows are stored.
import { getJson, query } from './api.js';
import { h, s, hashLink, replaceChildren, setText } from './dom.js';
import { durationBetween, formatCount, formatDuration, formatRate, formatTime } from './format.js';
import {
  STATUSES, Throughput, filtersToQuery, localInputToRfc3339, parseFilters, rfc3339ToLocalInput,
} from './model.js';

const PAGE_SIZES = [25, 50, 100];

export function statusBadge(status, testid = 'status-badge') {
  return h('span', { class: `badge status-${status}`, 'data-testid': testid, 'data-status': status },
           String(status).replace(/_/g, ' '));
}

function countCards(filters) {
  const cards = new Map();
  const total = h('strong', { class: 'count-value', 'data-testid': 'count-total' }, '—');
  const totalCard = h('a', { class: 'count-card total', href: overviewHash({ ...filters, status: '' }) },
                      h('span', { class: 'count-label' }, 'all'), total);
  const grid = h('div', { class: 'count-grid', 'data-testid': 'status-counts' }, totalCard);
  for (const status of STATUSES) {
    const value = h('strong', { class: 'count-value', 'data-testid': `count-${status}` }, '—');
    const card = h('a', { class: `count-card status-${status}`, href: overviewHash({ ...filters, status }),
                          'aria-current': filters.status === status ? 'true' : null },
                   h('span', { class: 'count-label' }, status.replace(/_/g, ' ')), value);
    cards.set(status, { card, value });
    grid.appendChild(card);
  }
  return {
    element: grid,
    update(result) {
      setText(total, formatCount(result.total));
      for (const [status, { card, value }] of cards) {
        const n = Number(result.counts?.[status] ?? 0);
        setText(value, formatCount(n));
        card.classList.toggle('zero', n === 0);
      }
    },
  };
}

function overviewHash(filters) {
  const text = filtersToQuery(filters);
  return text ? `#/?${text}` : '#/';
}

function sparkline(rates) {
  const width = 160;
  const height = 36;
  const max = Math.max(0.001, ...rates);
  const step = rates.length > 1 ? width / (rates.length - 1) : width;
  const points = rates.map((rate, i) => `${(i * step).toFixed(1)},${(height - 2 - (rate / max) * (height - 4)).toFixed(1)}`);
  return s('svg', { class: 'sparkline', width, height, viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true' },
           points.length > 1 ? s('polyline', { points: points.join(' ') }) : null);
}

function throughputCard() {
  const value = h('strong', { class: 'throughput-value', 'data-testid': 'throughput-value' }, '—');
  const chart = h('div', { class: 'throughput-chart' });
  const element = h('div', { class: 'card throughput', 'data-testid': 'throughput' },
                    h('span', { class: 'count-label' }, 'finished / s · last 10 s'), value, chart);
  const meter = new Throughput();
  return {
    element,
    update(result) {
      const rate = meter.add(performance.now(), Throughput.finishedOf(result.counts));
      setText(value, rate === null ? '…' : `${formatRate(rate)} /s`);
      replaceChildren(chart, sparkline(meter.history));
    },
  };
}

function filterForm(filters, pageSize) {
  const statusSelect = h('select', { name: 'status', 'data-testid': 'filter-status' },
    h('option', { value: '' }, 'any status'),
    STATUSES.map((st) => h('option', { value: st, selected: filters.status === st }, st.replace(/_/g, ' '))));
  const workflow = h('input', { name: 'workflow', value: filters.workflow ?? '', placeholder: 'e.g. delivery',
                                list: 'workflow-names', autocomplete: 'off', 'data-testid': 'filter-workflow' });
  const idPrefix = h('input', { name: 'id_prefix', value: filters.id_prefix ?? '', placeholder: 'id starts with…',
                                autocomplete: 'off', 'data-testid': 'filter-id-prefix' });
  const after = h('input', { type: 'datetime-local', name: 'started_after', 'data-testid': 'filter-started-after',
                             value: filters.started_after ? rfc3339ToLocalInput(filters.started_after) : '' });
  const before = h('input', { type: 'datetime-local', name: 'started_before', 'data-testid': 'filter-started-before',
                              value: filters.started_before ? rfc3339ToLocalInput(filters.started_before) : '' });
  const limit = h('select', { name: 'limit', 'data-testid': 'page-size' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === pageSize }, `${n} per page`)));
  const datalist = h('datalist', { id: 'workflow-names' });
  const field = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input);
  const form = h('form', { class: 'filters card', 'data-testid': 'filters' },
    field('Status', statusSelect), field('Workflow', workflow), field('Id prefix', idPrefix),
    field('Started after', after), field('Started before', before), field('Page', limit), datalist,
    h('div', { class: 'filter-buttons' },
      h('button', { type: 'submit', class: 'button primary', 'data-testid': 'filter-apply' }, 'Apply'),
      h('a', { class: 'button', href: '#/', 'data-testid': 'filter-reset' }, 'Reset')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = {
      status: statusSelect.value,
      workflow: workflow.value.trim(),
      id_prefix: idPrefix.value.trim(),
      started_after: localInputToRfc3339(after.value),
      started_before: localInputToRfc3339(before.value),
    };
    sessionStorage.setItem('flightplan.limit', limit.value);
    const target = overviewHash(next);
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = target;
  });
  statusSelect.addEventListener('change', () => form.requestSubmit());
  limit.addEventListener('change', () => form.requestSubmit());
  // Names for the workflow filter: the registered definitions (one small request, once).
  getJson('/api/v1/definitions').then((result) => {
    const names = new Set((result.definitions ?? []).map((d) => d.name));
    replaceChildren(datalist, [...names].sort().map((name) => h('option', { value: name })));
  }).catch(() => {});
  return form;
}

function workflowRow(w) {
  const duration = durationBetween(w.started, w.closed ?? w.updated);
  return h('tr', { 'data-testid': 'workflow-row', 'data-id': w.id, 'data-status': w.status },
    h('td', { class: 'mono' }, h('a', { href: hashLink('workflows', w.id), 'data-testid': 'workflow-link' }, w.id)),
    h('td', {}, w.workflow, h('span', { class: 'muted' }, ` ${w.version ?? ''}`)),
    h('td', {}, statusBadge(w.status), w.paused ? h('span', { class: 'badge paused' }, 'paused') : null,
      w.error ? h('span', { class: 'row-error', title: w.error.detail ?? '' }, w.error.title ?? 'error') : null),
    h('td', { class: 'mono nowrap' }, formatTime(w.started)),
    h('td', { class: 'mono nowrap' }, formatTime(w.closed ?? w.updated)),
    h('td', { class: 'num nowrap', title: w.closed ? 'start to close' : 'start to last update' },
      duration === null ? '—' : formatDuration(duration) + (w.closed ? '' : '+')),
    h('td', { class: 'num' }, formatCount(w.history_length)));
}

function workflowTable(filters, pageSize) {
  const body = h('tbody', {});
  const error = h('p', { class: 'inline-error', 'data-testid': 'list-error', role: 'alert', hidden: true });
  const pageLabel = h('span', { class: 'muted', 'data-testid': 'page-number' }, 'page 1');
  const newer = h('button', { type: 'button', class: 'button', 'data-testid': 'page-newer', disabled: true }, '← Newer');
  const older = h('button', { type: 'button', class: 'button', 'data-testid': 'page-older', disabled: true }, 'Older →');
  const element = h('section', { class: 'card list' },
    h('div', { class: 'card-title' }, h('h2', {}, 'Workflows'), h('span', { class: 'muted' }, 'newest first')),
    error,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'table', 'data-testid': 'workflow-list' },
        h('thead', {}, h('tr', {}, ['Id', 'Workflow', 'Status', 'Started', 'Updated / closed', 'Duration', 'Events']
          .map((title) => h('th', {}, title)))),
        body)),
    h('div', { class: 'pager' }, newer, pageLabel, older));
  // cursors[k] is the cursor of page k (page 0 has none); the stack lets "Newer" go back.
  const cursors = [null];
  let nextCursor = null;
  let lastText = '';
  let onPage = () => {};
  newer.addEventListener('click', () => {
    if (cursors.length > 1) cursors.pop();
    onPage();
  });
  older.addEventListener('click', () => {
    if (nextCursor) cursors.push(nextCursor);
    onPage();
  });
  return {
    element,
    onPageChange(callback) {
      onPage = callback;
    },
    path() {
      return '/api/v1/workflows' + query({ ...filters, limit: pageSize, cursor: cursors[cursors.length - 1] });
    },
    update(result) {
      error.hidden = true;
      nextCursor = result.next_cursor ?? null;
      newer.disabled = cursors.length <= 1;
      older.disabled = !nextCursor;
      setText(pageLabel, `page ${cursors.length}`);
      const text = JSON.stringify(result.workflows);
      if (text === lastText) return;
      lastText = text;
      const rows = (result.workflows ?? []).map(workflowRow);
      if (!rows.length) {
        rows.push(h('tr', { class: 'empty-row' }, h('td', { colspan: 7, 'data-testid': 'list-empty' },
          Object.keys(filters).length ? 'No workflow matches these filters.' : 'No workflows yet.')));
      }
      replaceChildren(body, rows);
    },
    failed(detail) {
      error.hidden = false;
      setText(error, `The list could not be loaded: ${detail}`);
    },
  };
}

export function mountOverview(container, route, ctx) {
  const filters = parseFilters(route.query);
  const stored = Number(sessionStorage.getItem('flightplan.limit'));
  const pageSize = PAGE_SIZES.includes(stored) ? stored : 50;
  const counts = countCards(filters);
  const throughput = throughputCard();
  const table = workflowTable(filters, pageSize);
  const countsError = h('p', { class: 'inline-error', 'data-testid': 'counts-error', role: 'alert', hidden: true });
  replaceChildren(container, h('div', { class: 'overview', 'data-testid': 'overview' },
    h('div', { class: 'page-title' }, h('h1', {}, 'Workflows'),
      filters.workflow ? h('span', { class: 'muted' }, `counts for ${filters.workflow}`) : null),
    countsError,
    h('div', { class: 'summary' }, counts.element, throughput.element),
    filterForm(filters, pageSize),
    table.element));

  const tick = async () => {
    const [countResult, listResult] = await Promise.allSettled([
      getJson('/api/v1/workflows/counts' + query({ workflow: filters.workflow })),
      getJson(table.path()),
    ]);
    if (countResult.status === 'fulfilled') {
      countsError.hidden = true;
      counts.update(countResult.value);
      throughput.update(countResult.value);
    } else {
      countsError.hidden = false;
      setText(countsError, `Counts unavailable: ${countResult.reason.detail ?? countResult.reason}`);
    }
    if (listResult.status === 'fulfilled') table.update(listResult.value);
    else table.failed(listResult.reason.detail ?? String(listResult.reason));
    const failure = [countResult, listResult].find((r) => r.status === 'rejected');
    ctx.live.report(failure?.reason);
  };
  const poller = ctx.poll(tick, 1000);
  table.onPageChange(() => poller.now());
  return () => poller.stop();
}
