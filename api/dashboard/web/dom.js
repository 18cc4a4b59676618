// DOM helpers. Every value from the API reaches the page through textContent or setAttribute, never
// through innerHTML, so no workflow id, payload or error text can inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Appends children: strings and numbers become text nodes, null/undefined/false are skipped, arrays
// are flattened.
function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

function applyAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (key === 'value' && 'value' in node) {
      node.value = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

// h('a', {href: '#/x', class: 'link'}, 'text', child) -> an HTML element.
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  applyAttrs(node, attrs);
  append(node, children);
  return node;
}

// The same for SVG elements.
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyAttrs(node, attrs);
  append(node, children);
  return node;
}

// Replaces all children of `parent`.
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

// Sets textContent only when it changed, so a poll that brings the same value does not disturb a
// selection the user is making.
export function setText(node, text) {
  const value = text === null || text === undefined ? '' : String(text);
  if (node.textContent !== value) node.textContent = value;
}

// A URL fragment for the dashboard's own hash routes; every part is percent-encoded.
export function hashLink(...parts) {
  return '#/' + parts.map((part) => encodeURIComponent(String(part))).join('/');
}

// A modal dialog built from `body` nodes with Cancel and a confirm button. Resolves true when
// confirmed (after `onConfirm` resolved without throwing; a thrown error's message is shown in the
// dialog and it stays open), false when dismissed.
export function openDialog({ title, body, confirmLabel = 'OK', danger = false, testid = 'dialog', onConfirm }) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'dialog-error', 'data-testid': `${testid}-error`, role: 'alert', hidden: true });
    const confirm = h('button', { type: 'submit', class: danger ? 'button danger' : 'button primary',
                                  'data-testid': `${testid}-confirm` }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'button', 'data-testid': `${testid}-cancel` }, 'Cancel');
    const form = h('form', { method: 'dialog', class: 'dialog-form' },
                   h('h2', {}, title), body, error, h('div', { class: 'dialog-buttons' }, cancel, confirm));
    const dialog = h('dialog', { class: 'dialog', 'data-testid': testid }, form);
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', (event) => { event.preventDefault(); finish(false); });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      confirm.disabled = true;
      try {
        if (onConfirm) await onConfirm();
        finish(true);
      } catch (e) {
        error.hidden = false;
        error.textContent = e?.detail || e?.message || String(e);
        confirm.disabled = false;
      }
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    const first = form.querySelector('input, textarea, select');
    (first || confirm).focus();
  });
}
