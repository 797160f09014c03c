// Small DOM and formatting helpers shared by every view.
import { formatUnits, parseUnits } from 'ethers';
import { formatAmount } from './ui/amount.js';

// h('tag.class#id', {attrs}, ...children): builds an element; strings become text nodes, so
// nothing from the server is ever parsed as HTML.
export function h(spec, attrs, ...children) {
  const m = spec.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : spec);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export const nextId = (p = 'f') => `${p}-${++uid}`;

// A labelled form control: field(label, control, hint?) -> <div class=field>.
export function field(label, control, hint) {
  const id = control.id || (control.id = nextId());
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hid = `${id}-hint`;
    control.setAttribute('aria-describedby', hid);
    parts.push(h('p.hint', { id: hid }, hint));
  }
  return h('div.field', parts);
}

export const TOKEN_DECIMALS = 18;
// An amount of base units in words for the page: the design system's formatAmount ("181 COH",
// "≈ 181 COH" when rounded). Where the exact value must be reachable (hover, copy), views use
// amountEl from ui/amount.js instead.
export function tokens(base) {
  return formatAmount(base);
}
export function toBase(tokensText) {
  return parseUnits(String(tokensText).trim() || '0', TOKEN_DECIMALS).toString();
}
// A token amount typed by a person ("12.5") as base units (a bigint), exactly: decimal
// arithmetic through ethers.parseUnits, never floats. Throws an Error in words.
export function parseTokenAmount(text, what = 'amount') {
  const t = String(text ?? '').trim().replace(/[\s_]/g, '');
  if (!t) throw new Error(`Enter an ${what} in tokens, for example 12.5.`);
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) {
    throw new Error(`“${String(text).trim()}” is not an ${what} of tokens. Use digits, with a dot before any decimals, for example 12.5.`);
  }
  const decimals = t.includes('.') ? t.split('.')[1].length : 0;
  if (decimals > TOKEN_DECIMALS) {
    throw new Error(`The ${what} has ${decimals} decimal places; a token has at most ${TOKEN_DECIMALS}.`);
  }
  const v = parseUnits(t.endsWith('.') ? t.slice(0, -1) : t, TOKEN_DECIMALS);
  if (v <= 0n) throw new Error(`The ${what} must be more than zero.`);
  if (v >= 2n ** 256n) throw new Error(`The ${what} is too large.`);
  return v;
}

// A fresh key for one user action (an idempotent POST); retries of that action reuse it.
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export function fromBase(base) {
  const s = formatUnits(BigInt(base ?? 0), TOKEN_DECIMALS);
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

export function short(hex, n = 6) {
  if (!hex || hex.length <= 2 * n + 3) return hex ?? '';
  return `${hex.slice(0, n + 2)}…${hex.slice(-n)}`;
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function relative(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  const abs = Math.abs(ms);
  const units = [['day', 864e5], ['hour', 36e5], ['minute', 6e4]];
  for (const [u, size] of units) {
    if (abs >= size) {
      const n = Math.round(abs / size);
      return ms > 0 ? `in ${n} ${u}${n > 1 ? 's' : ''}` : `${n} ${u}${n > 1 ? 's' : ''} ago`;
    }
  }
  return ms > 0 ? 'in less than a minute' : 'just now';
}

// Offers text as a file download, built in the browser.
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
}

export function csvCell(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell.replace(/\r$/, '')); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

// A message line under a form or button: progress in words (role=status), errors as alerts.
export function messageLine(id) {
  const el = h('p.msg', { id, role: 'status', 'aria-live': 'polite' });
  el.progress = (t) => { el.classList.remove('error', 'ok'); el.setAttribute('role', 'status'); el.textContent = t; };
  el.ok = (t) => { el.classList.remove('error'); el.classList.add('ok'); el.setAttribute('role', 'status'); el.textContent = t; };
  el.error = (e) => {
    el.classList.remove('ok');
    el.classList.add('error');
    el.setAttribute('role', 'alert');
    const title = e?.title && e.message && !e.message.startsWith(e.title) ? `${e.title}: ` : '';
    el.textContent = `${title}${e?.message ?? String(e)}`;
  };
  return el;
}

// Runs fn with button disabled, reporting into msg; returns fn's result or undefined on error.
export async function act(button, msg, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    msg.error(e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// Navigates to a route (or re-renders the current one).
export function go(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = path;
}
