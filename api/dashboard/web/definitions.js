// Definitions: the list, one definition's versions with the graph and YAML source of one of them,
// and a form to register a new definition (POST /api/v1/definitions with the YAML as the body).
import { ApiError, definitionPath, getJson, request } from './api.js';
import { h, hashLink, replaceChildren, s } from './dom.js';
import { formatTime } from './format.js';
import { renderGraph } from './graph.js';

const YAML_BYTES_MAX = 1024 * 1024;

function errorLine(container, text, testid) {
  replaceChildren(container, h('p', { class: 'inline-error', 'data-testid': testid, role: 'alert' }, text));
}

function definitionRow(d) {
  return h('tr', { 'data-testid': 'definition-row', 'data-name': d.name, 'data-version': d.version },
    h('td', { class: 'mono' }, h('a', { href: hashLink('definitions', d.name), 'data-testid': 'definition-link' }, d.name)),
    h('td', { class: 'mono' }, h('a', { href: hashLink('definitions', d.name, d.version) }, d.version),
      d.latest ? h('span', { class: 'badge latest' }, 'latest') : null),
    h('td', {}, d.title ?? ''),
    h('td', { class: 'muted' }, d.summary ?? ''),
    h('td', {}, h('span', { class: `badge origin-${d.origin}` }, d.origin ?? '')),
    h('td', { class: 'mono nowrap' }, d.created ? formatTime(d.created) : '—'));
}

function definitionTable(definitions) {
  if (!definitions.length) return h('p', { class: 'muted', 'data-testid': 'definitions-empty' }, 'No definitions registered.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'definition-list' },
    h('thead', {}, h('tr', {}, ['Name', 'Version', 'Title', 'Summary', 'Origin', 'Registered'].map((t) => h('th', {}, t)))),
    h('tbody', {}, definitions.map(definitionRow))));
}

function registerForm() {
  const yaml = h('textarea', { class: 'mono yaml-input', rows: 16, spellcheck: 'false', 'data-testid': 'definition-yaml',
                               placeholder: 'document:\n  dsl: \'1.0.0\'\n  namespace: example\n  name: hello\n  version: \'1.0.0\'\ndo:\n  - greet:\n      set:\n        message: hello' });
  const file = h('input', { type: 'file', accept: '.yaml,.yml,text/yaml,application/yaml', 'data-testid': 'definition-file' });
  const result = h('div', { class: 'register-result', 'data-testid': 'definition-result', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'button primary', 'data-testid': 'definition-submit' }, 'Register');
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    if (chosen.size > YAML_BYTES_MAX) {
      errorLine(result, `${chosen.name} is larger than 1 MiB.`, 'definition-error');
      return;
    }
    yaml.value = await chosen.text();
  });
  const form = h('form', { class: 'card register', 'data-testid': 'definition-form' },
    h('div', { class: 'card-title' }, h('h2', {}, 'Register a definition')),
    h('p', { class: 'muted' }, 'Paste Serverless Workflow 1.0 YAML or pick a file. A new version of an existing name becomes its latest.'),
    yaml, h('div', { class: 'form-row' }, file, h('span', { class: 'spacer' }), submit), result);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!yaml.value.trim()) {
      errorLine(result, 'The definition is empty.', 'definition-error');
      return;
    }
    submit.disabled = true;
    replaceChildren(result, h('p', { class: 'muted' }, 'Registering…'));
    try {
      const response = await request('POST', '/api/v1/definitions', { body: yaml.value, contentType: 'application/yaml' });
      const created = await response.json();
      replaceChildren(result, h('p', { class: 'ok', 'data-testid': 'definition-registered' },
        response.status === 201 ? 'Registered ' : 'Already registered (same content): ',
        h('a', { href: hashLink('definitions', created.name, created.version) }, `${created.name} ${created.version}`),
        ` · digest ${created.digest ?? ''}`));
    } catch (error) {
      showRegisterError(result, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// A 400 lists every problem as FILE:LINE:COLUMN: message; other errors have a detail only.
function showRegisterError(result, error) {
  const errors = error instanceof ApiError && Array.isArray(error.problem?.errors) ? error.problem.errors : [];
  const detail = errors.length
    ? `Not registered (${error.status}): ${errors.length === 1 ? 'one problem' : `${errors.length} problems`}`
    : error instanceof ApiError ? `${error.status}: ${error.detail}` : String(error.message ?? error);
  replaceChildren(result,
    h('p', { class: 'inline-error', 'data-testid': 'definition-error', role: 'alert' }, detail),
    errors.length ? h('ul', { class: 'error-list mono', 'data-testid': 'definition-errors' },
      errors.map((text) => h('li', {}, String(text)))) : null);
}

function mountList(container, ctx) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replaceChildren(container, h('div', { class: 'definitions', 'data-testid': 'definitions-page' },
    h('div', { class: 'page-title' }, h('h1', {}, 'Definitions')),
    h('section', { class: 'card' }, list), registerForm()));
  getJson('/api/v1/definitions')
    .then((result) => {
      ctx.live.report(null);
      replaceChildren(list, definitionTable(result.definitions ?? []));
    })
    .catch((error) => {
      ctx.live.report(error);
      errorLine(list, `The definitions could not be loaded: ${error.detail ?? error}`, 'definitions-error');
    });
  return () => {};
}

function mountOne(container, name, version, ctx) {
  const versions = h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const detail = h('div', { class: 'definition-detail' });
  replaceChildren(container, h('div', { class: 'definitions', 'data-testid': 'definition-page' },
    h('div', { class: 'page-title' }, h('a', { href: '#/definitions', class: 'back' }, '← Definitions'),
      h('h1', { class: 'mono', 'data-testid': 'definition-name' }, name)),
    versions, detail));
  getJson(definitionPath(name))
    .then((result) => replaceChildren(versions, h('div', { class: 'card-title' }, h('h2', {}, 'Versions')),
                                      definitionTable(result.versions ?? [])))
    .catch((error) => errorLine(versions, `${error.detail ?? error}`, 'definition-load-error'));
  getJson(definitionPath(name, 'versions', version ?? 'latest'))
    .then((d) => {
      ctx.live.report(null);
      const graph = renderGraph(d.graph ?? { tasks: [] }, { s, label: `${d.name} ${d.version}` });
      const source = h('pre', { class: 'yaml mono', 'data-testid': 'definition-source' },
                       d.source ?? '(no source kept for this version)');
      replaceChildren(detail, h('div', { class: 'def-grid' },
        h('section', { class: 'card graph-card' },
          h('div', { class: 'card-title' }, h('h2', {}, `Flow of ${d.version}`), d.latest ? h('span', { class: 'badge latest' }, 'latest') : null),
          d.title ? h('p', {}, h('strong', {}, d.title), d.summary ? ` — ${d.summary}` : '') : null,
          h('div', { class: 'graph-wrap', 'data-testid': 'graph-container' }, graph.svg)),
        h('section', { class: 'card source-card' },
          h('div', { class: 'card-title' }, h('h2', {}, 'YAML source'), h('span', { class: 'muted mono' }, `digest ${d.digest ?? ''}`)),
          source)));
    })
    .catch((error) => errorLine(detail, `${error.detail ?? error}`, 'definition-load-error'));
  return () => {};
}

export function mountDefinitions(container, route, ctx) {
  const [, name, version] = route.parts;
  return name ? mountOne(container, name, version, ctx) : mountList(container, ctx);
}
