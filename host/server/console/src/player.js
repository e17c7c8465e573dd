// The Player view: plays a listed stream with hls.js (HLS) or dash.js (DASH), both served by this origin
// and loaded on first use; a rendition picker (Auto lets the player choose) and the live latency.

import { el, fill, formatBits, formatSeconds, keyPath, say } from './dom.js';
import { failed } from './main.js';
import * as streams from './streams.js';

const video = document.getElementById('video');
const picker = document.getElementById('player-stream');
const renditions = document.getElementById('player-rendition');
const loaded = {};
let chosen = null;
/// The running player: { kind: 'hls', hls } or { kind: 'dash', dash }.
let active = null;
let ticker = null;

/// Loads one of the embedded player libraries once.
function library(file) {
  loaded[file] ??= new Promise((resolve, reject) => {
    const script = el('script', { src: `/_strata/console/${file}` });
    script.addEventListener('load', resolve);
    script.addEventListener('error', () => reject(new Error(`cannot load ${file}`)));
    document.head.append(script);
  });
  return loaded[file];
}

export function show() {
  streams.load().then(fillPicker).catch((error) => failed(error, 'player-error'));
  ticker ??= setInterval(stats, 500);
}

export function hide() {
  clearInterval(ticker);
  ticker = null;
}

/// Plays `stream` (from the Streams view) once the view is shown.
export function choose(stream) {
  chosen = stream;
  play(stream);
}

function fillPicker(list) {
  const options = list.streams.map((s) => el('option', { value: s.key, selected: chosen?.key === s.key },
    `${s.key} (${s.format.toUpperCase()}, ${s.live ? 'live' : 'VOD'})`));
  fill('player-stream', chosen ? null : el('option', { value: '' }, 'Choose a stream…'), options);
}

picker.addEventListener('change', () => {
  const stream = streams.latest.find((s) => s.key === picker.value);
  if (stream) choose(stream);
});

renditions.addEventListener('change', () => {
  const index = Number(renditions.value);
  if (active?.kind === 'hls') active.hls.currentLevel = index;
  if (active?.kind === 'dash') {
    active.dash.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: index < 0 } } } });
    if (index >= 0) active.dash.setRepresentationForTypeByIndex('video', index, true);
  }
});

function stop() {
  active?.hls?.destroy();
  active?.dash?.destroy();
  active = null;
  video.removeAttribute('src');
  video.load();
  say('player-error', '');
}

async function play(stream) {
  stop();
  const url = keyPath(stream.key);
  say('player-source', `${stream.key} (${stream.format.toUpperCase()}, ${stream.live ? 'live' : 'VOD'})`);
  try {
    if (stream.format === 'hls') await playHls(url);
    else await playDash(url);
  } catch (error) {
    say('player-error', error.message);
  }
}

async function playHls(url) {
  await library('hls.min.js');
  const Hls = window.Hls;
  if (!Hls.isSupported()) throw new Error('this browser has no Media Source Extensions');
  // No worker: the page's policy allows scripts from this origin only, not blob: workers.
  const hls = new Hls({ enableWorker: false });
  active = { kind: 'hls', hls };
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    pickerOf(hls.levels.map((level) => [level.height ? `${level.height}p` : null, formatBits(level.bitrate)]));
    video.play().catch((e) => say('player-error', `play(): ${e.message}`));
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (data.fatal) say('player-error', `hls.js: ${data.type} ${data.details}${data.response ? ` (HTTP ${data.response.code})` : ''}`);
  });
  hls.loadSource(url);
  hls.attachMedia(video);
}

async function playDash(url) {
  await library('dash.all.min.js');
  const { dashjs } = window;
  const dash = dashjs.MediaPlayer().create();
  active = { kind: 'dash', dash };
  dash.initialize(video, null, true);
  // The clock comes from the origin (the MPD's UTCTiming names /_strata/time), never a time server elsewhere.
  dash.clearDefaultUTCTimingSources();
  dash.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_ERROR } });
  const events = dashjs.MediaPlayer.events;
  dash.on(events.STREAM_INITIALIZED, () => {
    pickerOf(dash.getRepresentationsByType('video').map((r) => [r.height ? `${r.height}p` : null, formatBits(r.bandwidth)]));
  });
  dash.on(events.ERROR, (e) => say('player-error', `dash.js: ${e.error ? `${e.error.code}: ${e.error.message}` : 'error'}`));
  dash.attachSource(url);
}

/// Fills the rendition picker: Auto, then one option per rendition ([label parts]) by index.
function pickerOf(levels) {
  fill('player-rendition', el('option', { value: -1 }, 'Auto'),
    levels.map((parts, i) => el('option', { value: i }, parts.filter(Boolean).join(' · ') || `#${i + 1}`)));
}

function stats() {
  if (!active) return;
  say('player-time', formatSeconds(video.currentTime));
  let latency = null;
  let level = null;
  if (active.kind === 'hls') {
    latency = active.hls.latency;
    level = active.hls.levels[active.hls.currentLevel];
    level = level && [level.height ? `${level.height}p` : null, formatBits(level.bitrate)];
  } else {
    // dash.js throws until the stream is initialized.
    try {
      const dash = active.dash;
      if (dash.isDynamic()) latency = dash.getCurrentLiveLatency();
      const r = dash.getCurrentRepresentationForType('video');
      level = r && [r.height ? `${r.height}p` : null, formatBits(r.bandwidth)];
    } catch {
      return;
    }
  }
  const shown = Number.isFinite(latency) && latency > 0 ? formatSeconds(latency) : '–';
  say('player-latency', chosen?.live ? shown : '– (VOD)');
  say('player-level', level ? level.filter(Boolean).join(' · ') : '–');
}
