// The console's shell: the login form when the admin API wants a token, the tabs, and which view is shown.

import { AuthError, hasToken, json, setToken } from './api.js';
import { say } from './dom.js';
import * as streams from './streams.js';
import * as player from './player.js';
import * as storage from './storage.js';
import * as guests from './guests.js';

const views = { streams, player, storage, guests };
let current = null;

function show(name) {
  if (!views[name]) name = 'streams';
  if (current && current !== name) views[current].hide?.();
  current = name;
  for (const view of Object.keys(views)) document.getElementById(view).hidden = view !== name;
  for (const tab of document.querySelectorAll('#tabs button')) {
    tab.setAttribute('aria-selected', String(tab.dataset.view === name));
  }
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  views[name].show();
}

/// Whatever a view's call to the API threw: a refused token sends the operator back to the login form.
export function failed(error, where) {
  if (error instanceof AuthError) {
    loggedOut(hasToken() ? 'The admin token was refused.' : '');
    return;
  }
  say(where, error.message);
}

function loggedOut(reason) {
  setToken(null);
  for (const view of Object.keys(views)) document.getElementById(view).hidden = true;
  document.getElementById('tabs').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('login').hidden = false;
  say('login-error', reason);
  document.getElementById('token').focus();
  storage.stopSampling();
}

function loggedIn() {
  document.getElementById('login').hidden = true;
  document.getElementById('tabs').hidden = false;
  document.getElementById('logout').hidden = !hasToken();
  storage.startSampling();
  show(location.hash.slice(1));
}

/// Asks the API once: it answers (no token needed, or the stored one works) or it wants a token. Without
/// a stored token it first asks whether one is needed, so a fresh page never provokes a 401.
async function probe() {
  try {
    if (!hasToken() && (await json('console/access')).token_required) {
      loggedOut('');
      return;
    }
    await json('guests');
    loggedIn();
  } catch (error) {
    if (error instanceof AuthError) loggedOut(hasToken() ? 'The admin token was refused.' : '');
    else {
      const fatal = document.getElementById('fatal');
      fatal.textContent = `The admin API cannot be used from here: ${error.message}`;
      fatal.hidden = false;
    }
  }
}

document.getElementById('login').addEventListener('submit', (event) => {
  event.preventDefault();
  setToken(document.getElementById('token').value);
  document.getElementById('token').value = '';
  probe();
});
document.getElementById('logout').addEventListener('click', () => loggedOut(''));
for (const tab of document.querySelectorAll('#tabs button')) {
  tab.addEventListener('click', () => show(tab.dataset.view));
}
streams.onPlay((stream) => {
  player.choose(stream);
  show('player');
});
probe();
