// The dashboard in a real browser: starts `flightplan dev --store memory` on a free port, drives
// Debian's Chromium with playwright-core, and checks the live pages against real workflows:
// a delivery reaches `completed` on its page with its graph coloured, a second one is cancelled from
// its page and ends `compensated` (or `cancelled`), the overview counts and filters them, the
// definitions page shows the graph, the YAML and registration errors, the fleet shows the drone a
// third delivery holds, and the fleet and dead-letter views render fixture answers (and a failing
// one's problem detail) served in place of the API's. Screenshots go to the
// artifacts folder. The server is killed by its PID at the end, also when a step fails.
//
// Usage: FLIGHTPLAN_BINARY=build/api/flightplan node tests/browser/dashboard.test.mjs
// (or the binary as the first argument). See README.md for the other variables.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SKIP_EXIT_CODE = 77;  // ctest's SKIP_RETURN_CODE
const SOURCE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const binary = process.env.FLIGHTPLAN_BINARY || process.argv[2];
const chromiumPath = process.env.FLIGHTPLAN_CHROMIUM || '/usr/bin/chromium';
const artifacts = path.resolve(process.env.FLIGHTPLAN_ARTIFACTS || path.join(process.cwd(), 'test-artifacts', 'browser'));
// 120x: the example drone flight (about 20 virtual minutes) takes about 10 s.
const timeScale = Number(process.env.FLIGHTPLAN_BROWSER_TIME_SCALE || 120);
const STARTUP_TIMEOUT_MS = 30_000;
const COMPLETION_TIMEOUT_MS = 90_000;
const UI_TIMEOUT_MS = 15_000;

if (process.env.FLIGHTPLAN_NO_BROWSER === '1') {
  console.log('dashboard browser test skipped: FLIGHTPLAN_NO_BROWSER=1');
  process.exit(SKIP_EXIT_CODE);
}
if (!binary || !existsSync(binary)) {
  console.error(`usage: FLIGHTPLAN_BINARY=path/to/flightplan node ${path.basename(fileURLToPath(import.meta.url))}`);
  process.exit(2);
}
if (!existsSync(chromiumPath)) {
  console.log(`dashboard browser test skipped: no Chromium at ${chromiumPath}`);
  process.exit(SKIP_EXIT_CODE);
}
mkdirSync(artifacts, { recursive: true });

// playwright-core from FLIGHTPLAN_NPM_PREFIX/node_modules (ctest installs it in the build folder),
// else from the node_modules next to this file.
async function loadChromium() {
  const prefix = process.env.FLIGHTPLAN_NPM_PREFIX;
  const module = prefix
    ? await import(pathToFileURL(createRequire(path.join(prefix, 'package.json')).resolve('playwright-core')).href)
    : await import('playwright-core');
  return module.chromium ?? module.default.chromium;
}

// --- the server --------------------------------------------------------------------------------
let server = null;

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(server.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}
process.on('exit', () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));

// Starts the server and resolves its base URL, read from the "listening" log line.
function startServer(token) {
  const log = createWriteStream(path.join(artifacts, 'server.log'));
  const args = ['dev', '--store', 'memory', '--port', '0', '--time-scale', String(timeScale),
                '--workflows', path.join(SOURCE_DIR, 'workflows')];
  server = spawn(binary, args, {
    cwd: artifacts,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FLIGHTPLAN_TOKENS: `operator:${token}` },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within ${STARTUP_TIMEOUT_MS} ms (see server.log)`)),
                             STARTUP_TIMEOUT_MS);
    let pending = '';
    const onData = (chunk) => {
      log.write(chunk);
      pending += chunk.toString();
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'listening' && typeof entry.url === 'string') {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // Not a JSON line.
        }
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited early (code ${code}, signal ${signal}); see server.log`));
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  killServer();
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000));
  if ((await Promise.race([exited, timeout])) === 'timeout') process.kill(server.pid, 'SIGKILL');
}

