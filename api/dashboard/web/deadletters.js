// The dead letters: work set aside as poison — a task no worker could finish or an input no
// orchestrator could apply — newest first, with the reason and the entry as it was queued
// (GET /api/v1/dead-letters; one page of at most 100, as every view of the dashboard).
import { h, hashLink, setText } from './dom.js';
import { formatCount, formatJson, formatTime } from './format.js';
import { mountPolledTable } from './panel.js';

const PAGE_SIZE = 100;

// The entry, collapsed; `open` remembers which ones the user opened across re-renders.
function entryBlock(letter, open) {
  const details = h('details', { class: 'entry', 'data-testid': 'dead-letter-entry', open: open.has(letter.id) },
    h('summary', {}, letter.kind === 'task' && letter.entry?.activity ? letter.entry.activity : 'entry'),
    h('pre', { class: 'json', 'data-testid': 'dead-letter-entry-json' },
      typeof letter.entry === 'string' ? letter.entry : formatJson(letter.entry)));
  details.addEventListener('toggle', () => {
    if (details.open) open.add(letter.id);
    else open.delete(letter.id);
  });
  return details;
}

function letterRow(letter, open) {
  return h('tr', { 'data-testid': 'dead-letter-row', 'data-id': letter.id, 'data-kind': letter.kind },
    h('td', { class: 'mono nowrap' }, formatTime(letter.time)),
    h('td', {}, h('span', { class: `badge kind-${letter.kind}`, 'data-testid': 'dead-letter-kind' }, letter.kind)),
    h('td', { class: 'mono' }, h('a', { href: hashLink('workflows', letter.workflow_id), 'data-testid': 'dead-letter-workflow' },
      letter.workflow_id)),
    h('td', { class: 'reason', 'data-testid': 'dead-letter-reason' }, letter.reason),
    h('td', { class: 'num', 'data-testid': 'dead-letter-deliveries' }, formatCount(letter.deliveries)),
    h('td', {}, entryBlock(letter, open)));
}

export function mountDeadLetters(container, route, ctx) {
  const total = h('span', { class: 'muted', 'data-testid': 'dead-letters-total' }, '');
  const open = new Set();
  return mountPolledTable(container, ctx, {
    testid: 'dead-letters',
    title: 'Dead letters',
    what: 'The dead letters',
    path: `/api/v1/dead-letters?limit=${PAGE_SIZE}`,
    interval_ms: 2000,
    columns: ['Set aside', 'Kind', 'Workflow', 'Reason', 'Deliveries', 'Entry'],
    header: h('p', { class: 'view-note' }, total),
    update(answer) {
      const shown = answer.items?.length ?? 0;
      setText(total, answer.total > shown ? `${formatCount(answer.total)} kept; the newest ${formatCount(shown)} shown`
                                          : `${formatCount(answer.total ?? 0)} kept`);
    },
    items: (answer) => answer.items ?? [],
    row: (letter) => letterRow(letter, open),
    empty: 'No dead letters: nothing has been set aside.',
  });
}
