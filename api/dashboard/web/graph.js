// The definition graph drawn as SVG: a top-down flow of the task list. Containers (do, try, for,
// fork) are boxes holding their children's lists (fork branches side by side), compensations hang
// to the right of the task they undo in dashed boxes, and switch cases are rows of the switch node
// with an edge to each case's target. Jumps (`then`) run in lanes on the left.
//
// layoutGraph() is pure: it returns a small virtual tree ({tag, attrs, children}) that tests inspect
// under Node; renderGraph() turns it into SVG elements. Text widths are estimated from a monospace
// font (the stylesheet sets one for the graph), so no measuring in the DOM is needed.

const CHAR_W = 7.3;        // width of one character of the graph's 12px monospace font
const NODE_H = 46;
const NODE_W_MIN = 168;
const NODE_W_MAX = 320;
const CASE_ROW_H = 18;
const GAP_Y = 30;          // between two tasks of a list: room for the arrow
const PAD = 12;
const HEADER_H = 34;
const SECTION_LABEL_H = 20;
const SECTION_GAP = 14;
const BRANCH_GAP = 18;
const COMPENSATE_GAP = 30;
const LANE_W = 14;
const TERMINALS = new Set(['end', 'exit']);

function v(tag, attrs, ...children) {
  return { tag, attrs: attrs || {}, children: children.flat(Infinity).filter((c) => c !== null && c !== undefined) };
}

function textWidth(text) {
  return Math.ceil(String(text).length * CHAR_W);
}

// `text` cut to fit `width_px`, with an ellipsis when cut.
function fit(text, width_px) {
  const chars_max = Math.max(4, Math.floor(width_px / CHAR_W));
  const value = String(text ?? '');
  return value.length <= chars_max ? value : value.slice(0, chars_max - 1) + '…';
}

function subtitleOf(task) {
  const parts = [task.type];
  if (task.call) parts.push(task.call);
  if (task.condition) parts.push(`if ${task.condition}`);
  return parts.join(' · ');
}

function caseText(c) {
  const target = c.then ?? 'next';
  return c.when ? `${c.name}: ${c.when} → ${target}` : `${c.name} → ${target}`;
}

// A case row cut to `width_px`: the condition gives way first, so the name and target stay readable.
function fitCase(c, width_px) {
  const full = caseText(c);
  if (textWidth(full) <= width_px || !c.when) return fit(full, width_px);
  const target = c.then ?? 'next';
  const fixed = `${c.name}:  → ${target}`.length;
  const room = Math.floor(width_px / CHAR_W) - fixed;
  if (room < 6) return fit(`${c.name} → ${target}`, width_px);
  return `${c.name}: ${fit(c.when, room * CHAR_W)} → ${target}`;
}

function tooltipOf(task) {
  const lines = [`${task.name} (${task.type})`, task.reference];
  if (task.call) lines.push(`call: ${task.call}`);
  if (task.condition) lines.push(`if: ${task.condition}`);
  if (task.then) lines.push(`then: ${task.then}`);
  for (const c of task.cases ?? []) lines.push(`case ${caseText(c)}`);
  return lines.join('\n');
}

function splitChildren(task) {
  const children = Array.isArray(task.children) ? task.children : [];
  return {
    body: children.filter((c) => c.label !== 'compensate'),
    compensate: children.filter((c) => c.label === 'compensate'),
  };
}

// The part of a task that carries its state: a node (leaf) or the box of a container.
function taskGroup(task, children) {
  return v('g', { class: 'task state-none', 'data-testid': 'graph-task', 'data-ref': task.reference,
                  'data-type': task.type, 'data-state': 'none' },
           v('title', {}, tooltipOf(task)), children);
}

