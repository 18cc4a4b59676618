// Node tests of the graph layout (pure: a virtual SVG tree). Run: node --test graph.test.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { layoutGraph, taskNodes } from '../../api/dashboard/web/graph.js';

const fixture = (name) => JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8'));

function allReferences(tasks, into = []) {
  for (const task of tasks) {
    into.push(task.reference);
    for (const child of task.children ?? []) allReferences(child.tasks, into);
  }
  return into;
}

// The rectangle of each task group's box, in absolute coordinates.
function boxes(tree) {
  return taskNodes(tree).map((node) => {
    const rect = node.children.find((c) => c.tag === 'rect' && String(c.attrs.class).startsWith('box'));
    return { ref: node.attrs['data-ref'], container: rect.attrs.class.includes('container'), ...rect.attrs };
  });
}

const overlaps = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (inner, outer) => inner.x >= outer.x && inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;

for (const name of ['delivery-graph.json', 'nested-graph.json']) {
  test(`${name}: every task is drawn once, inside the picture, and boxes only overlap when nested`, () => {
    const graph = fixture(name);
    const tree = layoutGraph(graph);
    const drawn = boxes(tree);
    assert.deepEqual(drawn.map((b) => b.ref).sort(), allReferences(graph.tasks).sort());
    for (const box of drawn) {
      assert.ok(box.x >= 0 && box.y >= 0, `${box.ref} starts inside`);
      assert.ok(box.x + box.width <= tree.attrs.width && box.y + box.height <= tree.attrs.height, `${box.ref} ends inside`);
    }
    for (let i = 0; i < drawn.length; ++i) {
      for (let j = i + 1; j < drawn.length; ++j) {
        const [a, b] = [drawn[i], drawn[j]];
        if (overlaps(a, b)) assert.ok(inside(a, b) || inside(b, a), `${a.ref} and ${b.ref} overlap`);
      }
    }
  });
}

test('the delivery flows top-down in list order, with its switch cases as rows and jumps', () => {
  const tree = layoutGraph(fixture('delivery-graph.json'));
  const top = boxes(tree).filter((b) => /^\/do\/\d+\/\w+$/.test(b.ref));
  for (let i = 1; i < top.length; ++i) assert.ok(top[i].y > top[i - 1].y, `${top[i].ref} is below ${top[i - 1].ref}`);
  const text = JSON.stringify(tree);
  assert.match(text, /active: \.account\.active → checkTransport/);
  assert.match(text, /call · drone\.schedule/);
  // Two case edges (one per case) leave the switch through the lanes.
  const jumps = [];
  const walk = (n) => { if (n.attrs?.class === 'edge jump') jumps.push(n); (n.children ?? []).forEach(walk); };
  walk(tree);
  assert.equal(jumps.length, 2);
});

test('fork branches sit side by side and try/catch sections stack', () => {
  const drawn = Object.fromEntries(boxes(layoutGraph(fixture('nested-graph.json'))).map((b) => [b.ref, b]));
  const left = drawn['/do/2/parallel/fork/branches/0/left'];
  const right = drawn['/do/2/parallel/fork/branches/1/right'];
  assert.equal(left.y, right.y);
  assert.ok(right.x > left.x + left.width);
  assert.ok(drawn['/do/1/attempt/catch/do/0/report'].y > drawn['/do/1/attempt/try/1/wait'].y);
  const charge = drawn['/do/1/attempt/try/0/charge'];
  const refund = drawn['/do/1/attempt/try/0/charge/compensate'];
  assert.ok(refund.x > charge.x + charge.width, 'the compensation hangs to the right');
});

test('no arrow between neighbours runs through a task box it is not inside of', () => {
  for (const name of ['delivery-graph.json', 'nested-graph.json']) {
    const tree = layoutGraph(fixture(name));
    const drawn = boxes(tree);
    const edges = [];
    const walk = (n) => { if (n.attrs?.class === 'edge') edges.push(n.attrs.d); (n.children ?? []).forEach(walk); };
    walk(tree);
    assert.ok(edges.length > 5);
    for (const d of edges) {
      const [, x, y1, , y2] = d.match(/^M([\d.]+),([\d.]+) L([\d.]+),([\d.]+)$/).map(Number);
      for (const box of drawn) {
        const crossesX = x > box.x && x < box.x + box.width;
        const crossesY = Math.max(y1, box.y) < Math.min(y2, box.y + box.height);
        const contains = y1 >= box.y && y2 <= box.y + box.height;
        assert.ok(!(crossesX && crossesY) || contains, `${name}: edge ${d} crosses ${box.ref}`);
      }
    }
  }
});

test('a long switch case keeps its name and target and shortens the condition', () => {
  const graph = { tasks: [
    { name: 'route', reference: '/do/0/route', type: 'switch', cases: [
      { name: 'landed', when: '.event.type == "delivered" and .confirmationRequired == false and .x', then: 'completeDelivery' }] },
    { name: 'completeDelivery', reference: '/do/1/completeDelivery', type: 'call', call: 'delivery.complete' }] };
  const texts = [];
  const walk = (n) => { if (n.attrs?.class === 'case-text') texts.push(n.children.join('')); (n.children ?? []).forEach((c) => typeof c === 'object' && walk(c)); };
  walk(layoutGraph(graph));
  assert.equal(texts.length, 1);
  assert.match(texts[0], /^landed: \.event\.type.*… → completeDelivery$/);
});
