// The frame of a view that shows one polled API answer as a table (the fleet and the dead letters):
// a title, an optional header the view fills, an error line that shows the problem detail when a
// poll fails (the last table shown stays), and a table whose rows the view builds. The table is
// rebuilt only when the listed items changed, so a poll that brings the same answer disturbs
// nothing the user is looking at.
import { getJson } from './api.js';
import { h, replaceChildren, setText } from './dom.js';

// Mounts the frame into `container` and polls `spec.path` every `spec.interval_ms`.
// spec: {testid, title, what (for the error line), path, interval_ms, columns: [title],
//        header?: Node, update?(answer), items(answer) -> [item], row(item) -> <tr>, empty: text,
//        key?(answer) -> text: something besides the items that the rows show, e.g. a time they
//        count from; the table is rebuilt when it changes too}
// Returns the cleanup that stops polling.
export function mountPolledTable(container, ctx, spec) {
  const error = h('p', { class: 'inline-error', 'data-testid': `${spec.testid}-error`, role: 'alert', hidden: true });
  const body = h('tbody', {});
  replaceChildren(container, h('div', { class: spec.testid, 'data-testid': `${spec.testid}-page` },
    h('div', { class: 'page-title' }, h('h1', {}, spec.title)),
    error,
    spec.header ?? null,
    h('section', { class: 'card list' }, h('div', { class: 'table-wrap' },
      h('table', { class: 'table', 'data-testid': `${spec.testid}-table` },
        h('thead', {}, h('tr', {}, spec.columns.map((title) => h('th', {}, title)))),
        body)))));
  let shown = null;
  const tick = async () => {
    let answer;
    try {
      answer = await getJson(spec.path);
    } catch (failure) {
      error.hidden = false;
      setText(error, `${spec.what} could not be loaded: ${failure.detail ?? failure}`);
      ctx.live.report(failure);
      return;
    }
    error.hidden = true;
    ctx.live.report(null);
    if (spec.update) spec.update(answer);
    const items = spec.items(answer);
    const text = JSON.stringify([items, spec.key ? spec.key(answer) : null]);
    if (text === shown) return;
    shown = text;
    const rows = items.map(spec.row);
    if (!rows.length) {
      rows.push(h('tr', { class: 'empty-row' },
        h('td', { colspan: spec.columns.length, 'data-testid': `${spec.testid}-empty` }, spec.empty)));
    }
    replaceChildren(body, rows);
  };
  const poller = ctx.poll(tick, spec.interval_ms);
  return () => poller.stop();
}

// A small labelled number for a view's header, e.g. "available 7".
export function countCard(label, testid, modifier = '') {
  const value = h('strong', { class: 'count-value', 'data-testid': testid }, '—');
  return { element: h('div', { class: `count-card ${modifier}` }, h('span', { class: 'count-label' }, label), value), value };
}