function layoutLeaf(task) {
  const cases = task.type === 'switch' && Array.isArray(task.cases) ? task.cases : [];
  const wanted = Math.max(textWidth(task.name), textWidth(subtitleOf(task)), ...cases.map((c) => textWidth(caseText(c)) + 10));
  const w = Math.min(NODE_W_MAX, Math.max(NODE_W_MIN, wanted + 2 * PAD + 6));
  const h = NODE_H + cases.length * CASE_ROW_H + (cases.length ? 4 : 0);
  const caseRowY = (i) => NODE_H + i * CASE_ROW_H + CASE_ROW_H / 2 - 2;
  return {
    w, h, nodeW: w, nodeH: h, mainH: h,
    // Where a case's edge leaves the node, relative to the node's top.
    exitY: (caseIndex) => (caseIndex === undefined ? h / 2 : caseRowY(caseIndex)),
    draw(x, y) {
      const rows = cases.map((c, i) => [
        v('circle', { class: 'case-dot', cx: x + PAD, cy: y + caseRowY(i), r: 3 }),
        v('text', { class: 'case-text', x: x + PAD + 8, y: y + caseRowY(i) + 4 }, fitCase(c, w - 2 * PAD - 8)),
      ]);
      return [taskGroup(task, [
        v('rect', { class: 'box', x, y, width: w, height: h, rx: 7 }),
        v('rect', { class: 'stripe', x, y, width: 5, height: h, rx: 2 }),
        v('text', { class: 'name', x: x + PAD, y: y + 19 }, fit(task.name, w - 2 * PAD)),
        v('text', { class: 'subtitle', x: x + PAD, y: y + 36 }, fit(subtitleOf(task), w - 2 * PAD)),
        cases.length ? v('line', { class: 'case-rule', x1: x + PAD, x2: x + w - PAD, y1: y + NODE_H - 3, y2: y + NODE_H - 3 }) : null,
        rows,
      ])];
    },
  };
}

function sectionLabel(label) {
  return label.startsWith('branch:') ? `branch ${label.slice('branch:'.length)}` : label;
}

// A labelled list of tasks (a section of a container, or a compensation).
function layoutSection(section) {
  const list = layoutList(section.tasks ?? [], {});
  const label = sectionLabel(section.label ?? '');
  const w = Math.max(list.w, textWidth(label) + 8);
  const h = SECTION_LABEL_H + list.h;
  return {
    w, h,
    draw(x, y) {
      return [
        v('text', { class: 'section-label', x, y: y + 13 }, label),
        list.draw(x + (w - list.w) / 2, y + SECTION_LABEL_H),
      ];
    },
  };
}

function layoutContainer(task, body) {
  const sections = body.map(layoutSection);
  const sideBySide = task.type === 'fork';
  const contentW = sideBySide
    ? sections.reduce((sum, s) => sum + s.w, 0) + BRANCH_GAP * Math.max(0, sections.length - 1)
    : Math.max(0, ...sections.map((s) => s.w));
  const contentH = sideBySide
    ? Math.max(0, ...sections.map((s) => s.h))
    : sections.reduce((sum, s) => sum + s.h, 0) + SECTION_GAP * Math.max(0, sections.length - 1);
  const headerW = Math.max(textWidth(task.name), textWidth(subtitleOf(task))) + 2 * PAD;
  const w = Math.max(NODE_W_MIN, headerW, contentW + 2 * PAD);
  const h = HEADER_H + 10 + contentH + PAD;
  return {
    w, h, nodeW: w, nodeH: HEADER_H, mainH: h,
    exitY: () => HEADER_H / 2,
    draw(x, y) {
      const parts = [];
      let cx = x + (w - contentW) / 2;
      let cy = y + HEADER_H + 10;
      for (const section of sections) {
        if (sideBySide) {
          parts.push(v('rect', { class: 'branch', x: cx - 6, y: cy - 4, width: section.w + 12, height: contentH + 8, rx: 6 }));
          parts.push(section.draw(cx, cy));
          cx += section.w + BRANCH_GAP;
        } else {
          parts.push(section.draw(x + (w - section.w) / 2, cy));
          cy += section.h + SECTION_GAP;
        }
      }
      return [
        taskGroup(task, [
          v('rect', { class: 'box container', x, y, width: w, height: h, rx: 9 }),
          v('rect', { class: 'stripe', x, y, width: 5, height: HEADER_H, rx: 2 }),
          v('text', { class: 'name', x: x + PAD, y: y + 15 }, fit(task.name, w - 2 * PAD)),
          v('text', { class: 'subtitle', x: x + PAD, y: y + 29 }, fit(subtitleOf(task), w - 2 * PAD)),
        ]),
        parts,
      ];
    },
  };
}

