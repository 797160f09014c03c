// Researcher views: the request composer with its schema editor and escrow, the list of own
// requests, and the owner's panel on a request (counts, close, release with charts and
// downloads).
import { h, clear, field, tokens, toBase, fromBase, when, relative, messageLine, act, download, csvCell, parseCsv, go } from '../util.js';
import { api } from '../api.js';
import { session } from '../session.js';
import { statusBadge } from '../words.js';
import { chartFor, fmt } from '../charts.js';
import { requestCard } from './public.js';

const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'];
const SEXES = ['female', 'male', 'intersex', 'undisclosed'];

let rowSeq = 0;
function fieldRow(f = {}) {
  const n = ++rowSeq;
  const id = (s) => `sf-${n}-${s}`;
  const type = h('select', { id: id('type'), name: 'type' }, ['integer', 'decimal', 'category'].map((t) => h('option', { value: t, selected: f.type === t }, t)));
  const row = h('fieldset.schema-field', { dataset: { n } },
    h('legend', `Field ${n}`),
    h('div.row',
      field('Name', h('input', { id: id('name'), name: 'name', type: 'text', value: f.name ?? '', pattern: '[a-z][a-z0-9_]{0,39}', required: true })),
      field('Type', type),
      field('Role', h('select', { id: id('role'), name: 'role' }, [['quasi-identifier', 'quasi-identifier (coarsened)'], ['sensitive', 'sensitive'], ['measure', 'measure']].map(([v, t]) => h('option', { value: v, selected: f.role === v }, t)))),
      field('Unit', h('input', { id: id('unit'), name: 'unit', type: 'text', value: f.unit ?? '', maxlength: 32 }))),
    h('div.row.numeric',
      field('Minimum', h('input', { id: id('min'), name: 'min', type: 'text', inputmode: 'decimal', value: f.min ?? '' })),
      field('Maximum', h('input', { id: id('max'), name: 'max', type: 'text', inputmode: 'decimal', value: f.max ?? '' })),
      field('Decimals', h('input', { id: id('decimals'), name: 'decimals', type: 'number', min: 0, max: 9, value: f.decimals ?? '' }))),
    h('div.row.categorical', field('Categories (comma-separated)', h('input', { id: id('categories'), name: 'categories', type: 'text', value: (f.categories ?? []).join(', ') }))),
    h('button.small.danger', { type: 'button', 'aria-label': `Remove field ${n}`, onclick: () => row.remove() }, 'Remove field'));
  const sync = () => {
    row.querySelector('.numeric').hidden = type.value === 'category';
    row.querySelector('.categorical').hidden = type.value !== 'category';
    row.querySelector('[name=decimals]').disabled = type.value !== 'decimal';
  };
  type.addEventListener('change', sync);
  sync();
  return row;
}

function readField(row, i) {
  const v = (n) => row.querySelector(`[name=${n}]`).value.trim();
  const f = { name: v('name'), type: v('type'), role: v('role') };
  if (!/^[a-z][a-z0-9_]{0,39}$/.test(f.name)) throw new Error(`Field ${i + 1}: the name must start with a lowercase letter and use only a–z, 0–9 and _.`);
  if (v('unit')) f.unit = v('unit');
  if (f.type === 'category') {
    f.categories = v('categories').split(',').map((s) => s.trim()).filter(Boolean);
    if (f.categories.length < 2) throw new Error(`Field “${f.name}”: list at least two categories.`);
  } else {
    if (v('min') === '' || v('max') === '') throw new Error(`Field “${f.name}”: give a minimum and a maximum.`);
    f.min = f.type === 'integer' ? Number(v('min')) : v('min');
    f.max = f.type === 'integer' ? Number(v('max')) : v('max');
    if (f.type === 'decimal' && v('decimals') !== '') f.decimals = Number(v('decimals'));
  }
  return f;
}

