// The dashboard's pure logic (no DOM, no fetch): statuses, task states from a history, throughput,
// and the overview's filters. Tested under Node by tests/browser/model.test.mjs.

export const STATUSES = [
  'pending', 'running', 'waiting', 'compensating', 'completed', 'faulted', 'compensated',
  'compensation_failed', 'cancelled', 'timed_out', 'terminated',
];

export const FINAL_STATUSES = new Set([
  'completed', 'faulted', 'compensated', 'compensation_failed', 'cancelled', 'timed_out', 'terminated',
]);

export function isFinal(status) {
  return FINAL_STATUSES.has(status);
}

// The controls an operator may use on a workflow, as the API will accept them (see the contract:
// anything else answers 409). The page still shows the server's answer when it disagrees.
export function allowedActions(workflow) {
  const final = isFinal(workflow.status);
  const paused = workflow.paused === true;
  return {
    cancel: !final,
    terminate: !final,
    pause: !final && !paused,
    resume: paused,
    retry: workflow.status === 'faulted' || workflow.status === 'compensation_failed',
    signal: !final,
  };
}

// The state of each task reference after the events so far; the last event that says something about
// a task wins. Task states: running, completed, failed, skipped, cancelled, compensating, compensated,
// compensation_failed; a reference absent from the map has not run ("none").
const STATE_OF_EVENT = {
  task_started: 'running',
  task_retried: 'running',
  activity_scheduled: 'running',
  activity_started: 'running',
  task_completed: 'completed',
  task_faulted: 'failed',
  activity_failed: 'failed',
  activity_timed_out: 'failed',
  task_skipped: 'skipped',
  task_cancelled: 'cancelled',
  compensation_started: 'compensating',
  compensation_completed: 'compensated',
  compensation_failed: 'compensation_failed',
};

export function deriveTaskStates(events, states = new Map()) {
  for (const event of events) {
    const state = STATE_OF_EVENT[event.type];
    if (state === undefined || typeof event.ref !== 'string' || event.ref === '/') continue;
    // A task that completed keeps its colour when a late activity event for it arrives (e.g. the
    // activity_completed recorded just before task_completed is not "running" again).
    if (state === 'running' && states.get(event.ref) === 'completed' && event.type !== 'task_started') continue;
    states.set(event.ref, state);
  }
  return states;
}

// Workflows finished per second, from successive counts. Each sample is (time, finished total); the
// rate is taken over the samples of the last `window_ms`. A drop in the total (a different filter,
// a store reset) starts over rather than showing a negative rate.
export class Throughput {
  constructor(window_ms = 10_000, samples_max = 120) {
    this.window_ms = window_ms;
    this.samples_max = samples_max;
    this.samples = [];
    this.history = [];  // recent rates, for the sparkline
  }

  static finishedOf(counts) {
    let total = 0;
    for (const status of FINAL_STATUSES) total += Number(counts?.[status] ?? 0);
    return total;
  }

  add(time_ms, finished) {
    const last = this.samples[this.samples.length - 1];
    if (last && finished < last.finished) this.reset();
    this.samples.push({ time_ms, finished });
    // Keep one sample at or before the window's start, so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1].time_ms <= time_ms - this.window_ms) this.samples.shift();
    const rate = this.rate();
    if (rate !== null) {
      this.history.push(rate);
      if (this.history.length > this.samples_max) this.history.shift();
    }
    return rate;
  }

  // Finished per second over the window, or null before there are two samples.
  rate() {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const elapsed_ms = last.time_ms - first.time_ms;
    if (elapsed_ms <= 0) return null;
    return ((last.finished - first.finished) * 1000) / elapsed_ms;
  }

  reset() {
    this.samples = [];
    this.history = [];
  }
}

// The overview's filters live in the URL fragment (#/?status=running&workflow=delivery), so a view
// can be bookmarked and shared. Unknown keys are dropped.
export const FILTER_KEYS = ['status', 'workflow', 'id_prefix', 'started_after', 'started_before'];

export function parseFilters(query) {
  const params = new URLSearchParams(query);
  const filters = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key);
    if (value !== null && value.trim() !== '') filters[key] = value.trim();
  }
  return filters;
}

export function filtersToQuery(filters) {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) if (filters[key]) params.set(key, filters[key]);
  return params.toString();
}

// A datetime-local value ("2026-11-21T10:00", read in the browser's time zone) as RFC 3339 UTC, or ''
// when empty or not a date.
export function localInputToRfc3339(value) {
  if (!value) return '';
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString();
}

// The reverse, for filling the inputs from the URL.
export function rfc3339ToLocalInput(value) {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return '';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// The history events' categories, for colouring the timeline.
export function eventCategory(type) {
  if (type.startsWith('workflow_')) return 'workflow';
  if (type.startsWith('compensation_')) return 'compensation';
  if (type.startsWith('activity_')) return type === 'activity_failed' || type === 'activity_timed_out' ? 'failure' : 'activity';
  if (type === 'task_faulted') return 'failure';
  if (type.startsWith('task_') || type === 'switch_matched') return 'task';
  if (type.startsWith('timer_')) return 'timer';
  if (type.startsWith('signal_')) return 'signal';
  return 'other';
}
