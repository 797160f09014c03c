// The public v1 API over fetch. Every failure becomes an ApiError whose message is words a
// person can read: the problem+json title and detail when the server sent one.
import { session } from './session.js';

export class ApiError extends Error {
  constructor(status, problem, fallback) {
    const detail = problem?.detail || problem?.title || fallback;
    super(detail);
    this.status = status;
    this.problem = problem;
    this.title = problem?.title;
  }
}

export async function api(method, path, { json, auth = true, query, accept, headers: extra } = {}) {
  const headers = { ...(extra ?? {}) };
  if (accept) headers.Accept = accept;
  const token = session.token;
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  let url = path;
  if (query) {
    const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''));
    if ([...q].length) url += `?${q}`;
  }
  let r;
  try {
    r = await fetch(url, { method, headers, body });
  } catch (e) {
    throw new ApiError(0, null, `The server could not be reached (${e.message}). Check your connection and try again.`);
  }
  const type = r.headers.get('content-type') ?? '';
  const text = await r.text();
  let parsed = text;
  if (/json/.test(type) && text) {
    try { parsed = JSON.parse(text); } catch { /* leave as text */ }
  }
  if (!r.ok) {
    if (r.status === 401 && auth && token && path !== '/v1/auth/logout') session.expired();
    const problem = typeof parsed === 'object' && parsed ? parsed : null;
    throw new ApiError(r.status, problem, `The server answered ${r.status} ${r.statusText}.`);
  }
  return parsed;
}

let chainInfo;
export async function chain() {
  chainInfo ??= api('GET', '/v1/chain', { auth: false }).catch((e) => { chainInfo = undefined; throw e; });
  return chainInfo;
}
