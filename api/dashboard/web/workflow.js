// One workflow: header with status and controls, the definition's graph coloured by the history,
// pending activities, data, and the history as a timeline. Polls GET /workflows/{id} every second;
// the history is fetched again only when its length changed.
import { ApiError, definitionPath, getJson, postJson, request, workflowPath } from './api.js';
import { h, hashLink, openDialog, replaceChildren, s, setText } from './dom.js';
import { durationBetween, formatCount, formatDuration, formatJson, formatRelative, formatTime, previewJson } from './format.js';
import { renderGraph, TASK_STATES } from './graph.js';
import { allowedActions, deriveTaskStates, eventCategory, isFinal } from './model.js';
import { statusBadge } from './overview.js';

const TIMELINE_PAGE = 200;
// Above this many events the history is not refreshed every second by itself (a click does it).
const AUTO_HISTORY_EVENTS_MAX = 5000;

function metaItem(label, value, testid) {
  const node = h('dd', { 'data-testid': testid }, value);
  return { element: h('div', { class: 'meta-item' }, h('dt', {}, label), node), node };
}

function header(id, actions) {
  const status = h('span', { 'data-testid': 'workflow-status-slot' });
  const paused = h('span', { class: 'badge paused', 'data-testid': 'paused-badge', hidden: true }, 'paused');
  const items = {
    workflow: metaItem('Workflow', '—', 'workflow-definition'),
    started: metaItem('Started', '—', 'workflow-started'),
    updated: metaItem('Updated', '—', 'workflow-updated'),
    closed: metaItem('Closed', '—', 'workflow-closed'),
    duration: metaItem('Duration', '—', 'workflow-duration'),
    events: metaItem('Events', '—', 'workflow-events'),
    correlation: metaItem('Correlation id', '—', 'workflow-correlation'),
    held: metaItem('Held inputs', '—', 'workflow-held'),
  };
  const element = h('header', { class: 'card wf-header' },
    h('div', { class: 'wf-title' },
      h('a', { href: '#/', class: 'back' }, '← Workflows'),
      h('h1', { class: 'mono', 'data-testid': 'workflow-id' }, id), status, paused),
    h('dl', { class: 'meta' }, Object.values(items).map((item) => item.element)),
    actions.element);
  let shownStatus = null;
  return {
    element,
    update(w) {
      if (w.status !== shownStatus) {
        shownStatus = w.status;
        replaceChildren(status, statusBadge(w.status, 'workflow-status'));
      }
      paused.hidden = w.paused !== true;
      const defLink = h('a', { href: hashLink('definitions', w.workflow, w.version) }, `${w.workflow} ${w.version}`);
      if (items.workflow.node.textContent !== defLink.textContent) replaceChildren(items.workflow.node, defLink);
      setText(items.started.node, formatTime(w.started));
      setText(items.updated.node, formatTime(w.updated));
      setText(items.closed.node, w.closed ? formatTime(w.closed) : '—');
      const duration = durationBetween(w.started, w.closed ?? w.updated);
      setText(items.duration.node, duration === null ? '—' : formatDuration(duration) + (w.closed ? '' : ' until the last update'));
      setText(items.events.node, formatCount(w.history_length));
      setText(items.correlation.node, w.correlation_id || '—');
      setText(items.held.node, w.held_inputs === undefined ? '—' : formatCount(w.held_inputs));
    },
  };
}

function reasonField() {
  const input = h('input', { name: 'reason', maxlength: 500, placeholder: 'optional, kept in the history',
                             'data-testid': 'action-reason' });
  return { input, element: h('label', { class: 'field wide' }, h('span', {}, 'Reason'), input) };
}

