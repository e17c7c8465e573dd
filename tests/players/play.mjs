// Plays one live stream in a real browser player for tests/players.rs, and prints what happened.
//
// Usage: node play.mjs <hls|dash> <manifest-url> <seconds> <screenshot.png>
//
// The page and the player scripts (hls.js, dash.js from node_modules) are served by this script's own
// loopback HTTP server, so the page's origin differs from Strata's and every request the player makes is
// cross-origin, as it is for a real site. Debian's headless Chromium, driven by playwright-core, plays the
// manifest muted for <seconds> after playback starts, sampling video.currentTime against the wall clock
// every 500 ms. It prints ONE JSON line (see `report` below) and exits 0 whenever the browser ran, even if
// playback failed: the Rust test judges the report. It exits non-zero only if the browser could not run.
//
// package.json: dash.js is the npm package `dashjs` (the npm package `dash.js` is an unrelated dashboard
// kit); playwright-core stays at 1.61, the last release that runs on Debian 12's node 18.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const [player, manifestUrl, secondsArg, screenshotPath] = process.argv.slice(2);
const seconds = Number(secondsArg);
if (!['hls', 'dash'].includes(player) || !manifestUrl || !(seconds > 0) || !screenshotPath) {
  console.error('usage: node play.mjs <hls|dash> <manifest-url> <seconds> <screenshot.png>');
  process.exit(2);
}

// How long the player may take from page load to its first `playing` event.
const STARTUP_TIMEOUT_MS = 30_000;
// At most this many entries of each diagnostic list are kept, so a broken run still prints one short line.
const MAX_ENTRIES = 40;
const CHROMIUM = '/usr/bin/chromium';

// The player page. It records everything into `window.report`; node reads it at the end.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>strata player test</title><link rel="icon" href="data:,"></head>
<body style="margin:0;background:#000">
<video id="video" muted playsinline style="width:640px;height:360px"></video>
<script src="/player.js"></script>
<script>
const params = new URLSearchParams(location.search);
const player = params.get('player');
const src = params.get('src');
const video = document.getElementById('video');
// Every time is in ms since the page loaded (performance.now()).
const report = window.report = {
  startedAtMs: null, // the first 'playing' event
  samples: [],       // [ms, video.currentTime, seconds buffered ahead], every 500 ms from the start on
  errors: [],        // {atMs, fatal, source, detail}
  stalls: [],        // {atMs, durationMs} of each 'waiting' after the start; durationMs null while waiting
};
const now = () => Math.round(performance.now());
const push = (list, entry) => { if (list.length < ${MAX_ENTRIES}) list.push(entry); };
const error = (fatal, source, detail) => push(report.errors, { atMs: now(), fatal, source, detail });

let waitingSince = null;
function endStall() {
  if (waitingSince !== null) {
    report.stalls[report.stalls.length - 1].durationMs = now() - waitingSince;
    waitingSince = null;
  }
}
video.addEventListener('playing', () => {
  if (report.startedAtMs === null) {
    report.startedAtMs = now();
    sample();
    setInterval(sample, 500);
  }
  endStall();
});
video.addEventListener('waiting', () => {
  if (report.startedAtMs !== null && waitingSince === null) {
    waitingSince = now();
    push(report.stalls, { atMs: waitingSince, durationMs: null });
  }
});
video.addEventListener('error', () =>
  error(true, 'video', video.error ? video.error.code + ': ' + video.error.message : 'unknown'));

function sample() {
  let ahead = 0;
  for (let i = 0; i < video.buffered.length; i++) {
    if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i)) {
      ahead = video.buffered.end(i) - video.currentTime;
    }
  }
  report.samples.push([
    now(),
    Number(video.currentTime.toFixed(3)),
    Number(ahead.toFixed(3)),
  ]);
}

if (player === 'hls') {
  // hls.js itself, never the browser's native HLS, even where canPlayType says it could.
  if (!Hls.isSupported()) {
    error(true, 'hls.js', 'Hls.isSupported() is false: no MediaSource in this browser');
  }
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_, data) => error(!!data.fatal, 'hls.js',
    [data.type, data.details, data.error && data.error.message, data.response && data.response.code,
      data.url || (data.frag && data.frag.url) || (data.context && data.context.url)]
      .filter((x) => x !== undefined && x !== null && x !== '').join(' | ')));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => error(true, 'play()', String(e))));
  hls.loadSource(src);
  hls.attachMedia(video);
} else {
  const dash = dashjs.MediaPlayer().create();
  dash.initialize(video, null, true);
  // The clock must come from Strata (UTCTiming in the MPD, or the Date header of its answers), never from
  // dash.js's default time server on the internet, which would hide what Strata itself provides.
  // initialize() restores that default, so it is cleared after it.
  dash.clearDefaultUTCTimingSources();
  // ffmpeg writes suggestedPresentationDelay = one segment (2 s), which dash.js follows by default; with a
  // SegmentTimeline refreshed every minimumUpdatePeriod (2 s), the next segment is often not yet listed
  // when the playhead needs it, so dash.js would starve on any origin. Three segments behind the live edge
  // is hls.js's default distance (liveSyncDurationCount), so both players sit equally far from it.
  dash.updateSettings({
    debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
    streaming: { delay: { liveDelayFragmentCount: 3 } },
  });
  const events = dashjs.MediaPlayer.events;
  dash.on(events.ERROR, (e) => error(true, 'dash.js error', e.error
    ? [e.error.code, e.error.message].join(': ') : JSON.stringify(e)));
  dash.on(events.PLAYBACK_ERROR, (e) => error(true, 'dash.js playbackError',
    e.error ? String(e.error.message || e.error) : JSON.stringify(e)));
  dash.attachSource(src);
}
</script></body></html>`;

const PLAYER_JS = {
  hls: new URL('./node_modules/hls.js/dist/hls.min.js', import.meta.url),
  dash: new URL('./node_modules/dashjs/dist/modern/umd/dash.all.min.js', import.meta.url),
}[player];
const playerJs = await readFile(PLAYER_JS);

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://page').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  } else if (path === '/player.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(playerJs);
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const pageUrl = `http://127.0.0.1:${server.address().port}/?` +
  new URLSearchParams({ player, src: manifestUrl });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  // The flags keep Chromium from calling home: this network refuses such connections.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
const report = {
  player,
  pageUrl,
  browser: browser.version(),
  startedAtMs: null,
  samples: [],
  errors: [],
  stalls: [],
  consoleErrors: [],
  pageErrors: [],
  failedRequests: [],
  screenshot: screenshotPath,
};
try {
  const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
  const keep = (list, entry) => { if (list.length < MAX_ENTRIES) list.push(entry); };
  page.on('console', (m) => { if (m.type() === 'error') keep(report.consoleErrors, m.text()); });
  page.on('pageerror', (e) => keep(report.pageErrors, String(e)));
  page.on('requestfailed', (r) => keep(report.failedRequests, `${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) keep(report.failedRequests, `${r.url()}: ${r.status()}`); });

  await page.goto(pageUrl);
  try {
    await page.waitForFunction(() => window.report.startedAtMs !== null, null,
      { timeout: STARTUP_TIMEOUT_MS, polling: 100 });
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
  }
  if (await page.evaluate(() => window.report.startedAtMs !== null)) {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
  Object.assign(report, await page.evaluate(() => {
    const r = window.report;
    if (r.startedAtMs !== null) sample(); // the last sample, at the end of the run
    return { startedAtMs: r.startedAtMs, samples: r.samples, errors: r.errors, stalls: r.stalls };
  }));
  await page.screenshot({ path: screenshotPath });
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(report));