// A task with its compensation (if any) to its right.
function layoutTask(task) {
  const { body, compensate } = splitChildren(task);
  const main = body.length ? layoutContainer(task, body) : layoutLeaf(task);
  if (!compensate.length) return { ...main, ax: main.w / 2 };
  const comp = compensate.map(layoutSection);
  const compW = Math.max(...comp.map((c) => c.w)) + 2 * PAD;
  const compH = comp.reduce((sum, c) => sum + c.h, 0) + 2 * PAD - 4;
  return {
    w: main.w + COMPENSATE_GAP + compW,
    h: Math.max(main.h, compH),
    nodeW: main.nodeW, nodeH: main.nodeH, mainH: main.h, exitY: main.exitY,
    ax: main.w / 2,
    draw(x, y) {
      const bx = x + main.w + COMPENSATE_GAP;
      const midY = y + main.nodeH / 2;
      let cy = y + PAD - 6;
      const sections = comp.map((c) => {
        const drawn = c.draw(bx + PAD, cy);
        cy += c.h;
        return drawn;
      });
      return [
        main.draw(x, y),
        v('line', { class: 'compensate-link', x1: x + main.w, y1: midY, x2: bx, y2: midY }),
        v('rect', { class: 'compensate-box', x: bx, y, width: compW, height: compH, rx: 8 }),
        sections,
      ];
    },
  };
}

// Where control goes after task `i`: the next task, a sibling (by name) or the end of the list.
// Returns [{from: caseIndex|undefined, to: index or 'end'}]; a raise has no way out (it throws).
function exitsOf(tasks, i) {
  const task = tasks[i];
  const indexOf = (target) => {
    if (target === undefined || target === null || target === 'continue') return i + 1;
    if (TERMINALS.has(target)) return 'end';
    const found = tasks.findIndex((t) => t.name === target);
    return found < 0 ? 'end' : found;
  };
  if (task.type === 'switch' && Array.isArray(task.cases) && task.cases.length) {
    const exits = task.cases.map((c, k) => ({ from: k, to: indexOf(c.then) }));
    // No default case: when nothing matches, the flow continues with the next task.
    if (!task.cases.some((c) => c.when === undefined || c.when === null)) exits.push({ from: undefined, to: i + 1 });
    return exits;
  }
  if (task.type === 'raise' && !task.then) return [];
  return [{ from: undefined, to: indexOf(task.then) }];
}

// A vertical list: every task centred on one axis, arrows between neighbours, jumps in left lanes.
// `opts.top` adds start and end markers (the workflow's own list).
function layoutList(tasks, opts) {
  const items = tasks.map(layoutTask);
  const axis = Math.max(0, ...items.map((it) => it.ax));
  const bodyW = Math.max(0, ...items.map((it) => axis - it.ax + it.w));
  const tops = [];
  let y = opts.top ? 26 + GAP_Y : 0;
  for (const item of items) {
    tops.push(y);
    y += item.h + GAP_Y;
  }
  const listEndY = items.length ? y - GAP_Y : y;
  const endY = opts.top ? listEndY + GAP_Y : listEndY + 12;
  const straight = new Set();
  const jumps = [];
  tasks.forEach((_, i) => {
    for (const exit of exitsOf(tasks, i)) {
      if (exit.to === i + 1 && exit.from === undefined) straight.add(i);
      else if (exit.to === 'end' || exit.to >= tasks.length) jumps.push({ i, from: exit.from, to: 'end' });
      else jumps.push({ i, from: exit.from, to: exit.to });
    }
  });
  // Shorter jumps get the lanes nearest the list, so edges cross as little as possible.
  const span = (j) => Math.abs((j.to === 'end' ? tasks.length : j.to) - j.i);
  jumps.sort((a, b) => span(a) - span(b));
  const lanesW = jumps.length ? 10 + jumps.length * LANE_W : 0;
  const w = lanesW + bodyW;
  const h = endY + (opts.top ? 26 : 0);
  return {
    w, h, ax: lanesW + axis,
    draw(x, y0) {
      const out = [];
      const ax = x + lanesW + axis;
      const leftOf = (k) => x + lanesW + axis - items[k].ax;
      if (opts.top) {
        out.push(v('rect', { class: 'terminal', x: ax - 28, y: y0, width: 56, height: 26, rx: 13 }),
                 v('text', { class: 'terminal-text', x: ax, y: y0 + 17 }, 'start'));
        out.push(arrow(ax, y0 + 26, ax, y0 + (items.length ? tops[0] : endY)));
      }
      items.forEach((item, k) => out.push(item.draw(leftOf(k), y0 + tops[k])));
      for (const k of straight) {
        // The arrow leaves the bottom of the task's own box (its compensation may reach further down).
        const fromY = y0 + tops[k] + items[k].mainH;
        const toY = k + 1 < items.length ? y0 + tops[k + 1] : y0 + endY;
        if (k + 1 < items.length || opts.top) out.push(arrow(ax, fromY, ax, toY));
      }
      if (opts.top) {
        out.push(v('rect', { class: 'terminal', x: ax - 28, y: y0 + endY, width: 56, height: 26, rx: 13 }),
                 v('text', { class: 'terminal-text', x: ax, y: y0 + endY + 17 }, 'end'));
      }
      jumps.forEach((jump, lane) => {
        const laneX = x + lanesW - 10 - lane * LANE_W;
        const fromX = leftOf(jump.i);
        const fromY = y0 + tops[jump.i] + items[jump.i].exitY(jump.from);
        if (jump.to === 'end') {
          const toY = y0 + endY + (opts.top ? 13 : 0);
          const toX = opts.top ? ax - 28 : laneX;
          out.push(v('path', { class: 'edge jump', d: `M${fromX},${fromY} H${laneX} V${toY} H${toX}`, 'marker-end': 'url(#ARROW)' }));
        } else {
          const toY = y0 + tops[jump.to] + items[jump.to].exitY();
          const toX = leftOf(jump.to);
          out.push(v('path', { class: 'edge jump', d: `M${fromX},${fromY} H${laneX} V${toY} H${toX}`, 'marker-end': 'url(#ARROW)' }));
        }
      });
      return out;
    },
  };
}

