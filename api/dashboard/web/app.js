// The dashboard's entry point: hash routing, the token prompt, the live indicator, and polling that
// stops while the tab is hidden. Views are modules with mount(container, route, ctx) -> cleanup.
import { setTokenPrompt, storedToken, storeToken } from './api.js';
import { h, replaceChildren, setText } from './dom.js';
import { mountOverview } from './overview.js';
import { mountWorkflow } from './workflow.js';
import { mountDefinitions } from './definitions.js';
import { mountFleet } from './fleet.js';
import { mountDeadLetters } from './deadletters.js';

// Calls `tick` now and then every `interval_ms` after the previous call finished (never two at
// once). Pauses while the tab is hidden and catches up as soon as it is visible again.
class Poller {
  constructor(tick, interval_ms) {
    this.tick = tick;
    this.interval_ms = interval_ms;
    this.timer = null;
    this.running = false;
    this.stopped = false;
    this.onVisibility = () => {
      if (document.hidden) {
        clearTimeout(this.timer);
        this.timer = null;
        live.paused();
      } else if (!this.running) {
        this.run();
      }
    };
    document.addEventListener('visibilitychange', this.onVisibility);
    this.run();
  }

  async run() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || document.hidden) return;
    this.running = true;
    try {
      await this.tick();
    } catch (error) {
      console.error(error);
    } finally {
      this.running = false;
    }
    if (!this.stopped && !document.hidden) this.timer = setTimeout(() => this.run(), this.interval_ms);
  }

  // Runs a tick now (e.g. right after an action), unless one is under way.
  now() {
    if (!this.running) this.run();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
  }
}

// The "live" indicator in the top bar.
const live = {
  element: null,
  ok() {
    this.set('live', `live · ${new Date().toLocaleTimeString()}`);
  },
  failed(detail) {
    this.set('offline', `offline · ${detail}`);
  },
  // After a poll: `error` is null (all answered) or the ApiError of a failed request. Only a server
  // that cannot be reached or wants a token makes the page "offline"; a 404 is the view's business.
  report(error) {
    if (!error) this.ok();
    else if (error.status === 0) this.failed(error.detail);
    else if (error.status === 401) this.failed('a token is needed (Token button)');
    else this.ok();
  },
  paused() {
    this.set('paused', 'paused (tab hidden)');
  },
  set(state, text) {
    if (!this.element) return;
    this.element.dataset.state = state;
    setText(this.element, text);
  },
};

// Asks for a token in a modal; resolves the token, or null when dismissed.
function askForToken(detail) {
  return new Promise((resolve) => {
    const dialog = document.getElementById('token-dialog');
    const input = document.getElementById('token-input');
    if (!dialog.open) {
      setText(document.getElementById('token-reason'), detail || 'The API asks for a token.');
      input.value = '';
      dialog.returnValue = '';
    }
    const onClose = () => {
      dialog.removeEventListener('close', onClose);
      resolve(dialog.returnValue === 'save' && input.value.trim() ? input.value.trim() : null);
    };
    dialog.addEventListener('close', onClose);
    // A second request for a token while the dialog is open shares the answer.
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?');
  const parts = pathPart.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, query: queryPart };
}

const views = [
  { match: (p) => p.length === 0, mount: mountOverview, nav: 'overview' },
  { match: (p) => p[0] === 'workflows' && p.length === 2, mount: mountWorkflow, nav: 'overview' },
  { match: (p) => p[0] === 'definitions' && p.length <= 3, mount: mountDefinitions, nav: 'definitions' },
  { match: (p) => p[0] === 'fleet' && p.length === 1, mount: mountFleet, nav: 'fleet' },
  { match: (p) => p[0] === 'dead-letters' && p.length === 1, mount: mountDeadLetters, nav: 'dead-letters' },
];

let cleanup = null;

function notFound(container, route) {
  replaceChildren(container, h('section', { class: 'card empty', 'data-testid': 'not-found' },
    h('h1', {}, 'Nothing here'), h('p', {}, `No page at #/${route.parts.join('/')}. `),
    h('a', { href: '#/' }, 'Back to the workflows')));
  return () => {};
}

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const container = document.getElementById('view');
  const route = parseRoute();
  const view = views.find((candidate) => candidate.match(route.parts));
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', view !== undefined && link.dataset.nav === view.nav);
  }
  replaceChildren(container);
  window.scrollTo(0, 0);
  const ctx = {
    poll: (tick, interval_ms = 1000) => new Poller(tick, interval_ms),
    live,
  };
  cleanup = view ? view.mount(container, route, ctx) : notFound(container, route);
}

function setUpTokenButton() {
  const button = document.getElementById('token-button');
  const refresh = () => setText(button, storedToken() ? 'Token ✓' : 'Token');
  button.addEventListener('click', async () => {
    const token = await askForToken(storedToken() ? 'Replace the stored token (leave empty and save to keep it).'
                                                  : 'Enter an API token (viewer or operator).');
    if (token) storeToken(token);
    refresh();
  });
  document.getElementById('token-cancel').addEventListener('click', () => {
    document.getElementById('token-dialog').close('cancel');
  });
  document.getElementById('token-clear').addEventListener('click', () => {
    storeToken('');
    refresh();
  });
  refresh();
  return refresh;
}

function start() {
  live.element = document.getElementById('live');
  const refreshTokenButton = setUpTokenButton();
  setTokenPrompt(async (detail) => {
    const token = await askForToken(detail);
    setTimeout(refreshTokenButton, 0);
    return token;
  });
  window.addEventListener('hashchange', render);
  render();
}

start();
