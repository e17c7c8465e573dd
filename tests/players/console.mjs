// Drives Strata's web console (/_strata/console) in Debian's headless Chromium for tests/console.rs, and
// prints what happened.
//
// Usage: node console.mjs <strata-url> <admin-token> <live-hls-key> <vod-dash-key> <hostile-key> <stale-key> <guest> <guest.wasm> <screenshot-dir>
//
// Logs in with the token, waits for the Streams view to list the four keys, checks the hostile key shows
// as text and the stale stream stands out, plays the live HLS stream and the DASH VOD from the Player view
// (media time must advance), opens Storage, then from the Guests view deploys a file that is no component
// (refused, with the reason shown), deploys <guest.wasm> as <guest> and rolls it back, accepting each
// confirmation. It saves a
// screenshot of each view into <screenshot-dir> and prints ONE JSON line; the Rust test judges it. It exits
// non-zero only if the browser could not run.

import { chromium } from 'playwright-core';

const [base, token, liveKey, vodKey, hostileKey, staleKey, guest, wasm, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node console.mjs <strata-url> <admin-token> <live-hls-key> <vod-dash-key> <hostile-key> <stale-key> <guest> <guest.wasm> <screenshot-dir>');
  process.exit(2);
}
const STEP_TIMEOUT_MS = 20_000;
// Media time must advance this far (s) while the test watches a stream.
const MIN_ADVANCE_S = 1.5;
const WATCH_MS = 3_000;
const CHROMIUM = '/usr/bin/chromium';
const MAX_ENTRIES = 40;

const report = {
  consoleErrors: [], pageErrors: [], failedRequests: [], steps: [], listed: [], hostileText: null,
  injected: null, staleMarked: null, metricsParsed: null, plays: {}, refusal: null, versionBefore: null, versionDeployed: null, versionAfter: null, guestsMessage: null, screenshots: [],
};
const keep = (list, entry) => { if (list.length < MAX_ENTRIES) list.push(entry); };

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  // The flags keep Chromium from calling home: this network refuses such connections.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('console', (m) => { if (m.type() === 'error') keep(report.consoleErrors, m.text()); });
  page.on('pageerror', (e) => keep(report.pageErrors, String(e)));
  page.on('requestfailed', (r) => keep(report.failedRequests, `${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) keep(report.failedRequests, `${r.url()}: ${r.status()}`); });
  page.on('dialog', (d) => { report.steps.push(`dialog: ${d.message()}`); d.accept(); });
  const step = (name) => report.steps.push(name);
  const shot = async (name) => {
    const path = `${shots}/console-${name}.png`;
    await page.screenshot({ path });
    report.screenshots.push(path);
  };

  step('open');
  await page.goto(`${base}/_strata/console`);
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');

  step('streams');
  const row = (key) => page.locator('#streams-rows tr').filter({ has: page.locator('td.key', { hasText: key }) });
  for (const key of [liveKey, vodKey, hostileKey, staleKey]) await row(key).first().waitFor();
  // The live stream's row once its ingest bitrate is measured.
  await page.waitForFunction((key) => [...document.querySelectorAll('#streams-rows tr')]
    .some((tr) => tr.dataset.key === key && /bit\/s/.test(tr.textContent)), liveKey);
  report.listed = await page.$$eval('#streams-rows tr', (rows) => rows.map((tr) => tr.dataset.key));
  report.hostileText = await page.$$eval('#streams-rows td.key', (cells, key) =>
    cells.map((c) => c.textContent).find((t) => t === key) ?? null, hostileKey);
  report.injected = await page.evaluate(() => document.querySelectorAll('main img').length > 0
    || window.xssRan === true);
  report.staleMarked = await page.$$eval('#streams-rows tr.stale', (rows, key) =>
    rows.some((tr) => tr.dataset.key === key && tr.querySelector('.badge.stale') !== null), staleKey);
  await shot('streams');

  const watch = async (name) => {
    await page.waitForFunction(() => document.getElementById('video').currentTime > 0.2);
    const from = await page.evaluate(() => document.getElementById('video').currentTime);
    await page.waitForTimeout(WATCH_MS);
    const to = await page.evaluate(() => document.getElementById('video').currentTime);
    report.plays[name] = {
      from, to,
      latency: await page.textContent('#player-latency'),
      rendition: await page.textContent('#player-level'),
      renditions: await page.$$eval('#player-rendition option', (o) => o.map((x) => x.textContent)),
      error: await page.textContent('#player-error'),
    };
    return to - from >= MIN_ADVANCE_S;
  };

  step('play live HLS');
  await row(liveKey).first().locator('button').click();
  await page.locator('#player').waitFor({ state: 'visible' });
  await watch('hls');
  await shot('player');

  step('play DASH VOD');
  await page.selectOption('#player-stream', vodKey);
  await watch('dash');

  step('storage');
  await page.click('#tabs button[data-view=storage]');
  await page.locator('#storage-charts figure svg path').first().waitFor();
  await shot('storage');
  // Label values are escaped by the exporter: one that looks like a line of its own forges no series, and
  // only the charted metrics are kept.
  report.metricsParsed = await page.evaluate(async () => {
    const { parse } = await import('/_strata/console/storage.js');
    const hostile = 'strata_tier_bytes{tier="memory"} 5\n'
      + 'strata_stream_bytes_total{key="a\\"} 1e30\\nstrata_tier_bytes{tier=\\"memory\\"} 9"} 7\n'
      + 'strata_other{x="<script>xssRan=true</script>"} 1\n';
    return Object.fromEntries(parse(hostile));
  });

  step('guests');
  await page.click('#tabs button[data-view=guests]');
  const guestRow = page.locator(`#guests-rows tr[data-guest="${guest}"]`);
  await guestRow.waitFor();
  const version = () => guestRow.locator('td.version').textContent();
  const versionChanges = (before) => page.waitForFunction(({ name, before }) => {
    const cell = document.querySelector(`#guests-rows tr[data-guest="${name}"] td.version`);
    return cell && cell.textContent !== before;
  }, { name: guest, before });
  report.versionBefore = await version();
  await page.fill('#deploy-name', guest);
  await page.fill('#deploy-namespace', `${guest}/`);
  await page.setInputFiles('#deploy-file',
    { name: 'broken.wasm', mimeType: 'application/wasm', buffer: Buffer.from('not a component') });
  await page.click('#deploy button[type=submit]');
  await page.waitForFunction(() => document.getElementById('guests-error').textContent !== '');
  report.refusal = await page.textContent('#guests-error');
  await page.setInputFiles('#deploy-file', wasm);
  await page.click('#deploy button[type=submit]');
  await versionChanges(report.versionBefore);
  report.versionDeployed = await version();
  await guestRow.locator('button.rollback').click();
  await versionChanges(report.versionDeployed);
  report.versionAfter = await version();
  report.guestsMessage = await page.textContent('#guests-result');
  await shot('guests');
  step('done');
} catch (e) {
  report.steps.push(`failed: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
