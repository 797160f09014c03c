// Views anyone can use: the start page, browsing requests, one request, the ledger with
// in-browser verification, anchors and their transactions.
import { h, clear, tokens, when, relative, short, messageLine, act } from '../util.js';
import { amountEl } from '../ui/amount.js';
import { setTitle, spinner } from '../ui/page.js';
import { accountPill } from '../ui/pill.js';
import { api, chain } from '../api.js';
import { session } from '../session.js';
import { privacyWords, eligibilityWords, enrollmentWords, statusBadge, requestFacts, fieldsTable } from '../words.js';
import { verifyEntry, checkSums, checkCredit } from '../verify.js';
import { lookupTransaction, hasWallet } from '../wallet.js';
import { contributePanel } from './contributor.js';
import { ownerPanel } from './researcher.js';

export async function home() {
  return [
    h('h1', 'Share research data on your terms'),
    h('p.lead', 'Researchers post what data they need and which privacy guarantee the release will carry. Contributors are matched privately, consent with a wallet signature, and send records that are encrypted on their own device. Rewards are recorded on a signed public ledger and claimed on chain.'),
    h('ul.cards',
      h('li', h('h2', 'Contributors'), h('p', 'Set what you are willing to share, see matching requests in your inbox, import data from a fitness export, and claim your tokens.'), session.token ? h('a.button', { href: '#/inbox' }, 'Open your inbox') : h('p', 'Sign in with your wallet to start.')),
      h('li', h('h2', 'Researchers'), h('p', 'Compose a request with its schema and privacy guarantee; the reward budget is held in escrow until the release.'), session.is('researcher') ? h('a.button', { href: '#/new' }, 'Post a request') : null),
      h('li', h('h2', 'Anyone'), h('p', 'Browse requests, read every ledger entry and verify its signature in your browser.'), h('a.button', { href: '#/requests' }, 'Browse requests'))),
  ];
}

export function requestCard(req, extra) {
  const timing = req.status === 'open' ? `closes ${relative(req.closes_at)}` : req.closed_at ? `closed ${relative(req.closed_at)}` : 'closed';
  const how = req.privacy?.mode === 'dp' ? 'differential privacy' : `k-anonymity (k = ${req.privacy?.k})`;
  const who = { invite: ' · by invitation', attested: ' · attested people only' }[req.enrollment?.mode] ?? '';
  return h('li.card.request-card', { dataset: { id: req.id } },
    h('h3', h('a', { href: `#/requests/${req.id}` }, req.title)), statusBadge(req.status),
    h('p', amountEl(req.reward), ` per contribution · ${timing} · ${how}${who}`),
    extra);
}

export async function browse() {
  setTitle('Requests');
  const list = h('ul.cards.requests');
  const msg = messageLine('browse-msg');
  const status = h('select#filter-status', h('option', { value: '' }, 'Any status'), ['open', 'closing', 'released', 'failed', 'cancelled'].map((s) => h('option', { value: s }, s)));
  let next = null;
  let seq = 0;
  const shown = new Set();
  const more = h('button#more-requests', { type: 'button', hidden: true, onclick: () => load(false) }, 'Show older requests');
  // One page after another with the server's cursor (created_at and id, to the microsecond);
  // each request is shown once even if a page is asked twice.
  async function load(reset) {
    const mine = ++seq;
    if (reset) { clear(list); shown.clear(); next = null; more.hidden = true; }
    await act(more, msg, async () => {
      const r = await api('GET', '/v1/requests', { query: { status: status.value, limit: 20, ...(next ?? {}) }, auth: false });
      if (mine !== seq) return;
      for (const req of r.requests.filter((q) => !shown.has(q.id))) {
        shown.add(req.id);
        list.append(requestCard(req));
      }
      msg.progress(list.children.length ? '' : 'No requests match.');
      next = r.next;
      more.hidden = !next;
    });
  }
  status.addEventListener('change', () => load(true));
  await load(true);
  return [h('h1', 'Requests'), h('div.field.inline', h('label', { for: 'filter-status' }, 'Status'), status), msg, list, more];
}