const DEFAULT_FIELDS = [
  { name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' },
  { name: 'steps', type: 'integer', unit: 'steps/day', min: 0, max: 60000, role: 'quasi-identifier' },
  { name: 'distance_km', type: 'decimal', unit: 'km/day', min: '0', max: '200', decimals: 2, role: 'quasi-identifier' },
];

export async function compose() {
  const b = await api('GET', `/v1/accounts/${session.address}/balance`, { auth: false });
  const msg = messageLine('compose-msg');
  const fieldsBox = h('div#schema-fields', DEFAULT_FIELDS.map((f) => fieldRow(f)));
  const escrow = h('p.escrow#escrow', { 'aria-live': 'polite' });
  const local = new Date(Date.now() + 7 * 864e5 - new Date().getTimezoneOffset() * 6e4).toISOString().slice(0, 16);
  const mode = (v) => h('div.check', h('input', { type: 'radio', name: 'mode', id: `mode-${v}`, value: v, checked: v === 'k-anonymity' }), h('label', { for: `mode-${v}` }, v === 'dp' ? 'Differentially private statistics' : 'k-anonymous table'));
  const form = h('form#compose-form', { novalidate: true },
    h('section', h('h2', 'About the study'),
      field('Title', h('input#req-title', { type: 'text', maxlength: 200, required: true })),
      field('Description', h('textarea#req-description', { rows: 3, maxlength: 5000 })),
      field('Purpose', h('input#req-purpose', { type: 'text', value: 'academic-research', pattern: '[a-z0-9_-]{1,40}' }), 'Contributors only see requests whose purpose they accept, e.g. academic-research, public-health.')),
    h('section', h('h2', 'Schema'),
      h('p', 'Each field a record must hold. Quasi-identifiers are generalised by k-anonymity; sensitive fields are protected by l-diversity; measures exist only in differential privacy requests, where they are seen only through the statistics. In a k-anonymous release every field is coarsened or protected: nothing is released as given.'),
      fieldsBox,
      h('button#add-field', { type: 'button', onclick: () => fieldsBox.append(fieldRow({})) }, 'Add a field')),
    h('section', h('h2', 'Who can take part'),
      h('fieldset', h('legend', 'Age bands (none ticked: any)'), h('div.checks', AGE_BANDS.map((a) => h('div.check', h('input', { type: 'checkbox', name: 'el-age', id: `el-age-${a}`, value: a }), h('label', { for: `el-age-${a}` }, a))))),
      h('fieldset', h('legend', 'Sex (none ticked: any)'), h('div.checks', SEXES.map((a) => h('div.check', h('input', { type: 'checkbox', name: 'el-sex', id: `el-sex-${a}`, value: a }), h('label', { for: `el-sex-${a}` }, a))))),
      field('Countries (two-letter codes, comma-separated; empty: any)', h('input#el-country', { type: 'text' })),
      field('Kinds of data (comma-separated; empty: any)', h('input#el-categories', { type: 'text', value: 'fitness' })),
      // Who may enrol (docs/PRIVACY.md): open states its risk in words; invite makes codes.
      h('fieldset#enrollment', h('legend', 'Who may enrol'), h('div.checks',
        h('div.check', h('input', { type: 'radio', name: 'enrol', id: 'enrol-open', value: 'open', checked: true }), h('label', { for: 'enrol-open' }, 'Open: any signed-in wallet')),
        h('div.check', h('input', { type: 'radio', name: 'enrol', id: 'enrol-invite', value: 'invite' }), h('label', { for: 'enrol-invite' }, 'By invitation: one-time codes you hand out'))),
        h('p.hint#enrol-open-risk', 'Open requests cannot stop one person from enrolling several wallets and being paid for each, or from filling a small group with wallets of their own.'),
        h('div.enrol-invite', { hidden: true },
          field('Number of invite codes', h('input#enrol-codes', { type: 'number', min: 1, max: 10000, value: 20 }), 'Shown once, after posting, with a CSV to download: the server keeps only their hashes and never tells you which wallet used which code.')))),
    h('section', h('h2', 'Privacy guarantee'),
      h('fieldset', h('legend', 'Release as'), h('div.checks', mode('k-anonymity'), mode('dp'))),
      h('div.row.mode-k',
        field('k (smallest group)', h('input#priv-k', { type: 'number', min: 2, max: 1000, value: 5 })),
        field('l (distinct sensitive values per group, optional)', h('input#priv-l', { type: 'text', inputmode: 'decimal' })),
        field('Largest share of rows suppressed (0 to 0.5)', h('input#priv-supp', { type: 'text', inputmode: 'decimal', value: '0.1' }))),
      h('div.mode-dp', { hidden: true },
        h('div.row',
          field('ε (epsilon), total for all queries', h('input#priv-eps', { type: 'text', inputmode: 'decimal', value: '1' })),
          field('Mechanism', h('select#priv-mech', h('option', { value: 'laplace' }, 'Laplace'), h('option', { value: 'gaussian' }, 'Gaussian'))),
          field('δ (Gaussian only)', h('input#priv-delta', { type: 'text', inputmode: 'decimal' })),
          field('Group by (a category field, optional)', h('input#priv-group', { type: 'text' }))),
        field('Queries, one per line', h('textarea#priv-queries', { rows: 4 }, 'count\nmean(steps)\nmean(distance_km)'), 'count, sum(f), mean(f), variance(f), histogram(f), quantiles(f)…'))),
    h('section', h('h2', 'Reward and timing'),
      h('div.row',
        field('Reward per contribution (tokens)', h('input#req-reward', { type: 'text', inputmode: 'decimal', value: '1' })),
        field('Minimum contributors', h('input#req-min', { type: 'number', min: 1, value: 3 })),
        field('Maximum contributors', h('input#req-max', { type: 'number', min: 1, value: 50 })),
        field('Closes at (your local time)', h('input#req-closes', { type: 'datetime-local', value: local })),
        field('Keep the encrypted records for (days)', h('input#req-retention', { type: 'number', min: 0, max: 3650, value: 30 }))),
      escrow),
    h('div.actions',
      h('button#preview-request', { type: 'button' }, 'Preview: check the request'),
      h('button.primary#post-request', { type: 'submit' }, 'Post request and lock escrow')),
    h('div#preview', { 'aria-live': 'polite' }), msg);

  const q = (s) => form.querySelector(s);
  const syncMode = () => {
    const dp = q('input[name=mode]:checked').value === 'dp';
    q('.mode-k').hidden = dp;
    q('.mode-dp').hidden = !dp;
  };
  const syncEnrol = () => {
    const invite = q('input[name=enrol]:checked').value === 'invite';
    q('.enrol-invite').hidden = !invite;
    q('#enrol-open-risk').hidden = invite;
  };
  form.addEventListener('change', (ev) => {
    if (ev.target.name === 'mode') syncMode();
    if (ev.target.name === 'enrol') syncEnrol();
  });
  const updateEscrow = () => {
    try {
      const total = BigInt(toBase(q('#req-reward').value)) * BigInt(Math.max(0, Number(q('#req-max').value) || 0));
      const enough = total <= BigInt(b.available);
      escrow.className = enough ? 'escrow' : 'escrow error';
      escrow.textContent = `Escrow locked when you post: ${tokens(total)} (reward × maximum contributors). Available to you: ${tokens(b.available)}.${enough ? ' Unused escrow is refunded at the release.' : ' That is more than you have available.'}`;
    } catch { escrow.textContent = 'Enter the reward as a number of tokens, such as 1 or 0.5.'; }
  };
  form.addEventListener('input', updateEscrow);
  updateEscrow();

  // The request as the API takes it, from the form; throws in plain words.
  function requestBody() {
      const rows = [...fieldsBox.querySelectorAll('.schema-field')];
      if (!rows.length) throw new Error('Add at least one field to the schema.');
      const fields = rows.map(readField);
      const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
      const eligibility = {};
      const ages = [...form.querySelectorAll('input[name=el-age]:checked')].map((i) => i.value);
      const sexes = [...form.querySelectorAll('input[name=el-sex]:checked')].map((i) => i.value);
      if (ages.length) eligibility.age_band = ages;
      if (sexes.length) eligibility.sex = sexes;
      if (list(q('#el-country').value).length) eligibility.country = list(q('#el-country').value.toUpperCase());
      if (list(q('#el-categories').value).length) eligibility.categories = list(q('#el-categories').value);
      let privacy;
      if (q('input[name=mode]:checked').value === 'dp') {
        privacy = { mode: 'dp', epsilon: q('#priv-eps').value.trim(), mechanism: q('#priv-mech').value,
          queries: q('#priv-queries').value.split('\n').map((s) => s.trim()).filter(Boolean) };
        if (q('#priv-delta').value.trim()) privacy.delta = q('#priv-delta').value.trim();
        if (q('#priv-group').value.trim()) privacy.group_by = q('#priv-group').value.trim();
      } else {
        privacy = { mode: 'k-anonymity', k: Number(q('#priv-k').value) };
        if (q('#priv-l').value.trim()) { privacy.l = q('#priv-l').value.trim(); privacy.l_kind = 'distinct'; }
        if (q('#priv-supp').value.trim()) privacy.max_suppression = q('#priv-supp').value.trim();
      }
      const closes = new Date(q('#req-closes').value);
      if (Number.isNaN(closes.getTime())) throw new Error('Choose when the request closes.');
      let reward;
      try { reward = toBase(q('#req-reward').value); } catch { throw new Error('The reward must be a number of tokens, such as 1 or 0.5.'); }
      const body = {
        title: q('#req-title').value.trim(), description: q('#req-description').value.trim(), purpose: q('#req-purpose').value.trim(),
        schema: { fields }, eligibility, privacy, reward,
        min_contributors: Number(q('#req-min').value), max_contributors: Number(q('#req-max').value),
        closes_at: closes.toISOString(), retention_days: Number(q('#req-retention').value),
        enrollment: q('input[name=enrol]:checked').value === 'invite' ? { mode: 'invite', codes: Number(q('#enrol-codes').value) } : { mode: 'open' },
      };
      if (!body.title) throw new Error('Give the request a title.');
      return body;
  }

  // The server's preview: its checks against the privacy floors, the summary contributors'
  // wallets will show, and for DP how noisy each statistic will be.
  const previewBox = q('#preview');
  const showPreview = (p) => {
    const parts = [h('h2', 'Preview'), h('p', h('strong', 'Contributors will be told: '), p.privacy_summary),
      h('p', `Escrow: ${tokens(p.escrow)}.`)];
    for (const at of p.expected_errors) {
      parts.push(h('table.preview-errors',
        h('caption', `Expected error (95%) with ${at.contributors} contributors`),
        h('thead', h('tr', ['Statistic', '± error', 'Relative', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', at.queries.map((x) => h('tr',
          h('th', { scope: 'row' }, x.query), h('td.num', Number(x.expected_error_95).toPrecision(3)),
          h('td.num', `${Math.round(x.relative * 100)}%`), h('td', x.mostly_noise ? h('span.bad', 'mostly noise') : h('span.ok', 'usable')))))));
    }
    if (p.warnings.length) parts.push(h('ul.warnings', { role: 'alert' }, p.warnings.map((w) => h('li', w))));
    clear(previewBox, ...parts);
  };
  q('#preview-request').addEventListener('click', () => act(q('#preview-request'), msg, async () => {
    const p = await api('POST', '/v1/requests/preview', { json: requestBody() });
    showPreview(p);
    msg.ok(p.warnings.length ? `The request passes every check, with ${p.warnings.length} warning(s) below.` : 'The request passes every check.');
  }));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(q('#post-request'), msg, async () => {
      const body = requestBody();
      msg.progress('Posting the request and locking the escrow…');
      const created = await api('POST', '/v1/requests', { json: body });
      msg.ok(`Posted. ${tokens(created.escrow)} locked in escrow.`);
      if (created.codes?.length) form.replaceWith(inviteCodes(created));
      else go(`/requests/${created.id}`);
    });
  });
  return [h('h1', 'New request'), form];
}

