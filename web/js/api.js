// api.js -- JSON requests to the server (GET /feeds, POST /_search) with the dashboard's token.
// An answer that is not 2xx becomes an HttpError with the status and the server's own words,
// whether it used the dashboard's error shape ({"error": "..."}) or Elasticsearch's
// ({"error": {"type", "reason"}, "status"}).

import { bearerHeaders } from './auth.js';

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function errorText(data, status) {
  const e = data?.error;
  if (typeof e === 'string' && e) return e;
  if (e && typeof e.reason === 'string') return e.reason;
  return `HTTP ${status}`;
}

// GET `url`, or POST `body` as JSON when given. Rejects with HttpError (the server answered),
// TypeError (the network failed) or an AbortError (`signal`).
export async function requestJson(url, { token = '', body, signal } = {}) {
  const headers = { Accept: 'application/json', ...bearerHeaders(token) };
  const init = { cache: 'no-store', headers, signal };
  if (body !== undefined) {
    init.method = 'POST';
    init.body = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let data;
  try { data = JSON.parse(text); } catch { data = undefined; }
  if (!res.ok) throw new HttpError(res.status, errorText(data, res.status));
  if (data === undefined) throw new HttpError(res.status, 'the answer is not JSON');
  return data;
}