// --- helpers -----------------------------------------------------------------------------------
function deliveryInput(deliveryId) {
  const input = JSON.parse(readFileSync(path.join(SOURCE_DIR, 'tests/replay/inputs/delivery.json'), 'utf8'));
  const now_ms = Date.now();
  // The deadline must lie ahead in virtual time, which starts now and runs `timeScale` times faster.
  return { ...input, deliveryId, pickupTime: new Date(now_ms).toISOString().replace(/\.\d+Z$/, 'Z'),
           deadline: new Date(now_ms + 2 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z') };
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

let stepNumber = 0;
async function step(page, name, body) {
  const started = Date.now();
  stepNumber += 1;
  try {
    await body();
    console.log(`ok ${stepNumber} - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    console.log(`not ok ${stepNumber} - ${name}: ${error.message}`);
    if (page) await page.screenshot({ path: path.join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
    throw error;
  }
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage });
}

// --- the test ----------------------------------------------------------------------------------
async function run() {
  const token = randomBytes(16).toString('hex');
  const baseUrl = await startServer(token);
  console.log(`# server ${baseUrl} (pid ${server.pid}), artifacts in ${artifacts}`);
  const api = async (method, apiPath, body) => {
    const response = await fetch(baseUrl + apiPath, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${apiPath} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const authEnforced = (await fetch(`${baseUrl}/api/v1/workflows/counts`)).status === 401;

  const chromium = await loadChromium();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const pageErrors = [];
  const outside = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('request', (request) => {
    if (!request.url().startsWith(baseUrl) && !request.url().startsWith('data:')) outside.push(request.url());
  });
  try {
    await step(page, 'GET / redirects to the dashboard, which loads', async () => {
      await page.goto(`${baseUrl}/`);
      check(new URL(page.url()).pathname === '/dashboard', `landed on ${page.url()}`);
      await page.waitForSelector('[data-testid="overview"]');
    });

    await step(page, authEnforced ? 'a 401 asks for a token, kept for the session' : 'no token needed (open server)', async () => {
      if (authEnforced) {
        await page.waitForSelector('[data-testid="token-dialog"][open]');
        await shot(page, 'token-prompt', false);
        await page.fill('[data-testid="token-input"]', token);
        await page.click('[data-testid="token-save"]');
        const stored = await page.evaluate(() => sessionStorage.getItem('flightplan.token'));
        check(stored === token, 'the token is in sessionStorage');
      } else {
        console.log('# note: the server answers without a token, so the prompt is not exercised');
      }
      await page.waitForFunction(() => /^\d/.test(document.querySelector('[data-testid="count-total"]')?.textContent ?? ''));
    });

    const okId = `browser-ok-${Date.now().toString(36)}`;
    await step(page, 'a delivery submitted through the API appears in the live list', async () => {
      const created = await api('POST', '/api/v1/workflows', { workflow: 'delivery', id: okId, input: deliveryInput(okId) });
      check(created.id === okId, `created ${JSON.stringify(created)}`);
      await page.waitForSelector(`[data-testid="workflow-row"][data-id="${okId}"]`);
      await shot(page, 'overview-running');
    });

    await step(page, 'its page shows it reaching completed, with the graph coloured', async () => {
      await page.click(`[data-testid="workflow-row"][data-id="${okId}"] [data-testid="workflow-link"]`);
      await page.waitForSelector('[data-testid="workflow-page"]');
      check((await page.textContent('[data-testid="workflow-id"]')) === okId, 'the page names the workflow');
      await page.waitForSelector('[data-testid="graph"]');
      await page.waitForSelector('[data-testid="workflow-status"][data-status="completed"]', { timeout: COMPLETION_TIMEOUT_MS });
      const task = '[data-testid="graph-task"][data-ref$="/checkAccount"]';
      await page.waitForSelector(`${task}[data-state="completed"]`);
      const fill = await page.$eval(`${task} rect.box`, (rect) => getComputedStyle(rect).fill);
      check(fill === 'rgb(220, 252, 231)', `a completed task is drawn green (fill ${fill})`);
      await page.waitForSelector('[data-testid="graph-task"][data-ref$="/complete"][data-state="completed"]');
      await page.waitForSelector('[data-testid="graph-task"][data-ref$="/bookThirdParty"][data-state="skipped"]');
      await page.waitForSelector('[data-testid="timeline-event"][data-type="workflow_completed"]');
      check((await page.textContent('[data-testid="workflow-output"]')).includes(okId), 'the output names the delivery');
      check(await page.isDisabled('[data-testid="action-cancel"]'), 'a finished workflow cannot be cancelled');
      await shot(page, 'workflow-completed');
    });

    const cancelId = `browser-cancel-${Date.now().toString(36)}`;
    await step(page, 'signal, pause and resume from the page, then Cancel compensates it', async () => {
      await api('POST', '/api/v1/workflows', { workflow: 'delivery', id: cancelId, input: deliveryInput(cancelId) });
      await page.goto(`${baseUrl}/dashboard#/workflows/${encodeURIComponent(cancelId)}`);
      // The drone flight keeps it waiting for seconds: wait until the drone is booked.
      await page.waitForSelector('[data-testid="graph-task"][data-ref$="/createDelivery"][data-state="completed"]',
                                 { timeout: COMPLETION_TIMEOUT_MS });
      await page.waitForSelector('[data-testid="action-cancel"]:not([disabled])');
      // A signal from the page: bad JSON is refused in the dialog, good JSON is accepted and recorded.
      await page.click('[data-testid="action-signal"]');
      await page.fill('[data-testid="signal-name"]', 'operator-note');
      await page.fill('[data-testid="signal-payload"]', '{"from": ');
      await page.click('[data-testid="signal-dialog-confirm"]');
      await page.waitForSelector('[data-testid="signal-dialog-error"]:not([hidden])');
      await page.fill('[data-testid="signal-payload"]', '{"from": "browser test"}');
      await page.click('[data-testid="signal-dialog-confirm"]');
      await page.waitForSelector('[data-testid="signal-dialog"]', { state: 'detached' });
      check((await page.textContent('[data-testid="action-result"]')).includes('signal operator-note accepted'), 'the signal is accepted');
      await page.waitForSelector('[data-testid="timeline-event"][data-type="signal_received"]');
      // Pause and resume from the page first: the paused badge follows.
      await page.click('[data-testid="action-pause"]');
      await page.waitForSelector('[data-testid="paused-badge"]:not([hidden])');
      await page.waitForSelector('[data-testid="action-resume"]:not([disabled])');
      await shot(page, 'workflow-paused');
      await page.click('[data-testid="action-resume"]');
      await page.waitForSelector('[data-testid="paused-badge"][hidden]', { state: 'attached' });
      await page.waitForSelector('[data-testid="action-cancel"]:not([disabled])');
      await shot(page, 'workflow-before-cancel');
      await page.click('[data-testid="action-cancel"]');
      await page.waitForSelector('[data-testid="confirm-dialog"][open]');
      await page.fill('[data-testid="action-reason"]', 'browser test');
      await page.click('[data-testid="confirm-dialog-confirm"]');
      await page.waitForSelector('[data-testid="action-result"]');
      await page.waitForSelector('[data-testid="workflow-status"][data-status="compensated"], [data-testid="workflow-status"][data-status="cancelled"]',
                                 { timeout: COMPLETION_TIMEOUT_MS });
      const status = await page.getAttribute('[data-testid="workflow-status"]', 'data-status');
      if (status === 'compensated') {
        await page.waitForSelector('[data-testid="graph-task"][data-ref$="/scheduleDrone"][data-state="compensated"]');
        await page.waitForSelector('[data-testid="timeline-event"][data-type="compensation_completed"]');
      }
      await shot(page, 'workflow-cancelled');
    });

    await step(page, 'a control the workflow does not allow shows the problem detail', async () => {
      // Pause is refused (409) for a finished workflow; the button is disabled, so post as the page would.
      const detail = await page.evaluate(async (id) => {
        const api = await import('/dashboard/api.js');
        try {
          await api.postJson(api.workflowPath(id, 'pause'));
          return null;
        } catch (error) {
          return `${error.status} ${error.detail}`;
        }
      }, cancelId);
      check(detail !== null && /^4\d\d \S/.test(detail), `a refused control gives a status and a detail (${detail})`);
    });

    await step(page, 'the overview counts both and filters by status', async () => {
      await page.goto(`${baseUrl}/dashboard#/`);
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="count-completed"]')?.textContent) >= 1);
      const ended = await page.evaluate(() => ['compensated', 'cancelled'].reduce((sum, status) =>
        sum + Number(document.querySelector(`[data-testid="count-${status}"]`).textContent), 0));
      check(ended >= 1, 'the cancelled delivery is counted');
      await page.waitForFunction(() => /\/s$/.test(document.querySelector('[data-testid="throughput-value"]')?.textContent ?? ''));
      await page.selectOption('[data-testid="filter-status"]', 'completed');
      await page.waitForFunction(() => location.hash.includes('status=completed'));
      await page.waitForSelector(`[data-testid="workflow-row"][data-id="${okId}"]`);
      const statuses = await page.$$eval('[data-testid="workflow-row"]', (rows) => rows.map((r) => r.dataset.status));
      check(statuses.length >= 1 && statuses.every((s) => s === 'completed'), `only completed rows (${statuses})`);
      check(!(await page.$(`[data-testid="workflow-row"][data-id="${cancelId}"]`)), 'the cancelled one is filtered out');
      await page.fill('[data-testid="filter-id-prefix"]', 'browser-cancel-');
      await page.selectOption('[data-testid="filter-status"]', '');
      await page.waitForSelector(`[data-testid="workflow-row"][data-id="${cancelId}"]`);
      check(!(await page.$(`[data-testid="workflow-row"][data-id="${okId}"]`)), 'the id prefix filters');
      await page.goto(`${baseUrl}/dashboard#/`);
      await page.waitForSelector(`[data-testid="workflow-row"][data-id="${okId}"]`);
      await shot(page, 'overview');
    });

    await step(page, 'the definitions page shows the graph and YAML, and registration errors', async () => {
      await page.click('[data-testid="nav-definitions"]');
      await page.waitForSelector('[data-testid="definition-row"][data-name="delivery"]');
      await page.click('[data-testid="definition-row"][data-name="delivery"] [data-testid="definition-link"]');
      await page.waitForSelector('[data-testid="definition-page"] [data-testid="graph"]');
      check((await page.textContent('[data-testid="definition-source"]')).includes('name: delivery'), 'the YAML source is shown');
      await shot(page, 'definition');
      await page.click('[data-testid="nav-definitions"]');
      await page.fill('[data-testid="definition-yaml"]', "document:\n  dsl: '1.0.0'\n  namespace: test\n  name: broken\n  version: '1.0.0'\ndo:\n  - step:\n      sett: {}\n");
      await page.click('[data-testid="definition-submit"]');
      await page.waitForSelector('[data-testid="definition-errors"] li');
      const first = await page.textContent('[data-testid="definition-errors"] li');
      check(/^definition\.yaml:\d+:\d+: /.test(first), `errors name FILE:LINE:COLUMN (${first})`);
      await shot(page, 'definition-errors');
      await page.fill('[data-testid="definition-yaml"]', "document:\n  dsl: '1.0.0'\n  namespace: test\n  name: browser-hello\n  version: '0.1.0'\ndo:\n  - greet:\n      set:\n        message: hello\n");
      await page.click('[data-testid="definition-submit"]');
      await page.waitForSelector('[data-testid="definition-registered"]');
      await page.click('[data-testid="definition-registered"] a');
      await page.waitForSelector('[data-testid="definition-page"] [data-testid="graph-task"][data-ref$="/greet"]');
    });

    const flightId = `browser-fleet-${Date.now().toString(36)}`;
    await step(page, 'the fleet lists the ten drones and the one a delivery in flight holds, linked to it', async () => {
      await page.click('[data-testid="nav-fleet"]');
      await page.waitForSelector('[data-testid="nav-fleet"].active');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="drone-row"]').length === 10);
      await page.waitForFunction(() => document.querySelector('[data-testid="fleet-available"]')?.textContent === '10');
      await api('POST', '/api/v1/workflows', { workflow: 'delivery', id: flightId, input: deliveryInput(flightId) });
      const row = `[data-testid="drone-row"][data-state="assigned"]:has([data-testid="drone-delivery"][href="#/workflows/${flightId}"])`;
      await page.waitForSelector(row, { timeout: COMPLETION_TIMEOUT_MS });
      check((await page.textContent('[data-testid="fleet-assigned"]')) === '1', 'one drone is assigned');
      check(/\d+\.\d{5}, -?\d+\.\d{5}/.test(await page.textContent(`${row} [data-testid="drone-location"]`)), 'the drone has a location');
      await shot(page, 'fleet-live');
      await page.click(`${row} [data-testid="drone-delivery"]`);
      await page.waitForSelector('[data-testid="workflow-page"]');
      check((await page.textContent('[data-testid="workflow-id"]')) === flightId, 'the delivery links to its workflow');
    });

    const fixture = (name) => readFileSync(path.join(SOURCE_DIR, 'tests/browser/fixtures', name), 'utf8');
    await step(page, 'the fleet view renders every field of a fleet (fixture)', async () => {
      await page.route(`${baseUrl}/api/v1/fleet`, (route) => route.fulfill({ contentType: 'application/json', body: fixture('fleet.json') }));
      await page.goto(`${baseUrl}/dashboard#/fleet`);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="drone-row"]').length === 3);
      check((await page.textContent('[data-testid="fleet-available"]')) === '1', 'available count');
      check((await page.textContent('[data-testid="fleet-assigned"]')) === '2', 'assigned count');
      check((await page.textContent('[data-testid="fleet-as-of"]')).includes('2026-11-21 10:03:00.000Z'), 'the time of the answer');
      const flying = '[data-testid="drone-row"][data-id="drone-002"]';
      check((await page.getAttribute(`${flying} [data-testid="drone-delivery"]`, 'href')) === '#/workflows/fixture-delivery-1', 'the delivery links to its workflow');
      check((await page.textContent(`${flying} [data-testid="drone-stage"]`)) === 'HeadedToDropoff (plan 2)', 'stage and re-plan');
      check((await page.textContent(`${flying} [data-testid="drone-pickup-eta"]`)) === '2026-11-21 10:02:00.000Z 1 min 00 s ago', 'pickup ETA, relative to the answer');
      check((await page.textContent(`${flying} [data-testid="drone-delivery-eta"]`)) === '2026-11-21 10:04:30.000Z in 1 min 30 s', 'delivery ETA, relative to the answer');
      check((await page.textContent(`${flying} [data-testid="drone-location"]`)) === '47.62213, -122.34762 · 120 m', 'location');
      const idle = '[data-testid="drone-row"][data-id="drone-001"]';
      check((await page.textContent(`${idle} td:nth-child(3)`)) === '—', 'an available drone has no delivery');
      check((await page.textContent(`${idle} [data-testid="drone-state"]`)) === 'available', 'state');
      // Markup in a value is shown as text, never parsed.
      check((await page.$$('[data-testid="fleet-table"] img')).length === 0, 'no element from a value');
      check((await page.textContent('[data-testid="drone-row"][data-id="drone-003"] [data-testid="drone-delivery"]')) === '<img src=x onerror=alert(1)>', 'the id as text');
      await shot(page, 'fleet-fixture');
      await page.unroute(`${baseUrl}/api/v1/fleet`);
    });

    await step(page, 'a fleet the server cannot read shows the problem detail', async () => {
      await page.route(`${baseUrl}/api/v1/fleet`, (route) => route.fulfill({
        status: 503, contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'https://flightplan.dev/problems/unavailable', title: 'Service unavailable', status: 503,
                               detail: 'the drone service store is unavailable: connection refused', instance: '/api/v1/fleet' }),
      }));
      await page.goto(`${baseUrl}/dashboard#/fleet`);
      await page.waitForSelector('[data-testid="fleet-error"]:not([hidden])');
      const text = await page.textContent('[data-testid="fleet-error"]');
      check(text === 'The fleet could not be loaded: the drone service store is unavailable: connection refused', `error line (${text})`);
      await page.unroute(`${baseUrl}/api/v1/fleet`);
      await page.waitForSelector('[data-testid="fleet-error"][hidden]', { state: 'attached' });
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="drone-row"]').length === 10);
    });

    await step(page, 'the dead letters: none on this server, then every field of a page (fixture)', async () => {
      await page.click('[data-testid="nav-dead-letters"]');
      await page.waitForSelector('[data-testid="dead-letters-empty"]');
      check((await page.textContent('[data-testid="dead-letters-total"]')) === '0 kept', 'nothing kept');
      const letters = `${baseUrl}/api/v1/dead-letters?limit=100`;
      await page.route(letters, (route) => route.fulfill({ contentType: 'application/json', body: fixture('dead-letters.json') }));
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="dead-letter-row"]').length === 2, null,
                                 { timeout: UI_TIMEOUT_MS });
      check((await page.textContent('[data-testid="dead-letters-total"]')) === '250 kept; the newest 2 shown', 'total and page');
      const task = '[data-testid="dead-letter-row"][data-kind="task"]';
      check((await page.textContent(`${task} [data-testid="dead-letter-kind"]`)) === 'task', 'kind');
      check((await page.getAttribute(`${task} [data-testid="dead-letter-workflow"]`, 'href')) === '#/workflows/fixture-delivery-1', 'workflow link');
      check((await page.textContent(`${task} [data-testid="dead-letter-reason"]`)).startsWith('drone.schedule was handed out 6 times'), 'reason');
      check((await page.textContent(`${task} [data-testid="dead-letter-deliveries"]`)) === '6', 'deliveries');
      check((await page.textContent(`${task} td:first-child`)) === '2026-11-21 10:03:00.000Z', 'time');
      check(!(await page.isVisible(`${task} [data-testid="dead-letter-entry-json"]`)), 'the entry starts collapsed');
      await page.click(`${task} [data-testid="dead-letter-entry"] summary`);
      await page.waitForSelector(`${task} [data-testid="dead-letter-entry-json"]`, { state: 'visible' });
      check(JSON.parse(await page.textContent(`${task} [data-testid="dead-letter-entry-json"]`)).idempotency_key === 'fixture-delivery-1/7', 'the entry as JSON');
      // The next polls bring the same page: the opened entry stays open.
      await page.waitForTimeout(2500);
      check(await page.isVisible(`${task} [data-testid="dead-letter-entry-json"]`), 'still open after a poll');
      const input = '[data-testid="dead-letter-row"][data-kind="input"]';
      await page.click(`${input} [data-testid="dead-letter-entry"] summary`);
      check((await page.textContent(`${input} [data-testid="dead-letter-entry-json"]`)) === '{not json', 'an unreadable entry as its text');
      await shot(page, 'dead-letters-fixture');
      await page.unroute(letters);
    });

    await step(page, 'the page fits a narrow screen', async () => {
      await page.setViewportSize({ width: 420, height: 900 });
      await page.goto(`${baseUrl}/dashboard#/workflows/${encodeURIComponent(okId)}`);
      await page.waitForSelector('[data-testid="workflow-status"][data-status="completed"]');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `no horizontal scrolling of the page (${overflow} px too wide)`);
      await shot(page, 'workflow-narrow');
    });

    await step(page, 'no script error and nothing fetched from outside the server', async () => {
      check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
      check(outside.length === 0, `outside requests: ${outside.join(', ')}`);
    });
  } finally {
    await browser.close().catch(() => {});
  }
}

let failed = false;
try {
  await run();
} catch (error) {
  failed = true;
  console.error(error.stack || String(error));
} finally {
  await stopServer();
}
console.log(failed ? `# FAILED; screenshots and server.log in ${artifacts}` : `# passed; screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