// The invite codes of a request just posted: in the creation's answer only, so shown here
// once, with a CSV to keep; the server has only their hashes from now on.
function inviteCodes(created) {
  const csv = ['code', ...created.codes].map(csvCell).join('\n') + '\n';
  const save = () => download(`cohort-invite-codes-${created.id.slice(2, 10)}.csv`, csv, 'text/csv');
  return h('section.panel#invite-codes',
    h('h2', `${created.codes.length} invite code${created.codes.length === 1 ? '' : 's'}`),
    h('p.ok', `Posted. ${tokens(created.escrow)} locked in escrow.`),
    h('p.error', { role: 'alert' }, 'Save these codes now: they are shown only this once. Cohort keeps only their hashes and cannot show them again.'),
    h('p', 'Give one code to each person you invite. Each code works once; you will see how many were used, never who used which.'),
    h('div.actions',
      h('button.primary#download-codes', { type: 'button', onclick: save }, 'Download the codes (CSV)'),
      h('a.button#go-request', { href: `#/requests/${created.id}` }, 'Go to the request')),
    h('ol.mono#invite-code-list', created.codes.map((c) => h('li', c))));
}

export async function mine() {
  const r = await api('GET', '/v1/requests', { query: { owner: session.address, limit: 100 } });
  return [h('h1', 'My requests'),
    r.requests.length ? h('ul.cards', r.requests.map((req) => requestCard(req))) : h('p', 'You have not posted a request yet. ', h('a', { href: '#/new' }, 'Post one.'))];
}

