// Node tests of the dashboard's pure modules (no browser): task states from a history, throughput,
// filters and formatting. Run: node --test model.test.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  Throughput, allowedActions, deriveTaskStates, eventCategory, filtersToQuery, parseFilters,
} from '../../api/dashboard/web/model.js';
import {
  formatDuration, formatLocation, formatRate, formatRelative, formatTime, previewJson,
} from '../../api/dashboard/web/format.js';

const root = new URL('../../', import.meta.url);
const history = (name) => JSON.parse(readFileSync(new URL(`tests/replay/${name}`, root), 'utf8'));

// The state of the top-level task `name` (its index in the list may change as the workflow grows).
function stateOf(states, name) {
  const refs = [...states.keys()].filter((ref) => ref.endsWith(`/${name}`));
  assert.ok(refs.length <= 1, `one task called ${name}`);
  return refs.length ? states.get(refs[0]) : undefined;
}

test('a happy delivery colours every task that ran completed and the skipped one skipped', () => {
  const states = deriveTaskStates(history('delivery--happy.json').events);
  assert.equal(stateOf(states, 'checkAccount'), 'completed');
  assert.equal(stateOf(states, 'requireActiveAccount'), 'completed');
  assert.equal(stateOf(states, 'rejectInactiveAccount'), undefined);
  assert.equal(stateOf(states, 'bookThirdParty'), 'skipped');
  assert.equal(stateOf(states, 'scheduleDrone'), 'completed');
  assert.equal(stateOf(states, 'complete'), 'completed');
  assert.equal(states.has('/'), false);
});

test('a compensated delivery shows the failed task, the undone ones and their compensations', () => {
  const states = deriveTaskStates(history('delivery--compensated.json').events);
  assert.equal(stateOf(states, 'scheduleDrone'), 'failed');
  assert.equal(stateOf(states, 'createPackage'), 'compensated');
  assert.equal(stateOf(states, 'compensate'), 'completed');  // createPackage's compensation
  assert.equal(stateOf(states, 'createDelivery'), undefined);
});

test('a task retried after a failed attempt is running again, and the last event wins', () => {
  const events = [
    { type: 'task_started', ref: '/do/0/a' },
    { type: 'activity_failed', ref: '/do/0/a' },
  ];
  assert.equal(deriveTaskStates(events).get('/do/0/a'), 'failed');
  events.push({ type: 'activity_scheduled', ref: '/do/0/a' });
  assert.equal(deriveTaskStates(events).get('/do/0/a'), 'running');
  events.push({ type: 'task_completed', ref: '/do/0/a' }, { type: 'compensation_started', ref: '/do/0/a' },
              { type: 'compensation_failed', ref: '/do/0/a' });
  assert.equal(deriveTaskStates(events).get('/do/0/a'), 'compensation_failed');
});

test('throughput is finished workflows per second over the window, and restarts when the total drops', () => {
  const meter = new Throughput(10_000);
  assert.equal(meter.add(0, 100), null);
  assert.equal(meter.add(1000, 105), 5);
  assert.equal(meter.add(2000, 125), 12.5);
  // Samples older than the window leave it: from t=2000 (125) to t=13000 (147) is 2/s.
  meter.add(12_000, 140);
  assert.equal(meter.add(13_000, 147), (147 - 125) / 11);
  assert.equal(meter.add(14_000, 3), null);
  assert.equal(Throughput.finishedOf({ running: 7, completed: 3, compensated: 2, terminated: 1 }), 6);
});

test('controls follow the status and the paused flag', () => {
  assert.deepEqual(allowedActions({ status: 'running', paused: false }),
                   { cancel: true, terminate: true, pause: true, resume: false, retry: false, signal: true });
  assert.deepEqual(allowedActions({ status: 'waiting', paused: true }),
                   { cancel: true, terminate: true, pause: false, resume: true, retry: false, signal: true });
  assert.equal(allowedActions({ status: 'faulted' }).retry, true);
  assert.equal(allowedActions({ status: 'completed' }).cancel, false);
});

test('filters round-trip through the URL fragment and drop unknown or empty keys', () => {
  const filters = parseFilters('status=running&workflow=delivery&id_prefix=d-1&cursor=x&started_after=');
  assert.deepEqual(filters, { status: 'running', workflow: 'delivery', id_prefix: 'd-1' });
  assert.equal(filtersToQuery(filters), 'status=running&workflow=delivery&id_prefix=d-1');
});

test('formatting', () => {
  assert.equal(formatTime('2026-11-21T10:00:00.123Z'), '2026-11-21 10:00:00.123Z');
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(12_340), '12.3 s');
  assert.equal(formatDuration(245_000), '4 min 05 s');
  assert.equal(formatDuration(2 * 86_400_000 + 4 * 3_600_000), '2 d 04 h');
  assert.equal(formatRate(0.4219), '0.42');
  assert.equal(formatRate(128.4), '128');
  assert.equal(previewJson({ a: 'x'.repeat(200) }, 20).length, 20);
  assert.equal(eventCategory('activity_failed'), 'failure');
  assert.equal(eventCategory('compensation_started'), 'compensation');
});

test('locations and ETAs as the fleet shows them', () => {
  assert.equal(formatLocation({ latitude: 47.6205, longitude: -122.3493, altitude: 0 }), '47.62050, -122.34930 · 0 m');
  assert.equal(formatLocation({ latitude: 47.62213, longitude: -122.34762, altitude: 119.6 }), '47.62213, -122.34762 · 120 m');
  assert.equal(formatLocation({ latitude: 1, longitude: 2 }), '1.00000, 2.00000');
  for (const bad of [undefined, null, {}, { latitude: '47', longitude: 2 }, { latitude: NaN, longitude: 0 }]) {
    assert.equal(formatLocation(bad), '—');
  }
  const as_of_ms = Date.parse('2026-11-21T10:03:00.000Z');
  assert.equal(formatRelative('2026-11-21T10:04:30.000Z', as_of_ms), 'in 1 min 30 s');
  assert.equal(formatRelative('2026-11-21T10:02:00.000Z', as_of_ms), '1 min 00 s ago');
});
