// Researcher views: the list of own requests and the owner's panel on a request (counts,
// close, release with charts and downloads); the composer is in compose/.
import { h, clear, messageLine, act, download, csvCell, parseCsv } from '../util.js';
import { setTitle } from '../ui/page.js';
import { api } from '../api.js';
import { session } from '../session.js';
import { statusBadge } from '../words.js';
import { chartFor, fmt, tooNoisy } from '../charts.js';
import { requestCard } from './public.js';

// The composer lives in compose/ (steps); main.js routes #/new here.
export { compose } from './compose/compose.js';

export async function mine() {
  setTitle('My requests');
  const r = await api('GET', '/v1/requests', { query: { owner: session.address, limit: 100 } });
  return [h('h1', 'My requests'),
    r.requests.length ? h('ul.cards', r.requests.map((req) => requestCard(req))) : h('p', 'You have not posted a request yet. ', h('a', { href: '#/new' }, 'Post one.'))];
}

// The owner's view of a request: live counts, close, and the release. The request page
// re-reads the request and calls update(r, changed); the panel never offers an action the
// request's status no longer allows.
export async function ownerPanel(req, { refresh } = {}) {
  const section = h('section.panel#owner-panel', h('h2', 'Your request'));
  const msg = messageLine('owner-msg');
  const count = h('p#contribution-count', { 'aria-live': 'polite' });
  const releaseBox = h('div#release');
  const setCount = (r) => {
    const n = r.contributions ?? 0;
    clear(count, h('strong', String(n)), ` contribution${n === 1 ? '' : 's'} received (you see counts only) · need ${r.min_contributors}, at most ${r.max_contributors} · `, statusBadge(r.status));
  };
  setCount(req);
  section.append(count);
  const invites = req.enrollment?.mode === 'invite' ? invitePanel(req) : null;
  if (invites) section.append(invites);
  let close = null;
  if (req.status === 'open') {
    close = h('button.danger#close-request', { type: 'button' }, 'Close now and release');
    close.addEventListener('click', () => act(close, msg, async () => {
      if (!window.confirm('Close this request now? No more contributions are accepted and the release runs.')) return;
      try {
        await api('POST', `/v1/requests/${req.id}/close`);
      } catch (e) {
        // Closed meanwhile (by its closing time, or in another tab): the page catches up.
        if (e.status === 409) { refresh?.(); throw new Error('This request is no longer open: it closed already and its release is running or done.'); }
        throw e;
      }
      close?.remove();
      close = null;
      msg.progress('Closed. The release is running…');
      refresh?.();
    }));
    section.append(close);
  }
  section.append(msg, releaseBox);
  const follow = async (r) => {
    if (r.status === 'closing') msg.progress('Closed. The release is running…');
    else if (r.status === 'released') { msg.progress(''); await showRelease(r, releaseBox, msg); }
    else if (r.status === 'failed') msg.error(new Error('The release failed: the contributions could not satisfy the privacy guarantee (too few rows, or k / l not reachable). The escrow was refunded.'));
    else if (r.status === 'cancelled') msg.progress('This request was cancelled and its escrow refunded.');
  };
  section.update = async (r, changed) => {
    setCount(r);
    if (r.status !== 'open') {
      close?.remove();
      close = null;
      invites?.closed();
    }
    if (changed) await follow(r);
  };
  await follow(req);
  return section;
}

// Invite codes seen by their owner: counts only (who used which code is never shown), and
// revoking the codes nobody has used yet while the request is open.
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
  const el = h('div.invite-codes', counts, req.status === 'open' ? revoke : null, msg);
  el.closed = () => revoke.remove();
  return el;
}