// The owner's view of a request: live counts, close, and the release.
export async function ownerPanel(req) {
  const section = h('section.panel#owner-panel', h('h2', 'Your request'));
  const msg = messageLine('owner-msg');
  const count = h('p#contribution-count', { 'aria-live': 'polite' });
  const releaseBox = h('div#release');
  const setCount = (r) => {
    const top = document.getElementById('request-status');
    if (top) clear(top, statusBadge(r.status));
    clear(count, h('strong', String(r.contributions ?? 0)), ` contribution${r.contributions === 1 ? '' : 's'} received (you see counts only) · need ${r.min_contributors}, at most ${r.max_contributors} · `, statusBadge(r.status));
  };
  setCount(req);
  section.append(count);
  if (req.enrollment?.mode === 'invite') section.append(invitePanel(req));
  if (req.status === 'open') {
    const close = h('button.danger#close-request', { type: 'button' }, 'Close now and release');
    close.addEventListener('click', () => act(close, msg, async () => {
      if (!window.confirm('Close this request now? No more contributions are accepted and the release runs.')) return;
      await api('POST', `/v1/requests/${req.id}/close`);
      close.remove();
      msg.progress('Closed. The release is running…');
      poll();
    }));
    section.append(close);
  }
  section.append(msg, releaseBox);
  let timer;
  const poll = async () => {
    clearTimeout(timer);
    if (!document.body.contains(section) && timer) return;
    try {
      const r = await api('GET', `/v1/requests/${req.id}`);
      setCount(r);
      if (r.status === 'released') { msg.progress(''); await showRelease(r, releaseBox, msg); return; }
      if (r.status === 'failed') { msg.error(new Error('The release failed: the contributions could not satisfy the privacy guarantee (too few rows, or k / l not reachable). The escrow was refunded.')); return; }
      if (r.status === 'cancelled') { msg.progress('This request was cancelled and its escrow refunded.'); return; }
    } catch (e) { msg.error(e); }
    timer = setTimeout(poll, 2000);
  };
  if (req.status === 'released') await showRelease(req, releaseBox, msg);
  else if (req.status !== 'failed' && req.status !== 'cancelled') timer = setTimeout(poll, 2000);
  else if (req.status === 'failed') msg.error(new Error('The release failed: the contributions could not satisfy the privacy guarantee. The escrow was refunded.'));
  return section;
}