// The control buttons. `perform(action, body)` posts and reports; `refresh()` polls at once.
function actionBar(id, notice, refresh) {
  const control = async (action, body) => {
    const result = await postJson(workflowPath(id, action), body);
    notice.ok(`${action} accepted${result.action && result.action !== action ? ` (${result.action})` : ''}`);
    refresh();
  };
  const confirmed = (action, title, explanation, danger) => async () => {
    const reason = reasonField();
    await openDialog({
      title, danger, confirmLabel: title, testid: 'confirm-dialog',
      body: [h('p', {}, explanation), reason.element],
      onConfirm: () => control(action, reason.input.value.trim() ? { reason: reason.input.value.trim() } : undefined),
    });
  };
  const direct = (action) => async () => {
    try {
      await control(action);
    } catch (error) {
      notice.error(error);
    }
  };
  const buttons = {
    cancel: ['Cancel', confirmed('cancel', 'Cancel workflow',
      'Running activities are cancelled and completed steps are compensated, newest first.', true)],
    terminate: ['Terminate', confirmed('terminate', 'Terminate workflow',
      'The workflow stops at once; nothing is compensated.', true)],
    pause: ['Pause', direct('pause')],
    resume: ['Resume', direct('resume')],
    retry: ['Retry', direct('retry')],
    signal: ['Send signal', () => signalDialog(id, notice, refresh)],
  };
  const elements = {};
  for (const [action, [label, handler]] of Object.entries(buttons)) {
    elements[action] = h('button', { type: 'button', class: `button action-${action}`, 'data-testid': `action-${action}`,
                                     onclick: handler }, label);
  }
  return {
    element: h('div', { class: 'actions' }, Object.values(elements)),
    update(w) {
      const allowed = allowedActions(w);
      for (const [action, button] of Object.entries(elements)) {
        button.disabled = !allowed[action];
        button.hidden = (action === 'pause' && w.paused) || (action === 'resume' && !w.paused);
      }
    },
  };
}

function signalDialog(id, notice, refresh) {
  const name = h('input', { name: 'signal', required: true, pattern: '[^/\\s]+', placeholder: 'e.g. delivered',
                            'data-testid': 'signal-name' });
  const payload = h('textarea', { name: 'payload', rows: 8, class: 'mono', spellcheck: 'false',
                                  'data-testid': 'signal-payload' }, '{}');
  return openDialog({
    title: 'Send signal', confirmLabel: 'Send', testid: 'signal-dialog',
    body: [h('label', { class: 'field wide' }, h('span', {}, 'Name'), name),
           h('label', { class: 'field wide' }, h('span', {}, 'Payload (JSON)'), payload)],
    onConfirm: async () => {
      if (!name.value.trim()) throw new Error('The signal needs a name.');
      let value;
      try {
        value = payload.value.trim() ? JSON.parse(payload.value) : undefined;
      } catch (e) {
        throw new Error(`The payload is not JSON: ${e.message}`);
      }
      await postJson(workflowPath(id, 'signals', name.value.trim()), value);
      notice.ok(`signal ${name.value.trim()} accepted`);
      refresh();
    },
  });
}

function noticeArea() {
  const element = h('div', { class: 'notice', 'data-testid': 'action-result', role: 'status', hidden: true });
  let timer = null;
  const show = (kind, text) => {
    clearTimeout(timer);
    element.hidden = false;
    element.dataset.kind = kind;
    element.setAttribute('data-testid', kind === 'error' ? 'action-error' : 'action-result');
    setText(element, text);
    if (kind === 'ok') timer = setTimeout(() => { element.hidden = true; }, 6000);
  };
  return {
    element,
    ok: (text) => show('ok', text),
    error: (error) => show('error', error instanceof ApiError ? `${error.status}: ${error.detail}` : String(error.message ?? error)),
  };
}

function graphCard() {
  const body = h('div', { class: 'graph-wrap', 'data-testid': 'graph-container' }, h('p', { class: 'muted' }, 'Loading the definition…'));
  const legend = h('ul', { class: 'legend' }, TASK_STATES.map(([state, label]) =>
    h('li', { class: `task state-${state}` }, s('svg', { width: 14, height: 14, 'aria-hidden': 'true' },
      s('rect', { class: 'box', x: 1, y: 1, width: 12, height: 12, rx: 3 })), label)));
  let graph = null;
  let states = new Map();
  return {
    element: h('section', { class: 'card graph-card' }, h('div', { class: 'card-title' }, h('h2', {}, 'Flow')), legend, body),
    show(definition) {
      graph = renderGraph(definition.graph ?? { tasks: [] }, { s, label: `${definition.name} ${definition.version}` });
      replaceChildren(body, graph.svg);
      graph.setStates(states);
    },
    failed(detail) {
      replaceChildren(body, h('p', { class: 'inline-error', 'data-testid': 'graph-error' }, `The graph is unavailable: ${detail}`));
    },
    setStates(next) {
      states = next;
      if (graph) graph.setStates(states);
    },
  };
}

