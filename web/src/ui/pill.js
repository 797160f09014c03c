// The account pill: a short address ("0x1234…abcd") that shows the full address on hover and
// puts the full address on the clipboard when copied.
import { installCopy } from './copy.js';

export function shortAddress(address) {
  const a = String(address ?? '');
  return a.length > 12 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
}

export function accountPill(address, { label } = {}) {
  installCopy();
  const el = document.createElement('span');
  el.className = 'pill account-pill';
  el.title = address;
  el.dataset.copy = address;
  const shown = document.createElement('span');
  shown.setAttribute('aria-hidden', 'true');
  shown.textContent = shortAddress(address);
  const full = document.createElement('span');
  full.className = 'visually-hidden';
  full.textContent = `${label ? `${label} ` : ''}${address}`;
  el.append(shown, full);
  return el;
}
