// The API client: same-origin fetches with the stored bearer token. On 401 it asks the user for a
// token (once, however many requests are waiting) and retries; every other error becomes an ApiError
// carrying the problem+json `detail`, which the views show as it is.

const TOKEN_KEY = 'flightplan.token';
const REQUEST_TIMEOUT_MS = 15_000;

export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;      // HTTP status; 0 when the server could not be reached
    this.detail = detail;      // text for the user
    this.problem = problem;    // the problem+json body when there was one
  }
}

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lives only as long as this page.
  }
  memoryToken = token;
  promptDismissed = false;
}

let memoryToken = '';
let askForToken = null;  // set by the app: () => Promise<string|null>
let pendingPrompt = null;
// Once the user dismissed the prompt, polls do not bring it back every second; storing a token
// (the Token button) allows it again.
let promptDismissed = false;

export function setTokenPrompt(prompt) {
  askForToken = prompt;
}

function currentToken() {
  return storedToken() || memoryToken;
}

async function problemOf(response) {
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('json')) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

async function send(method, path, body, contentType) {
  const headers = { Accept: 'application/json' };
  const token = currentToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    return await fetch(path, { method, headers, body, signal: controller.signal, cache: 'no-store' });
  } catch (error) {
    const detail = error.name === 'AbortError' ? `no answer from the server within ${REQUEST_TIMEOUT_MS / 1000} s`
                                               : 'the server cannot be reached';
    throw new ApiError(0, detail, null);
  } finally {
    clearTimeout(timer);
  }
}

// Asks for a token once for all the requests that met a 401 meanwhile; resolves true when one was given.
function promptOnce(detail) {
  if (!askForToken || promptDismissed) return Promise.resolve(false);
  if (!pendingPrompt) {
    pendingPrompt = askForToken(detail).then((token) => {
      pendingPrompt = null;
      if (token) storeToken(token);
      else promptDismissed = true;
      return Boolean(token);
    });
  }
  return pendingPrompt;
}

// The raw response of an API call (2xx), after at most a few token prompts.
export async function request(method, path, { body, contentType = 'application/json' } = {}) {
  for (let prompts = 0; ; ++prompts) {
    const response = await send(method, path, body, contentType);
    if (response.ok || response.status === 304) return response;
    const problem = await problemOf(response);
    const detail = problem?.detail || problem?.title || `${response.status} ${response.statusText}`;
    if (response.status === 401 && prompts < 3 && (await promptOnce(detail))) continue;
    throw new ApiError(response.status, detail, problem);
  }
}

export async function getJson(path) {
  const response = await request('GET', path);
  return response.json();
}

export async function postJson(path, value) {
  const response = await request('POST', path, { body: value === undefined ? undefined : JSON.stringify(value) });
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

// A query string from an object, skipping empty values: {a: 1, b: ''} -> "?a=1".
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function workflowPath(id, ...rest) {
  return ['/api/v1/workflows', encodeURIComponent(id), ...rest.map(encodeURIComponent)].join('/');
}

export function definitionPath(name, ...rest) {
  return ['/api/v1/definitions', encodeURIComponent(name), ...rest.map(encodeURIComponent)].join('/');
}