async function showRelease(req, box, msg) {
  let rel;
  try { rel = await api('GET', `/v1/requests/${req.id}/release`); } catch (e) { msg.error(e); return; }
  const base = `cohort-release-${req.id.slice(2, 10)}`;
  const dl = (label, id, fn) => h('button', { type: 'button', id, onclick: fn }, label);
  // A DP release does not publish its exact count (included is null): the count query, if
  // asked, is its noisy estimate.
  const parts = [h('h3', 'Release'), h('p#release-included', Number.isInteger(rel.included)
    ? `${rel.included} contribution${rel.included === 1 ? '' : 's'} included.`
    : 'The exact number of contributions included is not published: differential privacy covers it too.')];
  if (rel.mode === 'k-anonymity') {
    const rows = parseCsv(rel.content ?? '').filter((r) => r.length > 1 || r[0]);
    const [head, ...data] = rows;
    const rep = rel.report ?? {};
    // A metric's explanation at the hint's size (the stats' own dd rule is for the figure).
    const small = (el) => { Object.assign(el.style, { fontSize: '.9rem', lineHeight: '1.4' }); return el; };
    const metric = (label, v, hint) => h('div.stat', h('dt', label), h('dd', v === undefined || v === null ? '—' : typeof v === 'number' && !Number.isInteger(v) ? fmt(v) : String(v)), hint ? small(h('dd.hint', hint)) : null);
    // Two metrics a row even on a phone (the stats grid's 11rem cells give one a row there).
    const compact = (el) => { el.style.gridTemplateColumns = 'repeat(auto-fill, minmax(8.5rem, 1fr))'; return el; };
    parts.push(
      compact(h('dl.stats#loss-metrics',
        metric('k', rep.k), metric('l', rep.l ?? '—'),
        metric('Rows released', rep.released), metric('Rows suppressed', rep.suppressed),
        metric('Groups', rep.classes), metric('Average group size (C_avg)', rep.c_avg, 'Normalised: 1 is ideal.'),
        metric('NCP', rep.ncp, 'Information lost by generalisation, 0 (none) to 1 (all).'),
        metric('Discernibility', rep.discernibility, 'Sum of squared group sizes; lower is finer.'))),
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
    // A figure whose 95% error bars are wider than the figure itself (17 ± 15: anything from 2
    // to 32) says nothing reliable: marked "too noisy to read" beside it and in the table.
    for (const r of results) {
      const c = chartFor(r);
      if (!c) continue;
      const { labels, values, errors } = c.series;
      const noisy = labels.filter((_, i) => tooNoisy(values[i], errors[i]));
      charts.append(h('figure', { dataset: { query: r.query } }, c.box,
        noisy.length ? h('p.bad.too-noisy', `Too noisy to read: ${noisy.length === labels.length ? (labels.length === 1 ? 'the error bars are wider than the figure' : 'every bar’s error bars are wider than the bar') : `${noisy.join(', ')} (error bars wider than the figure)`}.`) : null,
        h('figcaption', `${r.query}: ${labels.map((l, i) => `${l} = ${fmt(values[i])} ± ${fmt(errors[i])}`).join(', ')} (95% error bound).`)));
      labels.forEach((l, i) => tableRows.push([r.query, l, values[i], errors[i]]));
    }
    const anyNoisy = tableRows.some((t) => tooNoisy(t[2], t[3]));
    const csv = [['query', 'label', 'value', 'error_bound_95'], ...tableRows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
    parts.push(
      h('p', `Mechanism: ${stats.mechanism ?? req.privacy?.mechanism ?? 'laplace'}, ε ${req.privacy?.epsilon}. Each bar carries its 95% error bound: the true value lies within it with 95% probability.`),
      anyNoisy ? h('p.note#dp-noisy-note', 'Some figures are too noisy to read: their error bars are wider than the figure itself, so the true value could be far from it (17 ± 15 means anything from 2 to 32). More contributors or a larger ε give readable figures.') : null,
      charts,
      h('div.table-wrap', h('table#dp-table', h('caption', 'The statistics as numbers'),
        h('thead', h('tr', ['Query', 'Label', 'Value', '± 95% bound', 'Readable?'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', tableRows.map((r) => h('tr', h('td', r[0]), h('td', r[1]), h('td.num', fmt(r[2])), h('td.num', fmt(r[3])),
          h('td', tooNoisy(r[2], r[3]) ? h('span.bad', 'too noisy to read') : 'yes'))))),
      ),
      h('div.buttons',
        dl('Download CSV', 'download-csv', () => download(`${base}.csv`, csv, 'text/csv')),
        dl('Download JSON', 'download-json', () => download(`${base}.json`, JSON.stringify(rel, null, 2), 'application/json'))));
  }
  clear(box, parts);
}