function pendingCard() {
  const body = h('div', {});
  let last = '';
  return {
    element: h('section', { class: 'card' }, h('div', { class: 'card-title' }, h('h2', {}, 'Pending activities')), body),
    update(w) {
      const activities = w.pending_activities ?? [];
      const timers = w.timers ?? [];
      const text = JSON.stringify([activities, timers]);
      if (text === last) return;
      last = text;
      const now_ms = Date.now();
      const deadline = (d) => h('li', {}, h('span', { class: 'deadline-kind' }, d.kind.replace(/_/g, ' ')),
        h('span', { class: 'mono' }, formatTime(d.due)), ' ', h('span', { class: 'muted' }, formatRelative(d.due, now_ms)));
      const table = activities.length
        ? h('ul', { class: 'activities', 'data-testid': 'pending-activities' }, activities.map((a) =>
            h('li', { class: 'activity', 'data-testid': 'pending-activity', 'data-activity': a.activity },
              h('div', { class: 'activity-head' },
                h('span', { class: 'mono activity-name' }, a.activity),
                h('span', { class: 'muted' }, `#${a.activity_id}`),
                h('span', { class: 'badge attempt', 'data-testid': 'pending-attempt' }, `attempt ${a.attempt}`),
                h('span', { class: `badge ${a.started ? 'status-running' : 'status-pending'}` }, a.started ? 'started' : 'queued')),
              h('div', { class: 'activity-times muted' },
                `scheduled ${formatTime(a.scheduled)}`, a.started ? ` · started ${formatTime(a.started)}` : ''),
              (a.deadlines ?? []).length ? h('ul', { class: 'deadlines' }, a.deadlines.map(deadline)) : null)))
        : h('p', { class: 'muted', 'data-testid': 'no-pending-activities' }, 'No activity in flight.');
      const timerList = timers.length
        ? [h('h3', {}, 'Timers'), h('ul', { class: 'deadlines', 'data-testid': 'timers' }, timers.map(deadline))]
        : null;
      replaceChildren(body, table, timerList);
    },
  };
}

function dataCard() {
  const block = (title, testid, open) => {
    const pre = h('pre', { class: 'json', 'data-testid': testid }, '—');
    return { pre, element: h('details', { class: 'data-block', open }, h('summary', {}, title), pre) };
  };
  const blocks = {
    error: block('Error', 'workflow-error', true),
    input: block('Input', 'workflow-input', false),
    output: block('Output', 'workflow-output', true),
    context: block('Context', 'workflow-context', false),
  };
  const compensation = h('p', { class: 'compensation', 'data-testid': 'workflow-compensation', hidden: true });
  return {
    element: h('section', { class: 'card' }, h('div', { class: 'card-title' }, h('h2', {}, 'Data')), compensation,
               Object.values(blocks).map((b) => b.element)),
    update(w) {
      setText(blocks.input.pre, formatJson(w.input));
      setText(blocks.output.pre, formatJson(w.output));
      setText(blocks.context.pre, formatJson(w.context));
      setText(blocks.error.pre, formatJson(w.error));
      blocks.error.element.classList.toggle('has-error', w.error !== null && w.error !== undefined);
      blocks.error.element.hidden = w.error === null || w.error === undefined;
      compensation.hidden = !w.compensation;
      if (w.compensation) {
        const c = w.compensation;
        setText(compensation, `Compensation (cause: ${c.cause ?? '?'})` + (c.current ? `, now undoing ${c.current}` : '') +
                (Array.isArray(c.failures) && c.failures.length ? `, ${c.failures.length} failed` : ''));
      }
    },
  };
}

function eventRow(event) {
  const preview = previewJson(event.data);
  return h('li', { class: `event cat-${eventCategory(event.type)}`, 'data-testid': 'timeline-event', 'data-type': event.type,
                   'data-seq': event.seq },
    h('details', {},
      h('summary', {},
        h('span', { class: 'seq num' }, `#${event.seq}`),
        h('time', { class: 'mono', datetime: event.time }, formatTime(event.time)),
        h('span', { class: 'event-type' }, event.type),
        h('code', { class: 'ref' }, event.ref ?? ''),
        preview ? h('span', { class: 'preview mono' }, preview) : null),
      h('pre', { class: 'json' }, formatJson(event.data))));
}

