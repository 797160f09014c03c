// Token amounts as people read them: the symbol, at most a few decimals (rounded amounts marked
// "≈"), thousands separators; the exact value in the title and in copies. Amounts travel as
// decimal strings of base units (docs/API.md) and are handled as bigints here, never floats.
import { chain } from '../api.js';
import { installCopy } from './copy.js';

const FALLBACK = { address: null, symbol: 'COH', decimals: 18 };
let current = { ...FALLBACK };
let pending = null;

// The chain's token {address, symbol, decimals} from GET /v1/chain (its `token` member, or
// contracts.token with the fallback symbol and decimals while the server lacks it), cached
// with api.js's one /v1/chain answer.
export function tokenInfo() {
  pending ??= chain().then((c) => {
    const t = c?.token ?? {};
    current = {
      address: t.address ?? c?.contracts?.token ?? null,
      // A token whose symbol cannot be shown (the server says null) gets a neutral word,
      // not another token's symbol.
      symbol: t.symbol || (t.address ? 'tokens' : FALLBACK.symbol),
      decimals: Number.isInteger(t.decimals) ? t.decimals : FALLBACK.decimals,
      chain: c ?? null,
    };
    return current;
  }).catch(() => { pending = null; return current; });
  return pending;
}
// What tokenInfo() last learnt (the fallback before it answered); synchronous for renderers.
export const tokenNow = () => current;

const isBaseUnits = (x) => typeof x === 'bigint' || (typeof x === 'number' && Number.isSafeInteger(x)) || /^\s*-?\d+\s*$/.test(String(x));
const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function split(baseUnits, decimals) {
  let v = typeof baseUnits === 'bigint' ? baseUnits : BigInt(String(baseUnits).trim());
  const neg = v < 0n;
  if (neg) v = -v;
  const scale = 10n ** BigInt(decimals);
  return { neg, int: v / scale, frac: (v % scale).toString().padStart(decimals, '0'), v, scale };
}

// The exact value in token units, trailing zeros trimmed: 181000000000000000001n -> "181.000000000000000001".
export function exactAmount(baseUnits, { decimals = current.decimals } = {}) {
  const { neg, int, frac } = split(baseUnits, decimals);
  const f = frac.replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${f ? `.${f}` : ''}`;
}

// "181 COH", "1,250.5 COH", "≈ 181.0001 COH" (rounded half up to maxFraction decimals),
// "< 0.0001 COH" for a dust amount; "—" for null/undefined.
export function formatAmount(baseUnits, { decimals = current.decimals, symbol = current.symbol, maxFraction = 4 } = {}) {
  if (baseUnits === null || baseUnits === undefined || baseUnits === '') return '—';
  // Not an integer of base units (a server bug, a stale cache): shown as given, never guessed.
  if (!isBaseUnits(baseUnits)) return `${baseUnits}${symbol ? ` ${symbol}` : ''}`;
  const { neg, int, frac, v } = split(baseUnits, decimals);
  const unit = symbol ? ` ${symbol}` : '';
  const sign = neg ? '-' : '';
  let f = frac.replace(/0+$/, '');
  if (f.length <= maxFraction) return `${sign}${group(int.toString())}${f ? `.${f}` : ''}${unit}`;
  // Round half up at maxFraction decimals, carrying into the integer part.
  const keep = maxFraction;
  let scaled = int * 10n ** BigInt(keep) + BigInt(frac.slice(0, keep) || '0');
  if (Number(frac[keep]) >= 5) scaled += 1n;
  if (scaled === 0n && v !== 0n) return `${neg ? '> -' : '< '}${keep ? `0.${'0'.repeat(keep - 1)}1` : '1'}${unit}`;
  const s = scaled.toString().padStart(keep + 1, '0');
  const ri = s.slice(0, s.length - keep), rf = keep ? s.slice(-keep).replace(/0+$/, '') : '';
  return `≈ ${sign}${group(ri)}${rf ? `.${rf}` : ''}${unit}`;
}

// <span class="amount" data-exact="181000000000000000001" data-copy="181.000000000000000001"
// title="181.000000000000000001 COH">≈ 181 COH</span>: copying it copies the exact value.
export function amountEl(baseUnits, opts = {}) {
  installCopy();
  const el = document.createElement('span');
  el.className = 'amount';
  el.textContent = formatAmount(baseUnits, opts);
  if (baseUnits === null || baseUnits === undefined || baseUnits === '' || !isBaseUnits(baseUnits)) return el;
  const { decimals = current.decimals, symbol = current.symbol } = opts;
  const exact = exactAmount(baseUnits, { decimals });
  el.dataset.exact = (typeof baseUnits === 'bigint' ? baseUnits : BigInt(String(baseUnits).trim())).toString();
  el.dataset.copy = exact;
  el.title = `${exact}${symbol ? ` ${symbol}` : ''}`;
  if (el.textContent.startsWith('≈') || el.textContent.startsWith('<')) {
    // Screen readers get the exact amount too (the title is not reliably read).
    const sr = document.createElement('span');
    sr.className = 'visually-hidden';
    sr.textContent = ` (exactly ${el.title})`;
    el.append(sr);
  }
  return el;
}

// A typed amount ("12.5", "1 000", "12.5 COH") as a decimal string of base units, exactly.
// Throws an Error whose message is plain words.
export function parseAmount(text, decimals = current.decimals) {
  let t = String(text ?? '').trim().replace(/[\s_\u00a0\u2009]/g, '');
  t = t.replace(new RegExp(`(${escape(current.symbol)}|tokens?)$`, 'i'), '');
  if (!t) throw new Error('Write an amount like 12.5');
  if (/^-/.test(t)) throw new Error('The amount must be more than zero. Write an amount like 12.5');
  if (t.includes(',')) throw new Error('Write an amount like 12.5: a dot before the decimals, no commas.');
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) throw new Error('Write an amount like 12.5');
  const [i, f = ''] = t.split('.');
  if (f.length > decimals) throw new Error(`That has ${f.length} decimal places; the token has at most ${decimals}.`);
  const v = BigInt(i || '0') * 10n ** BigInt(decimals) + BigInt((f.padEnd(decimals, '0')) || '0');
  if (v <= 0n) throw new Error('The amount must be more than zero. Write an amount like 12.5');
  if (v >= 2n ** 256n) throw new Error('That amount is too large.');
  return v.toString();
}

function escape(s) { return String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }
