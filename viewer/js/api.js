// api.js — the viewer's only way to the server: cairn serve's public API
// (docs/api.md). Every call sends the token kept for this tab, if any.

const TOKEN_KEY = 'cairn.token';

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// An answer that was not 2xx: the API's {error: {code, message, hint}}.
export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint || '';
  }
  // "409 conflict: MESSAGE"
  describe() { return `${this.status} ${this.code}: ${this.message}`; }
}

function headers(extra) {
  const h = Object.assign({ Accept: 'application/json' }, extra || {});
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

export async function api(method, path, body) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable',
      `the server could not be reached (${e.message})`,
      'is cairn serve still running?');
  }
  const text = await res.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = null; }
  if (!res.ok) {
    const e = doc && doc.error ? doc.error : {};
    throw new ApiError(res.status, e.code || 'error',
      e.message || `${method} ${path} answered ${res.status}`, e.hint);
  }
  return doc;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body || {});
export const enc = encodeURIComponent;

// Server-Sent Events over fetch (EventSource cannot send a token):
// calls onEvent({id, event, data}) for each event, reconnecting with
// Last-Event-ID after a dropped connection, until the stream ends by
// itself (onEnd) or `signal` aborts.
export function stream(path, onEvent, { signal, onEnd, onState } = {}) {
  let last = '';
  let tries = 0;
  const run = async () => {
    while (!signal || !signal.aborted) {
      try {
        const h = headers({ Accept: 'text/event-stream' });
        if (last) h['Last-Event-ID'] = last;
        const res = await fetch(path, { headers: h, signal });
        if (!res.ok) throw new Error(`status ${res.status}`);
        if (onState) onState(true);
        tries = 0;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = { id: '', event: 'message', data: '' };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const k = c < 0 ? line : line.slice(0, c);
              const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (k === 'id') ev.id = v;
              else if (k === 'event') ev.event = v;
              else if (k === 'data') ev.data += (ev.data ? '\n' : '') + v;
            }
            if (ev.id) last = ev.id;
            if (ev.data) {
              try { ev.data = JSON.parse(ev.data); } catch { /* text */ }
              onEvent(ev);
            }
          }
        }
        if (onState) onState(false);
        if (onEnd) onEnd();
        return; // the server ended the stream: the run is over
      } catch (e) {
        if (signal && signal.aborted) return;
        if (onState) onState(false);
        tries++;
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * tries)));
      }
    }
  };
  run();
}