// Newest first. New events are added at the top without touching the rows already shown, so an
// expanded event stays open; older ones are rendered on demand, TIMELINE_PAGE at a time.
function timelineCard(id, onRefresh) {
  const list = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const more = h('button', { type: 'button', class: 'button', 'data-testid': 'timeline-more', hidden: true }, 'Show older events');
  const note = h('p', { class: 'muted', 'data-testid': 'timeline-note', hidden: true });
  const refresh = h('button', { type: 'button', class: 'button', 'data-testid': 'timeline-refresh' }, 'Refresh');
  const download = h('button', { type: 'button', class: 'button', 'data-testid': 'history-download' }, 'Download JSON');
  let events = [];
  let newestShown = 0;   // highest seq rendered
  let oldestShown = Infinity;
  const renderOlder = () => {
    const older = events.filter((e) => e.seq < oldestShown).slice(-TIMELINE_PAGE).reverse();
    for (const event of older) list.appendChild(eventRow(event));
    if (older.length) oldestShown = older[older.length - 1].seq;
    more.hidden = !events.some((e) => e.seq < oldestShown);
  };
  more.addEventListener('click', renderOlder);
  refresh.addEventListener('click', onRefresh);
  download.addEventListener('click', async () => {
    // A plain link would not carry the bearer token, so fetch and hand the browser a Blob.
    try {
      const response = await request('GET', workflowPath(id, 'history') + '?download=true');
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: `${id}.history.json` });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      setText(note, `Download failed: ${error.detail ?? error.message}`);
      note.hidden = false;
    }
  });
  return {
    element: h('section', { class: 'card timeline-card' },
      h('div', { class: 'card-title' }, h('h2', {}, 'History'), h('span', { class: 'muted' }, 'newest first'),
        h('span', { class: 'spacer' }), refresh, download),
      note, list, more),
    show(history) {
      events = Array.isArray(history.events) ? history.events : [];
      if (newestShown === 0) {
        const newest = events.slice(-TIMELINE_PAGE).reverse();
        for (const event of newest) list.appendChild(eventRow(event));
        if (newest.length) {
          newestShown = newest[0].seq;
          oldestShown = newest[newest.length - 1].seq;
        }
        more.hidden = !events.some((e) => e.seq < oldestShown);
        return;
      }
      const fresh = events.filter((e) => e.seq > newestShown);
      for (const event of fresh) list.prepend(eventRow(event));
      if (fresh.length) newestShown = fresh[fresh.length - 1].seq;
    },
    manual(length) {
      note.hidden = false;
      setText(note, `${formatCount(length)} events: the history is refreshed when you press Refresh.`);
    },
  };
}

export function mountWorkflow(container, route, ctx) {
  const id = route.parts[1];
  let poller = null;
  const refresh = () => poller?.now();
  const notice = noticeArea();
  const actions = actionBar(id, notice, refresh);
  const head = header(id, actions);
  const graph = graphCard();
  const pending = pendingCard();
  const data = dataCard();
  let historyLength = -1;
  let forceHistory = false;
  const timeline = timelineCard(id, () => { forceHistory = true; refresh(); });
  const loadError = h('p', { class: 'inline-error', 'data-testid': 'workflow-load-error', role: 'alert', hidden: true });
  const page = h('div', { class: 'workflow', 'data-testid': 'workflow-page' },
    loadError, head.element, notice.element,
    h('div', { class: 'wf-grid' }, graph.element, h('div', { class: 'wf-side' }, pending.element, data.element)),
    timeline.element);
  replaceChildren(container, page);

  let definitionKey = '';
  let states = new Map();
  const loadDefinition = (w) => {
    const key = `${w.workflow}\u0000${w.version}`;
    if (key === definitionKey) return;
    definitionKey = key;
    getJson(definitionPath(w.workflow, 'versions', w.version))
      .then((definition) => graph.show(definition))
      .catch((error) => graph.failed(error.detail ?? String(error)));
  };
  const tick = async () => {
    let w;
    try {
      w = await getJson(workflowPath(id));
    } catch (error) {
      loadError.hidden = false;
      setText(loadError, error.status === 404 ? `No workflow with id ${id}.` : `The workflow could not be loaded: ${error.detail}`);
      ctx.live.report(error);
      return;
    }
    loadError.hidden = true;
    ctx.live.report(null);
    head.update(w);
    actions.update(w);
    pending.update(w);
    data.update(w);
    loadDefinition(w);
    const changed = w.history_length !== historyLength;
    if (changed && (w.history_length <= AUTO_HISTORY_EVENTS_MAX || forceHistory || historyLength < 0)) {
      forceHistory = false;
      const history = await getJson(workflowPath(id, 'history'));
      historyLength = w.history_length;
      states = deriveTaskStates(history.events ?? []);
      graph.setStates(states);
      timeline.show(history);
    } else if (changed) {
      timeline.manual(w.history_length);
    }
    page.dataset.final = String(isFinal(w.status));
  };
  poller = ctx.poll(tick, 1000);
  return () => poller.stop();
}
