// Pure formatting helpers (no DOM), shared by the views and tested under Node.

// "2026-11-21T10:00:00.123Z" -> "2026-11-21 10:00:00.123Z"; anything else is shown as it is.
export function formatTime(text) {
  if (typeof text !== 'string' || text === '') return '—';
  return text.replace('T', ' ');
}

// Milliseconds as "850 ms", "12.3 s", "4 min 05 s", "3 h 02 min", "2 d 04 h".
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${Math.round(rest)} ms`;
  if (rest < 60_000) return `${sign}${(rest / 1000).toFixed(1)} s`;
  rest = Math.round(rest / 1000);
  const pad = (n) => String(n).padStart(2, '0');
  if (rest < 3600) return `${sign}${Math.floor(rest / 60)} min ${pad(rest % 60)} s`;
  if (rest < 86_400) return `${sign}${Math.floor(rest / 3600)} h ${pad(Math.floor((rest % 3600) / 60))} min`;
  return `${sign}${Math.floor(rest / 86_400)} d ${pad(Math.floor((rest % 86_400) / 3600))} h`;
}

// The time between two RFC 3339 timestamps, or null when one is missing or unreadable. Both come
// from the server, so a browser clock that is off (or a server running a scaled clock) does not matter.
export function durationBetween(start, end) {
  const start_ms = Date.parse(start);
  const end_ms = Date.parse(end);
  if (Number.isNaN(start_ms) || Number.isNaN(end_ms)) return null;
  return end_ms - start_ms;
}

// "in 4.0 s" / "3.0 s ago" relative to `now_ms`.
export function formatRelative(text, now_ms) {
  const at_ms = Date.parse(text);
  if (Number.isNaN(at_ms)) return '';
  const delta_ms = at_ms - now_ms;
  return delta_ms >= 0 ? `in ${formatDuration(delta_ms)}` : `${formatDuration(-delta_ms)} ago`;
}

// JSON for display: two-space indentation; undefined is shown as "—".
export function formatJson(value) {
  if (value === undefined) return '—';
  return JSON.stringify(value, null, 2);
}

// A short one-line preview of a JSON value, at most `chars_max` characters.
export function previewJson(value, chars_max = 90) {
  if (value === undefined || value === null) return '';
  const text = JSON.stringify(value);
  if (text === '{}' || text === '[]') return '';
  return text.length > chars_max ? text.slice(0, chars_max - 1) + '…' : text;
}

// A rate with a sensible number of digits: "0", "0.42", "3.5", "128".
export function formatRate(per_second) {
  if (!Number.isFinite(per_second) || per_second <= 0) return '0';
  if (per_second < 1) return per_second.toFixed(2);
  if (per_second < 100) return per_second.toFixed(1);
  return String(Math.round(per_second));
}

// A position {latitude, longitude, altitude?} as "47.62150, -122.34800 · 120 m"; "—" when it is not one.
export function formatLocation(location) {
  const { latitude, longitude, altitude } = location ?? {};
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return '—';
  const text = `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`;
  return Number.isFinite(altitude) ? `${text} · ${Math.round(altitude)} m` : text;
}

export function formatCount(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}
