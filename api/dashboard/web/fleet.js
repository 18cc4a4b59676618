// The fleet: every drone, available or assigned to a delivery, with the delivery's stage, position
// and ETAs as the drone service tracks them (GET /api/v1/fleet). A delivery id is also the id of
// the delivery workflow behind it (the delivery API starts one workflow per delivery, under the
// delivery's id), so it links to that workflow's page.
import { h, hashLink, setText } from './dom.js';
import { formatCount, formatLocation, formatRelative, formatTime } from './format.js';
import { countCard, mountPolledTable } from './panel.js';

function droneRow(drone, as_of_ms) {
  const eta = (text) => text
    ? [formatTime(text), h('span', { class: 'muted' }, ` ${formatRelative(text, as_of_ms)}`)]
    : '—';
  const delivery = drone.deliveryId
    ? h('a', { href: hashLink('workflows', drone.deliveryId), 'data-testid': 'drone-delivery',
               title: 'the delivery workflow' }, drone.deliveryId)
    : '—';
  return h('tr', { 'data-testid': 'drone-row', 'data-id': drone.droneId, 'data-state': drone.state },
    h('td', { class: 'mono' }, drone.droneId),
    h('td', {}, h('span', { class: `badge drone-${drone.state}`, 'data-testid': 'drone-state' }, drone.state)),
    h('td', { class: 'mono' }, delivery),
    h('td', { 'data-testid': 'drone-stage' }, drone.stage ?? '—',
      drone.plan > 1 ? h('span', { class: 'muted' }, ` (plan ${drone.plan})`) : null),
    h('td', { class: 'mono nowrap', 'data-testid': 'drone-pickup-eta' }, eta(drone.pickupEta)),
    h('td', { class: 'mono nowrap', 'data-testid': 'drone-delivery-eta' }, eta(drone.deliveryEta)),
    h('td', { class: 'mono nowrap', 'data-testid': 'drone-location' }, formatLocation(drone.lastKnownLocation)));
}

export function mountFleet(container, route, ctx) {
  const available = countCard('available', 'fleet-available', 'drone-available');
  const assigned = countCard('assigned', 'fleet-assigned', 'drone-assigned');
  const asOf = h('span', { class: 'muted mono', 'data-testid': 'fleet-as-of' }, '');
  let as_of_ms = NaN;
  return mountPolledTable(container, ctx, {
    testid: 'fleet',
    title: 'Fleet',
    what: 'The fleet',
    path: '/api/v1/fleet',
    interval_ms: 1000,
    columns: ['Drone', 'State', 'Delivery', 'Stage', 'Pickup ETA', 'Delivery ETA', 'Last known location'],
    header: h('div', { class: 'fleet-summary' }, available.element, assigned.element, asOf),
    update(answer) {
      setText(available.value, formatCount(answer.available));
      setText(assigned.value, formatCount(answer.assigned));
      setText(asOf, answer.as_of ? `as of ${formatTime(answer.as_of)} (server time)` : '');
      as_of_ms = Date.parse(answer.as_of);
    },
    items: (answer) => answer.drones ?? [],
    // The relative ETAs ("in 40 s") count from the answer's time: they change while a drone flies.
    key: (answer) => (answer.assigned ? answer.as_of : null),
    row: (drone) => droneRow(drone, as_of_ms),
    empty: 'The server lists no drones.',
  });
}
