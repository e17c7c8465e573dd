// Building the page. Every string becomes a text node (Node.append), never markup: stream keys and error
// reasons come from clients, so nothing is ever assigned to innerHTML.

/// A new `tag` element with `props` (class, on<event> handlers, attributes) and `children`.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null)
    .map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

/// Replaces the children of the element with id `id`.
export function fill(id, ...children) {
  const node = document.getElementById(id);
  node.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null)
    .map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

/// Sets the text of the element with id `id` (empty hides nothing, it just clears).
export function say(id, message) {
  document.getElementById(id).textContent = message || '';
}

export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatBits(bps) {
  if (bps === null || bps === undefined) return '–';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  return `${Math.round(bps / 1e3)} kbit/s`;
}

export function formatSeconds(s) {
  if (s === null || s === undefined) return '–';
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 120) return `${Math.round(s / 60)} min`;
  return `${Number(s.toFixed(1))} s`;
}

export function formatTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString();
}

/// The URL path of object `key`: each segment percent-encoded, so any key stays one path.
export function keyPath(key) {
  return '/' + key.split('/').map(encodeURIComponent).join('/');
}