// What the ledger says about a request once it closed: when the release paid, how many were
// paid and how much, and the escrow refunded to the researcher (all public entries of the
// account escrow:<id>).
async function settlement(id) {
  const r = await api('GET', '/v1/ledger/entries', { query: { account: `escrow:${id}`, limit: 200 }, auth: false });
  const out = { paid: 0n, count: 0, refund: 0n, releasedAt: null };
  for (const e of r.entries) {
    if (e.debit !== `escrow:${id}`) continue;
    if (e.kind === 'reward') {
      out.paid += BigInt(e.amount);
      out.count += e.refs?.credits?.count ?? 1;
      out.releasedAt = e.created_at;
    } else if (e.kind === 'refund') out.refund += BigInt(e.amount);
  }
  return out;
}

// The facts of a request as its status allows: the closing date and the locked escrow only
// while it is open; once released, when, how many were paid and the refund.
async function statusFacts(req) {
  const dd = (...c) => h('dd', c);
  if (req.status === 'open') {
    return [h('dt', 'Closes'), dd(`${when(req.closes_at)} (${relative(req.closes_at)})`),
      h('dt', 'Escrow locked'), dd(amountEl(req.escrow))];
  }
  const closed = req.closed_at ? [h('dt', 'Closed'), dd(`${when(req.closed_at)} (${relative(req.closed_at)})`)] : [];
  if (req.status === 'closing') return [...closed, h('dt', 'Release'), dd(spinner(), 'running: the records are being protected and the contributors paid.')];
  let s = null;
  try { s = await settlement(req.id); } catch { /* the facts without the ledger's figures */ }
  const refund = [h('dt', 'Refunded to the researcher'), h('dd#request-refund', s ? amountEl(s.refund.toString()) : '—')];
  if (req.status === 'released') {
    return [...closed,
      h('dt', 'Released'), h('dd#request-released', s?.releasedAt ? `${when(s.releasedAt)} (${relative(s.releasedAt)})` : 'yes'),
      h('dt', 'Paid'), h('dd#request-paid', s ? [`${s.count} contributor${s.count === 1 ? '' : 's'}, `, amountEl(s.paid.toString()), ' in all'] : '—'),
      ...refund];
  }
  return [...closed, ...refund];
}

// Who vouches for the people of an attested request, and which EAS schema they sign: what a
// contributor needs to find the right attestation.
function attestedFacts(e) {
  return h('dl.facts#attested-facts',
    h('dt', `Issuer${e.issuers?.length === 1 ? '' : 's'}`), h('dd', (e.issuers ?? []).map((a) => [accountPill(a), ' '])),
    h('dt', 'Attestation schema'), h('dd', h('code', e.schema)),
    e.schema_uid ? [h('dt', 'Schema UID'), h('dd', h('code', { title: e.schema_uid }, short(e.schema_uid, 8)))] : null,
    e.eas?.chain_id ? [h('dt', 'EAS contract'), h('dd', accountPill(e.eas.address), ` version ${e.eas.version}, chain ${e.eas.chain_id}`)] : null);
}

const POLL_OPEN_MS = 15000, POLL_OWNER_MS = 3000, POLL_CLOSING_MS = 2000;

