// auth.js -- the access token of a server with access control (README, "Access control"): kept
// in this tab's sessionStorage, never in the page URL; sent as `Authorization: Bearer` with
// fetch, and as the `access_token` query parameter on EventSource URLs (EventSource cannot send
// headers); and the messages for the server's 401 and 403. Without a token nothing is added, as
// a server without access control expects. Pure but for the storage, which callers may pass in.

const STORAGE_KEY = 'activity-stream.token';

export function loadToken(storage = globalThis.sessionStorage) {
  try { return storage?.getItem(STORAGE_KEY) ?? ''; } catch { return ''; }
}

// An empty token removes the stored one. Storage that refuses (private modes) is not an error:
// the token then lasts as long as the page.
export function saveToken(token, storage = globalThis.sessionStorage) {
  try {
    if (token) storage?.setItem(STORAGE_KEY, token);
    else storage?.removeItem(STORAGE_KEY);
  } catch { /* kept in memory only */ }
}

export function bearerHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// The server reads '+' in a query string as a space: the token is always percent-encoded.
export function withAccessToken(url, token) {
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
}

export function isRefusal(status) {
  return status === 401 || status === 403;
}

// What to tell the user when the server refused `use` ("the stream", "the feeds list"...).
export function refusalText(status, use, hasToken) {
  if (status === 403) return `This token may not use ${use}: ask for one that allows it.`;
  if (!hasToken) return 'The server needs a token: enter one above (Settings, Access token).';
  return 'This token was refused (missing, invalid or expired): enter a valid one above.';
}
