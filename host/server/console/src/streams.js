// The Streams view: every stream the stored playlists and MPDs describe (GET /_strata/streams), refreshed
// every few seconds while shown; a stale live stream's row stands out.

import { json } from './api.js';
import { el, fill, formatBits, formatSeconds, say } from './dom.js';
import { failed } from './main.js';

const REFRESH_MS = 3000;
let timer = null;
let refreshing = false;
let playHandler = () => {};
/// The last listing, for the Player's stream picker.
export let latest = [];

export function onPlay(handler) {
  playHandler = handler;
}

export function show() {
  refresh();
  timer ??= setInterval(refresh, REFRESH_MS);
}

export function hide() {
  clearInterval(timer);
  timer = null;
}

/// Fetches the listing (also used by the Player to fill its picker).
export async function load() {
  const listing = await json('streams');
  latest = listing.streams;
  return listing;
}

async function refresh() {
  // A slow listing (up to its 5 s deadline) must not pile up requests behind it.
  if (refreshing) return;
  refreshing = true;
  try {
    const listing = await load();
    const live = listing.streams.filter((s) => s.live).length;
    const stale = listing.streams.filter((s) => s.stale).length;
    say('streams-summary', `${listing.streams.length} streams, ${live} live, ${stale} stale, from ${listing.manifests} manifests` +
      (listing.truncated ? ` (the first ${listing.max_manifests} manifests only)` : ''));
    fill('streams-rows', listing.streams.length
      ? listing.streams.map(row)
      : el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'No playlist or MPD is stored yet.')));
    say('streams-error', '');
  } catch (error) {
    failed(error, 'streams-error');
  } finally {
    refreshing = false;
  }
}

function row(stream) {
  const state = stream.stale
    ? el('span', { class: 'badge stale' }, 'stale')
    : el('span', { class: stream.live ? 'badge live' : 'badge' }, stream.live ? 'live' : 'VOD');
  return el('tr', { class: stream.stale ? 'stale' : null, 'data-key': stream.key },
    el('td', { class: 'key' }, stream.key),
    el('td', {}, stream.format.toUpperCase(), ' ', state),
    el('td', {}, el('ul', { class: 'plain' }, stream.renditions.map(rendition))),
    el('td', {}, formatSeconds(stream.segment_duration_s)),
    el('td', {}, formatSeconds(stream.window_s)),
    el('td', {}, `${formatSeconds(stream.updated_age_s)} ago`),
    el('td', {}, stream.live ? formatBits(stream.ingest_bitrate_bps) : '–'),
    el('td', { class: 'error' }, stream.errors.join('\n')),
    el('td', {}, el('button', { type: 'button', onclick: () => playHandler(stream) }, 'Play')));
}

function rendition(r) {
  const facts = [r.resolution, r.bandwidth ? formatBits(r.bandwidth) : null, r.codecs].filter(Boolean);
  return el('li', {}, r.name, facts.length ? el('span', { class: 'muted' }, ` ${facts.join(' · ')}`) : null);
}