export async function request(box, id) {
  let req = await api('GET', `/v1/requests/${id}`);
  setTitle(req.title);
  const mine = session.address && req.owner?.toLowerCase() === session.address.toLowerCase();
  const badge = h('span#request-status', statusBadge(req.status));
  const facts = h('dl.facts#request-facts');
  const drawFacts = async (r) => clear(facts, requestFacts(r), await statusFacts(r));
  await drawFacts(req);
  const root = h('div.request-page',
    h('p.crumbs', h('a', { href: '#/requests' }, '← All requests')),
    h('h1', req.title), badge,
    req.description ? h('p', req.description) : null,
    facts,
    h('section', h('h2', 'Privacy guarantee'), h('p.privacy', privacyWords(req))),
    h('section', h('h2', 'Who can take part'), h('p', eligibilityWords(req.eligibility)), h('p#enrollment-words', enrollmentWords(req.enrollment)),
      req.enrollment?.mode === 'attested' ? attestedFacts(req.enrollment) : null),
    fieldsTable(req));
  // The page follows the request: re-read every few seconds while it can change (a release
  // running, counts arriving for its owner), slower for visitors of an open request, never
  // once it is final. Leaving the page stops it.
  let panel = null;
  let timer = null;
  const final = (st) => ['released', 'failed', 'cancelled'].includes(st);
  const schedule = () => {
    clearTimeout(timer);
    if (final(req.status)) return;
    timer = setTimeout(tick, req.status === 'closing' ? POLL_CLOSING_MS : mine ? POLL_OWNER_MS : POLL_OPEN_MS);
  };
  async function tick() {
    if (!root.isConnected && started) return;
    try {
      const r = await api('GET', `/v1/requests/${id}`);
      const changed = r.status !== req.status;
      req = r;
      if (changed) { clear(badge, statusBadge(r.status)); await drawFacts(r); }
      await panel?.update?.(r, changed);
    } catch { /* a failed re-read is retried at the next tick */ }
    schedule();
  }
  let started = false;
  // After an action of the owner's (close): read again at once.
  const refresh = () => { clearTimeout(timer); tick(); };
  if (mine) {
    panel = await ownerPanel(req, { refresh });
    root.append(panel);
  } else if (session.token && session.is('contributor')) root.append(await contributePanel(req));
  else if (!session.token) root.append(h('p.note', 'Sign in with your wallet as a contributor to take part.'));
  started = true;
  schedule();
  return root;
}

function anchorFor(seq, anchors) {
  return anchors.find((a) => seq >= a.first_seq && seq <= a.last_seq) ?? null;
}

async function allAnchors() {
  const out = [];
  let after;
  for (let i = 0; i < 20; i++) {
    const r = await api('GET', '/v1/anchors', { query: { after, limit: 500 }, auth: false });
    out.push(...r.anchors);
    if (r.next === null || r.next === undefined) break;
    after = r.next;
  }
  return out;
}