function arrow(x1, y1, x2, y2) {
  return v('path', { class: 'edge', d: `M${x1},${y1} L${x2},${y2 - 1}`, 'marker-end': 'url(#ARROW)' });
}

const MARGIN = 16;

// The whole graph as a virtual tree: {tag: 'svg', attrs: {width, height, viewBox}, children}.
export function layoutGraph(graph) {
  const tasks = Array.isArray(graph?.tasks) ? graph.tasks : [];
  const list = layoutList(tasks, { top: true });
  const width = Math.ceil(list.w + 2 * MARGIN);
  const height = Math.ceil(list.h + 2 * MARGIN);
  return v('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' },
           list.draw(MARGIN, MARGIN));
}

// Every task group of a virtual tree, depth first (for tests and for colouring).
export function taskNodes(tree) {
  const found = [];
  const walk = (node) => {
    if (typeof node !== 'object') return;
    if (node.attrs?.['data-testid'] === 'graph-task') found.push(node);
    node.children.forEach(walk);
  };
  walk(tree);
  return found;
}

let graphCount = 0;

// Renders the graph as an SVG element. Returns {svg, setStates(Map ref -> state)}; setStates only
// touches tasks whose state changed, so a 1 s poll does not rebuild the drawing.
export function renderGraph(graph, { s, label }) {
  const markerId = `arrow-${++graphCount}`;
  const byRef = new Map();
  const build = (node) => {
    if (typeof node === 'string' || typeof node === 'number') return String(node);
    const attrs = { ...node.attrs };
    if (attrs['marker-end']) attrs['marker-end'] = `url(#${markerId})`;
    const element = s(node.tag, attrs, ...node.children.map(build));
    if (attrs['data-testid'] === 'graph-task') byRef.set(attrs['data-ref'], element);
    return element;
  };
  const svg = build(layoutGraph(graph));
  svg.setAttribute('aria-label', label || 'workflow graph');
  svg.setAttribute('data-testid', 'graph');
  svg.prepend(s('defs', {},
    s('marker', { id: markerId, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { class: 'arrowhead', d: 'M0,0 L10,5 L0,10 z' }))));
  return {
    svg,
    setStates(states) {
      for (const [ref, element] of byRef) {
        const state = states.get(ref) || 'none';
        if (element.getAttribute('data-state') === state) continue;
        element.setAttribute('data-state', state);
        element.setAttribute('class', `task state-${state}`);
      }
    },
  };
}

export const TASK_STATES = [
  ['none', 'not run'], ['running', 'running'], ['completed', 'completed'], ['failed', 'failed'],
  ['skipped', 'skipped'], ['cancelled', 'cancelled'], ['compensating', 'compensating'],
  ['compensated', 'compensated'], ['compensation_failed', 'compensation failed'],
];
