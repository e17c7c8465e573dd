// The Storage view: memory and disk use against their budgets, hit ratios and request rates over the last
// hour. The page samples /_strata/metrics itself every few seconds from login on and keeps the hour here.

import { text } from './api.js';
import { el, fill, formatBytes, say } from './dom.js';
import { lineChart } from './chart.js';
import { failed } from './main.js';

const SAMPLE_MS = 5000;
const HOUR_MS = 3600 * 1000;
const MINUTE_MS = 60 * 1000;
/// { t (unix ms), metrics: Map of series (name{labels}) → value }, oldest first.
const samples = [];
let sampler = null;
let shown = false;

export function startSampling() {
  if (sampler) return;
  sample();
  sampler = setInterval(sample, SAMPLE_MS);
}

export function stopSampling() {
  clearInterval(sampler);
  sampler = null;
  samples.length = 0;
}

export function show() {
  shown = true;
  draw();
}

export function hide() {
  shown = false;
}

/// The metrics the charts draw. Only these are kept: an hour of samples of every series (one per stream
/// an encoder pushes, up to `[metrics] max_streams`) would hold millions of entries in this tab.
const CHARTED = ['strata_tier_bytes', 'strata_tier_budget_bytes', 'strata_tier_hits_total',
  'strata_tier_misses_total', 'strata_requests_total'];

/// Prometheus text → Map of `name{labels}` (labels as written) → value, for the [CHARTED] metrics.
/// Exported for tests/players/console.mjs, which feeds it hostile label values.
export function parse(body) {
  const metrics = new Map();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const series = line.slice(0, at);
    const name = series.split('{', 1)[0];
    if (CHARTED.includes(name)) metrics.set(series, Number(line.slice(at + 1)));
  }
  return metrics;
}

async function sample() {
  try {
    samples.push({ t: Date.now(), metrics: parse(await text('metrics')) });
    while (samples.length && samples[0].t < Date.now() - HOUR_MS) samples.shift();
    say('storage-error', '');
    if (shown) draw();
  } catch (error) {
    failed(error, 'storage-error');
  }
}

/// The value of `name` with label tier=`tier` (or summed over every label set when `tier` is null).
function value(metrics, name, tier = null) {
  if (tier !== null) return metrics.get(`${name}{tier="${tier}"}`) ?? null;
  let sum = null;
  for (const [series, v] of metrics) {
    if (series === name || series.startsWith(`${name}{`)) sum = (sum ?? 0) + v;
  }
  return sum;
}

/// [t, value] for each sample.
function gauge(name, tier) {
  return samples.map((s) => [s.t, value(s.metrics, name, tier)]).filter(([, v]) => v !== null);
}

/// [t, per second] between consecutive samples.
function rate(name) {
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    const delta = value(b.metrics, name) - value(a.metrics, name);
    points.push([b.t, Math.max(0, delta) / ((b.t - a.t) / 1000)]);
  }
  return points;
}

/// [t, hits / (hits + misses)] of `tier` between consecutive samples; no point when nothing was read.
function hitRatio(tier) {
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1].metrics, samples[i].metrics];
    const delta = (name) => (value(b, name, tier) ?? 0) - (value(a, name, tier) ?? 0);
    const hits = delta('strata_tier_hits_total');
    const reads = hits + delta('strata_tier_misses_total');
    if (reads > 0) points.push([samples[i].t, hits / reads]);
  }
  return points;
}

function last(points) {
  return points.length ? points[points.length - 1][1] : null;
}

function figure(title, now, chart) {
  return el('figure', {}, el('figcaption', {}, title, el('span', {}, now)), chart);
}

function draw() {
  // From the first sample (at least a minute back) to now: a fresh page shows its minutes, not an empty hour.
  const to = Date.now();
  const axes = { from: Math.min(samples.length ? samples[0].t : to, to - MINUTE_MS), to };
  const percent = (v) => `${Math.round(v * 100)} %`;
  const perSecond = (v) => `${v < 10 ? v.toFixed(1) : Math.round(v)}/s`;
  const use = (tier) => {
    const used = gauge('strata_tier_bytes', tier);
    const budget = gauge('strata_tier_budget_bytes', tier);
    const limit = last(budget) === null ? 'no budget' : `of ${formatBytes(last(budget))}`;
    return figure(`${tier === 'memory' ? 'Memory' : 'Disk'} use`, `${formatBytes(last(used))} ${limit}`,
      lineChart([used, budget], { ...axes, format: formatBytes }));
  };
  const memoryHits = hitRatio('memory');
  const diskHits = hitRatio('disk');
  const requests = rate('strata_requests_total');
  fill('storage-charts',
    use('memory'),
    use('disk'),
    figure('Hit ratio', `memory ${last(memoryHits) === null ? '–' : percent(last(memoryHits))}, ` +
      `disk ${last(diskHits) === null ? '–' : percent(last(diskHits))}`,
    lineChart([memoryHits, [], diskHits], { ...axes, format: percent, yMax: 1 })),
    figure('Requests', last(requests) === null ? '–' : perSecond(last(requests)),
      lineChart([requests], { ...axes, format: perSecond })));
}