// Invite codes seen by their owner: counts only (who used which code is never shown), and
// revoking the codes nobody has used yet.
function invitePanel(req) {
  const msg = messageLine('codes-msg');
  const counts = h('p#invite-counts');
  const show = (c) => clear(counts, `Invite codes: ${c.issued} issued, ${c.redeemed} used, ${c.revoked} revoked. You see counts only, never which person used which code.`);
  show(req.invite_codes ?? { issued: req.enrollment.codes, redeemed: 0, revoked: 0 });
  const revoke = h('button.danger#revoke-unused-codes', { type: 'button' }, 'Revoke every unused code');
  revoke.addEventListener('click', () => act(revoke, msg, async () => {
    if (!window.confirm('Revoke every invite code nobody has used yet? They stop working at once.')) return;
    const r = await api('POST', `/v1/requests/${req.id}/codes/revoke`, { json: { all_unredeemed: true } });
    show(r.invite_codes);
    msg.ok(`${r.revoked_now} code${r.revoked_now === 1 ? '' : 's'} revoked.`);
  }));
  return h('div.invite-codes', counts, req.status === 'open' ? revoke : null, msg);
}

async function showRelease(req, box, msg) {
  let rel;
  try { rel = await api('GET', `/v1/requests/${req.id}/release`); } catch (e) { msg.error(e); return; }
  const base = `cohort-release-${req.id.slice(2, 10)}`;
  const dl = (label, id, fn) => h('button', { type: 'button', id, onclick: fn }, label);
  const parts = [h('h3', 'Release'), h('p', `${rel.included} contribution${rel.included === 1 ? '' : 's'} included.`)];
  if (rel.mode === 'k-anonymity') {
    const rows = parseCsv(rel.content ?? '').filter((r) => r.length > 1 || r[0]);
    const [head, ...data] = rows;
    const rep = rel.report ?? {};
    const metric = (label, v, hint) => h('div.stat', h('dt', label), h('dd', v === undefined || v === null ? '—' : typeof v === 'number' && !Number.isInteger(v) ? fmt(v) : String(v)), hint ? h('p.hint', hint) : null);
    parts.push(
      h('dl.stats#loss-metrics',
        metric('k', rep.k), metric('l', rep.l ?? '—'),
        metric('Rows released', rep.released), metric('Rows suppressed', rep.suppressed),
        metric('Groups', rep.classes), metric('Average group size (C_avg)', rep.c_avg, 'Normalised: 1 is ideal.'),
        metric('NCP', rep.ncp, 'Information lost by generalisation, 0 (none) to 1 (all).'),
        metric('Discernibility', rep.discernibility, 'Sum of squared group sizes; lower is finer.')),
      h('div.table-wrap', h('table#release-table',
        h('caption', 'k-anonymous table'),
        h('thead', h('tr', (head ?? []).map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', data.slice(0, 500).map((r) => h('tr', r.map((c) => h('td', c))))))),
      data.length > 500 ? h('p.note', `Showing 500 of ${data.length} rows; download for all.`) : null,
      h('div.buttons',
        dl('Download CSV', 'download-csv', () => download(`${base}.csv`, rel.content, 'text/csv')),
        dl('Download JSON', 'download-json', () => download(`${base}.json`, JSON.stringify(rel, null, 2), 'application/json'))));
  } else if (rel.mode === 'dp') {
    const stats = typeof rel.content === 'string' ? JSON.parse(rel.content) : rel.report;
    const results = stats.results ?? [];
    const charts = h('div.charts#dp-charts');
    const tableRows = [];
    for (const r of results) {
      const c = chartFor(r);
      if (c) {
        charts.append(h('figure', c.box, h('figcaption', `${r.query}: ${c.series.labels.map((l, i) => `${l} = ${fmt(c.series.values[i])} ± ${fmt(c.series.errors[i])}`).join(', ')} (95% error bound).`)));
        c.series.labels.forEach((l, i) => tableRows.push([r.query, l, c.series.values[i], c.series.errors[i]]));
      }
    }
    const csv = [['query', 'label', 'value', 'error_bound_95'], ...tableRows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
    parts.push(
      h('p', `Mechanism: ${stats.mechanism ?? req.privacy?.mechanism ?? 'laplace'}, ε ${req.privacy?.epsilon}. Each bar carries its 95% error bound: the true value lies within it with 95% probability.`),
      charts,
      h('div.table-wrap', h('table#dp-table', h('caption', 'The statistics as numbers'),
        h('thead', h('tr', ['Query', 'Label', 'Value', '± 95% bound'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', tableRows.map((r) => h('tr', h('td', r[0]), h('td', r[1]), h('td.num', fmt(r[2])), h('td.num', fmt(r[3])))))),
      ),
      h('div.buttons',
        dl('Download CSV', 'download-csv', () => download(`${base}.csv`, csv, 'text/csv')),
        dl('Download JSON', 'download-json', () => download(`${base}.json`, JSON.stringify(rel, null, 2), 'application/json'))));
  }
  clear(box, parts);
}
