// The Guests view: each guest's active version and the ones kept for rollback; deploy a .wasm from a file
// and roll back, each after a confirmation; a refusal is shown with the API's reason.

import { AuthError, call, json } from './api.js';
import { el, fill, formatTime, say } from './dom.js';
import { failed } from './main.js';

export function show() {
  refresh();
}

export function hide() {}

async function refresh() {
  try {
    const { guests } = await json('guests');
    fill('guests-rows', guests.map(row));
    say('guests-error', '');
  } catch (error) {
    failed(error, 'guests-error');
  }
}

function row(guest) {
  const previous = guest.previous[0];
  return el('tr', { 'data-guest': guest.name },
    el('td', { class: 'key' }, guest.name),
    el('td', {}, `${guest.kind} (ABI ${guest.abi})`),
    el('td', { class: 'key' }, guest.namespace ?? '–'),
    el('td', { class: 'key version' }, el('span', { title: guest.version.sha256 }, guest.version.id)),
    el('td', {}, formatTime(guest.version.activated_at)),
    el('td', { class: 'key' }, guest.previous.map((v) => v.id).join(', ') || '–'),
    el('td', {}, el('button', {
      type: 'button',
      class: 'rollback',
      disabled: !previous,
      onclick: () => rollback(guest.name, guest.version.id, previous.id),
    }, 'Roll back…')));
}

/// Runs a deploy or rollback, then shows the guests as they are now and what happened (after the refresh,
/// which clears the view's messages).
async function act(what, request) {
  let result = '';
  let refusal = '';
  try {
    const answer = await (await request()).json();
    result = `${what}: ${answer.name} now runs version ${answer.version.id}.`;
  } catch (error) {
    if (error instanceof AuthError) {
      failed(error, 'guests-error');
      return;
    }
    refusal = `${what} refused: ${error.message}`;
  }
  await refresh();
  say('guests-result', result);
  say('guests-error', refusal);
}

function rollback(name, current, previous) {
  if (!confirm(`Roll back guest "${name}" from version ${current} to ${previous}?`)) return;
  act('Rollback', () => call(`guests/${encodeURIComponent(name)}/rollback`, { method: 'POST' }));
}

document.getElementById('deploy').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = document.getElementById('deploy-name').value.trim();
  const namespace = document.getElementById('deploy-namespace').value.trim();
  const file = document.getElementById('deploy-file').files[0];
  if (!file) return;
  const where = namespace ? ` confined to ${namespace}` : '';
  if (!confirm(`Deploy ${file.name} (${file.size} bytes) as guest "${name}"${where}?`)) return;
  const query = namespace ? `?namespace=${encodeURIComponent(namespace)}` : '';
  act('Deploy', () => call(`guests/${encodeURIComponent(name)}${query}`, { method: 'PUT', body: file }));
});
