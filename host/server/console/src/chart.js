// Line charts in plain SVG: time on x, one or more series on y from 0 to the largest value; the newest
// point of each series is a dot, so a series of one sample shows too.

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 400;
const HEIGHT = 150;
const LEFT = 56;
const BOTTOM = 16;

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/// An SVG chart of `series` ([[unix ms, value], ...] each) over [from, to] ms, y labelled by `format`.
export function lineChart(series, { from, to, format, yMax = null }) {
  const values = series.flat().map(([, v]) => v).filter(Number.isFinite);
  const top = Math.max(yMax ?? 0, ...values, 1e-9);
  const x = (t) => LEFT + ((t - from) / (to - from)) * (WIDTH - LEFT);
  const y = (v) => (HEIGHT - BOTTOM) - (v / top) * (HEIGHT - BOTTOM - 8);
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img' });
  chart.append(
    svg('line', { class: 'axis', x1: LEFT, y1: HEIGHT - BOTTOM, x2: WIDTH, y2: HEIGHT - BOTTOM }),
    svg('line', { class: 'axis', x1: LEFT, y1: 8, x2: LEFT, y2: HEIGHT - BOTTOM }),
    svg('text', { x: LEFT - 4, y: 12, 'text-anchor': 'end' }, format(top)),
    svg('text', { x: LEFT - 4, y: HEIGHT - BOTTOM, 'text-anchor': 'end' }, format(0)),
    svg('text', { x: LEFT, y: HEIGHT - 2 }, `−${Math.round((to - from) / 60000)} min`),
    svg('text', { x: WIDTH, y: HEIGHT - 2, 'text-anchor': 'end' }, 'now'));
  series.forEach((points, i) => {
    const drawn = points.filter(([, v]) => Number.isFinite(v));
    if (drawn.length === 0) return;
    const path = drawn.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    const [t, v] = drawn[drawn.length - 1];
    chart.append(svg('path', { class: `series-${i}`, d: path }),
      svg('circle', { class: `series-${i}`, cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2 }));
  });
  return chart;
}
