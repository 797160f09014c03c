// What requests ask and promise, in plain words.
import { h } from './util.js';
import { amountEl } from './ui/amount.js';

export function privacyWords(req) {
  const p = req.privacy ?? {};
  const qi = (req.schema?.fields ?? []).filter((f) => f.role === 'quasi-identifier').map((f) => f.name);
  const sens = (req.schema?.fields ?? []).filter((f) => f.role === 'sensitive').map((f) => f.name);
  if (p.mode === 'k-anonymity') {
    const parts = [
      `Your row is released only inside a group of at least ${p.k} people who look the same on ${qi.length ? qi.join(', ') : 'the identifying fields'}: those values are widened into ranges so nobody can be singled out.`,
    ];
    if (p.l && Number(p.l) > 1) parts.push(`Each group also holds at least ${p.l} different values of ${sens.join(', ') || 'the sensitive fields'}, so membership in a group does not reveal yours.`);
    if (p.max_suppression !== undefined && Number(p.max_suppression) > 0) parts.push(`Up to ${Math.round(Number(p.max_suppression) * 100)}% of rows that cannot be hidden in a group are left out entirely.`);
    parts.push('Your wallet address is never part of the released table.');
    return parts.join(' ');
  }
  if (p.mode === 'dp') {
    const eps = p.epsilon ?? req.epsilon;
    return `Only statistics are released (${(p.queries ?? []).join(', ')}), never your row. Random noise is added with differential privacy at ε = ${eps}: the published numbers come out almost the same whether or not you take part, so they say very little about you. This spends ε ${eps} of your lifetime privacy budget.`;
  }
  return 'No privacy transformation is declared.';
}

export const ROLE_WORDS = {
  'quasi-identifier': 'could help identify you together with other facts; it is coarsened',
  sensitive: 'the private fact studied; protected by the guarantee',
  measure: 'a measurement used for the study',
};

export function fieldWords(f) {
  if (f.type === 'category') return `one of: ${(f.categories ?? []).join(', ')}`;
  const unit = f.unit ? ` ${f.unit}` : '';
  const kind = f.type === 'integer' ? 'a whole number' : `a number${f.decimals !== undefined ? ` with up to ${f.decimals} decimals` : ''}`;
  return `${kind} from ${f.min} to ${f.max}${unit}`;
}

export function eligibilityWords(e) {
  if (!e || !Object.keys(e).length) return 'Anyone may take part.';
  const parts = [];
  if (e.age_band?.length) parts.push(`aged ${e.age_band.join(' or ')}`);
  if (e.sex?.length) parts.push(`sex ${e.sex.join(' or ')}`);
  if (e.country?.length) parts.push(`living in ${e.country.map(countryName).join(', ')}`);
  if (e.categories?.length) parts.push(`sharing ${e.categories.join(', ')} data`);
  return parts.length ? `For people ${parts.join('; ')}.` : 'Anyone may take part.';
}

export function statusBadge(status) {
  const text = { open: 'Open', closing: 'Closing — release running', released: 'Released', failed: 'Failed', cancelled: 'Cancelled' }[status] ?? status;
  return h(`span.badge.status-${status}`, text);
}

// Who may enrol, in words (docs/PRIVACY.md): open requests state their risk plainly.
export function enrollmentWords(e) {
  if (e?.mode === 'invite') {
    const n = e.codes ?? e.code_hashes?.length;
    return `By invitation only: ${n} one-time invite code${n === 1 ? '' : 's'} handed out by the researcher; each works once.`;
  }
  if (e?.mode === 'attested') {
    const n = e.issuers?.length ?? 0;
    const cond = Object.entries(e.eligibility ?? {}).map(([k, v]) => `${k} ${[].concat(v).join(' or ')}`);
    return `Only people with an attestation from ${n === 1 ? 'one named issuer' : `one of ${n} named issuers`} (schema “${e.schema}”), one contribution per attested ${e.subject ?? 'person'}${cond.length ? `; the attestation must say ${cond.join('; ')}` : ''}.`;
  }
  return 'Open to any signed-in wallet: this cannot stop one person from enrolling several wallets.';
}

// The facts every request has whatever its status, as dt/dd pairs for a dl.facts (the
// request page adds the ones that depend on the status).
export function requestFacts(req) {
  return [
    h('dt', 'Reward'), h('dd', amountEl(req.reward), ' per contribution'),
    h('dt', 'Purpose'), h('dd', req.purpose),
    h('dt', 'Contributors'), h('dd', `${req.min_contributors} to ${req.max_contributors}`),
    h('dt', 'Privacy'), h('dd', req.privacy?.mode === 'dp' ? `differential privacy, ε ${req.privacy.epsilon}` : `k-anonymity, k = ${req.privacy?.k}${Number(req.privacy?.l) > 1 ? `, l = ${req.privacy.l}` : ''}`),
  ];
}

export function fieldsTable(req) {
  return h('div.table-wrap', h('table',
    h('caption', 'What this request asks for'),
    h('thead', h('tr', h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'How it is used'))),
    h('tbody', (req.schema?.fields ?? []).map((f) => h('tr',
      h('th', { scope: 'row' }, f.name), h('td', fieldWords(f)), h('td', ROLE_WORDS[f.role] ?? f.role))))));
}

// Countries for searchable lists: the 249 ISO 3166-1 alpha-2 codes (Debian's iso-codes list),
// named by the browser in the page's language, as {value: 'DE', label: 'Germany'}. A fixed list
// rather than every code the browser can name: those include withdrawn ones ("East Germany", DD)
// that would be offered before the country meant.
const ISO_3166 = (
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS ' +
  'BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE ' +
  'EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM ' +
  'HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC ' +
  'LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA ' +
  'NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
  'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO ' +
  'TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW ').trim().split(' ');
let countries;
export function countryOptions() {
  if (countries) return countries;
  const names = new Intl.DisplayNames([navigator.language || 'en', 'en'], { type: 'region', fallback: 'code' });
  countries = ISO_3166.map((code) => ({ value: code, label: names.of(code) ?? code })).sort((a, b) => a.label.localeCompare(b.label));
  return countries;
}

// "Germany" for DE (the code itself when the browser cannot name it).
export function countryName(code) {
  return countryOptions().find((o) => o.value === code)?.label ?? code;
}