export async function ledger() {
  const [info, anchors] = await Promise.all([chain(), allAnchors().catch(() => [])]);
  const msg = messageLine('ledger-msg');
  const tbody = h('tbody');
  const entries = [];
  let next = null;
  const account = h('input#ledger-account', { type: 'text', placeholder: '0x… or escrow:0x…', autocomplete: 'off' });
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(false) }, 'Load more entries');
  const verifyAll = h('button#verify-all', { type: 'button', onclick: async () => {
    let bad = 0;
    const results = await Promise.all([...tbody.querySelectorAll('tr')].map((row) => row.verify()));
    for (const ok of results) if (!ok) bad++;
    if (bad) msg.error(new Error(`${bad} of ${tbody.children.length} entries failed verification; see the rows marked “Not valid”.`));
    else msg.ok(`All ${tbody.children.length} entries shown verify: hashes recomputed, signatures recover to the ledger signer ${info.ledger_signer}${anchors.length ? ', anchored entries are in their anchored root' : ''}.`);
  } }, 'Verify all shown');

  function row(e, previous) {
    const a = anchorFor(e.seq, anchors);
    const result = h('td.verify', h('span.muted', 'not checked'));
    const btn = h('button.small', { type: 'button', 'aria-label': `Verify entry ${e.seq}` }, 'Verify');
    const tr = h('tr', { dataset: { seq: e.seq } },
      h('th', { scope: 'row' }, String(e.seq)), h('td', e.kind),
      h('td.mono', h('span', { title: e.debit }, short(e.debit, 8)), ' → ', h('span', { title: e.credit }, short(e.credit, 8))),
      h('td.num', amountEl(e.amount)), h('td', when(e.created_at)),
      h('td.mono', { title: e.signature }, short(e.signature, 6)),
      h('td', a ? (a.status === 'confirmed' ? h('span.badge.status-released', `anchored #${a.id}`) : h('span.badge.status-closing', `anchor #${a.id} ${a.status}`)) : h('span.badge', 'not anchored yet')),
      h('td', btn), result);
    // Recomputes the hash and recovers the signer; for an anchored entry, also fetches its
    // inclusion proof and checks it leads to the anchored ledger root.
    tr.verify = async () => {
      let extra = {};
      if (a && a.status === 'confirmed') {
        try {
          const d = await api('GET', `/v1/ledger/entries/${e.seq}`, { auth: false });
          if (d.inclusion_proof) extra = { root: a.ledger_root, proof: d.inclusion_proof };
        } catch { /* checked without the proof */ }
      }
      const r = verifyEntry(e, { publishedSigner: info.ledger_signer, previous, ...extra });
      clear(result, r.ok ? h('span.ok', extra.proof ? '✓ Valid, in the anchored root' : '✓ Valid') : h('span.bad', `✗ Not valid: ${r.problems.join('; ')}`));
      return r.ok;
    };
    btn.addEventListener('click', () => tr.verify());
    return tr;
  }

  async function load(reset) {
    if (reset) { clear(tbody); entries.length = 0; next = null; }
    await act(more, msg, async () => {
      const q = { limit: 50, after: next };
      const acc = account.value.trim();
      if (acc) q.account = acc;
      const r = await api('GET', '/v1/ledger/entries', { query: q, auth: false });
      for (const e of r.entries) {
        tbody.append(row(e, entries.at(-1)));
        entries.push(e);
      }
      next = r.next;
      more.hidden = !next || r.entries.length < q.limit;
      msg.progress(entries.length ? `${entries.length} entries shown.` : 'No entries.');
    });
  }
  // The public sums over the whole ledger, recomputed here from every entry.
  const sumsMsg = messageLine('sums-msg');
  const checkAll = h('button#check-sums', { type: 'button', onclick: () => act(checkAll, sumsMsg, async () => {
    sumsMsg.progress('Reading every entry…');
    const all = [];
    for (let after = 0; ;) {
      const r = await api('GET', '/v1/ledger/entries', { query: { after, limit: 1000 }, auth: false });
      all.push(...r.entries);
      if (!r.next || !r.entries.length) break;
      after = r.next;
    }
    const bad = all.map((e, i) => verifyEntry(e, { publishedSigner: info.ledger_signer, previous: all[i - 1] })).filter((r) => !r.ok);
    const rewards = new Map();
    const rewardOf = async (id) => {
      if (!rewards.has(id)) rewards.set(id, (await api('GET', `/v1/requests/${id}`, { auth: false })).reward);
      return rewards.get(id);
    };
    const s = await checkSums(all, rewardOf);
    if (bad.length || s.problems.length) {
      throw new Error([...bad.flatMap((r) => r.problems), ...s.problems].slice(0, 5).join('; '));
    }
    sumsMsg.ok(`The sums hold over all ${all.length} entries: ${s.requests} requests’ escrow = rewards + refund, ${s.pooled} pooled reward entries pay their count × the request’s reward, the contract holds ${tokens(s.contract.toString())}, pooled payable ${tokens(s.payable.toString())}.`);
  }) }, 'Check the sums');
  // One's own private credits against the roots their public entries carry.
  const creditsMsg = messageLine('credits-msg');
  const checkMine = h('button#check-credits', { type: 'button', hidden: !session.token, onclick: () => act(checkMine, creditsMsg, async () => {
    const { credits } = await api('GET', '/v1/me/credits');
    const problems = [];
    let n = 0;
    for (const c of credits.filter((x) => !x.wave1)) {
      const e = await api('GET', `/v1/ledger/entries/${c.seq}`, { auth: false });
      const v = verifyEntry(e, { publishedSigner: info.ledger_signer });
      const p = v.ok ? checkCredit(session.address, c, e) : `entry ${c.seq}: ${v.problems.join('; ')}`;
      if (p) problems.push(p);
      n++;
    }
    if (problems.length) throw new Error(problems.join('; '));
    creditsMsg.ok(n ? `All ${n} of your credits prove against the roots their reward entries publish.` : 'You have no credits yet.');
  }) }, 'Check my credits');
  const form = h('form.inline', { onsubmit: (ev) => { ev.preventDefault(); load(true); } },
    h('div.field.inline', h('label', { for: 'ledger-account' }, 'Account or address'), account), h('button', { type: 'submit' }, 'Filter'));
  await load(true);
  return [
    h('h1', 'Ledger'),
    h('p', 'Every token movement is a hash-chained entry signed with the ledger key. Verification runs here in your browser: it recomputes each entry’s hash from its contents and recovers the signer from the signature, then compares it with the signer the server publishes.'),
    h('p', 'Published ledger signer: ', h('code#ledger-signer', info.ledger_signer ?? 'none'), ` · chain ${info.chain_id}`),
    h('p', 'Who took part in which study is not public: a release’s reward entry names only how many were paid and the Merkle root of their credits. Signed in, you can check your own credits against those roots.'),
    h('div.actions', checkAll, checkMine), sumsMsg, creditsMsg,
    form, verifyAll, msg,
    h('div.table-wrap', h('table.ledger',
      h('caption.visually-hidden', 'Ledger entries'),
      h('thead', h('tr', ['Seq', 'Kind', 'From → to', 'Amount', 'Time', 'Signature', 'Anchor', 'Check', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    more,
  ];
}

export async function anchors() {
  const list = await allAnchors();
  return [
    h('h1', 'Anchors'),
    h('p', 'Batches of ledger entries are anchored on chain as two Merkle roots: one over the entries, one over every address’s claimable total.'),
    list.length ? h('div.table-wrap', h('table',
      h('thead', h('tr', ['Anchor', 'Entries', 'Ledger root', 'Claims root', 'Status', 'Transaction', 'Block'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', list.map((a) => h('tr',
        h('th', { scope: 'row' }, `#${a.id}`), h('td', `${a.first_seq}–${a.last_seq}`),
        h('td.mono', { title: a.ledger_root }, short(a.ledger_root)), h('td.mono', { title: a.claims_root }, short(a.claims_root)),
        h('td', a.status),
        h('td.mono', a.tx_hash ? h('a', { href: `#/tx/${a.tx_hash}` }, short(a.tx_hash)) : '—'),
        h('td', a.block_number ?? '—')))))) : h('p', 'Nothing has been anchored yet.'),
  ];
}

export async function transaction(box, hash) {
  const msg = messageLine('tx-msg');
  const out = h('div');
  const parts = [h('h1', 'Transaction'), h('p.mono', hash), msg, out];
  if (!hasWallet()) {
    msg.progress('Connect a wallet extension to look this transaction up on chain through it.');
    return parts;
  }
  await act(null, msg, async () => {
    msg.progress('Looking the transaction up through your wallet…');
    const { tx, receipt } = await lookupTransaction(hash);
    if (!tx) throw new Error('Your wallet’s network does not know this transaction. Is the wallet on the same chain as Cohort?');
    msg.progress('');
    clear(out, h('dl.facts',
      h('dt', 'From'), h('dd.mono', tx.from), h('dt', 'To'), h('dd.mono', tx.to ?? '—'),
      h('dt', 'Block'), h('dd', receipt?.blockNumber ?? 'pending'),
      h('dt', 'Status'), h('dd', receipt ? (receipt.status === 1 ? 'succeeded' : 'failed') : 'pending'),
      h('dt', 'Gas used'), h('dd', receipt?.gasUsed?.toString() ?? '—')));
  });
  return parts;
}
