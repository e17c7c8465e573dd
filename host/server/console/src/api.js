// The admin API as the console calls it: the token from the login form goes in an Authorization header
// (never in a URL), kept in this tab's sessionStorage until "Log out".

const TOKEN_KEY = 'strata-admin-token';

/// The API refused the token (or wants one).
export class AuthError extends Error {}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function hasToken() {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

/// Calls `/_strata/<path>`; throws AuthError on 401 and Error with the API's one-line reason otherwise.
export async function call(path, { method = 'GET', body } = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`/_strata/${path}`, { method, body, headers, cache: 'no-store' });
  if (response.status === 401) throw new AuthError((await response.text()).trim());
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}: ${(await response.text()).trim()}`);
  return response;
}

export async function json(path, options) {
  return (await call(path, options)).json();
}

export async function text(path, options) {
  return (await call(path, options)).text();
}
