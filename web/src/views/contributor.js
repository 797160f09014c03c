// Contributor views: consent profile, the contributor's home (open requests, my studies with
// their state and payout, notices), taking part in a request (consent, with an invite code or
// an attestation file, record form or import, seal, submit, revoke). Balances and the on-chain
// claim are in money.js.
import { h, clear, field, tokens, toBase, fromBase, when, relative, messageLine, act, short } from '../util.js';
import { api, chain } from '../api.js';
import { session } from '../session.js';
import { privacyWords, fieldWords, statusBadge, ROLE_WORDS, countryOptions } from '../words.js';
import { signTypedData } from '../wallet.js';
import { importFiles, mapToSchema, roundFor, METRICS } from '../importers.js';
import { seal } from '../seal.js';
import { keccak256, toUtf8Bytes, verifyTypedData, Signature } from 'ethers';
import { amountEl, tokenInfo } from '../ui/amount.js';
import { fieldError, clearErrors, showProblem } from '../ui/form.js';
import { setTitle } from '../ui/page.js';
import { searchableSelect } from '../ui/select.js';
import { accountPill } from '../ui/pill.js';

const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'];
const SEXES = ['female', 'male', 'intersex', 'undisclosed'];
const CATEGORIES = ['health', 'fitness', 'sleep', 'nutrition', 'mental-health', 'location'];
const PURPOSES = ['academic-research', 'public-health', 'commercial-research', 'marketing'];

function checkGroup(name, legend, options, selected, hint) {
  const boxes = options.map((o) => {
    const id = `${name}-${o}`;
    return h('div.check', h('input', { type: 'checkbox', id, name, value: o, checked: selected.includes(o) }), h('label', { for: id }, o));
  });
  return h('fieldset', h('legend', legend), hint ? h('p.hint', hint) : null, h('div.checks', boxes));
}
const checked = (form, name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

export async function profile() {
  const p = await api('GET', '/v1/me/profile');
  session.setProfile(p);
  const cp = p.consent_profile ?? {};
  const attrs = cp.attributes ?? {};
  const extraCats = (cp.categories ?? []).filter((c) => !CATEGORIES.includes(c));
  const extraPurposes = (cp.purposes ?? []).filter((c) => !PURPOSES.includes(c));
  const msg = messageLine('profile-msg');
  const epsSpent = cp.epsilon_spent ?? '0';
  // A country by name or code from the ISO list: "Germany" is DE, never the "GE" (Georgia) its
  // first two letters would make.
  const countrySel = searchableSelect({ label: 'Country', options: countryOptions(), id: 'country',
    value: attrs.country ?? '', hint: 'Type the name or the two-letter code; empty: not shared.' });
  const form = h('form#profile-form', { novalidate: true },
    h('section', h('h2', 'You'),
      field('Display name', h('input#display-name', { type: 'text', maxlength: 80, value: p.display_name ?? '', autocomplete: 'nickname' })),
      checkGroup('roles', 'I use Cohort as', ['contributor', 'researcher'], p.roles ?? [])),
    h('section', h('h2', 'Consent profile'),
      h('p', 'Requests are matched against this profile on the server each time you open your inbox; the match is never stored, so nobody learns which studies you were offered. Leave an attribute empty to not share it — requests that need it will not match.'),
      checkGroup('categories', 'Kinds of data I am willing to share', CATEGORIES, cp.categories ?? []),
      field('Other kinds (comma-separated)', h('input#categories-other', { type: 'text', value: extraCats.join(', ') })),
      h('div.row',
        field('Age band', h('select#age-band', h('option', { value: '' }, 'Not shared'), AGE_BANDS.map((a) => h('option', { value: a, selected: attrs.age_band === a }, a)))),
        countrySel,
        field('Sex', h('select#sex', h('option', { value: '' }, 'Not shared'), SEXES.map((s) => h('option', { value: s, selected: attrs.sex === s }, s))))),
      checkGroup('purposes', 'Purposes I accept', PURPOSES, cp.purposes ?? []),
      field('Other purposes (comma-separated)', h('input#purposes-other', { type: 'text', value: extraPurposes.join(', ') })),
      field('Minimum reward per contribution (tokens)', h('input#min-reward', { type: 'text', inputmode: 'decimal', value: fromBase(cp.min_reward ?? '0') }),
        'Requests paying less than this are not shown to you.'),
      field('Lifetime privacy budget ε (epsilon)', h('input#lifetime-epsilon', { type: 'text', inputmode: 'decimal', value: cp.lifetime_epsilon ?? '10' }),
        `You have spent ε ${epsSpent} so far.`),
      h('details.explain', { open: true },
        h('summary', 'What does ε mean?'),
        h('p', 'Some studies publish only statistics with “differential privacy”: random noise is added so the numbers come out almost the same whether or not you took part. ε (epsilon) measures how much one release could still reveal about you — smaller is more private. At ε = 1, anything an observer concludes about you changes its odds by at most a factor of e¹ ≈ 2.7; at ε = 0.1, by at most about 10%.'),
        h('p', 'Each such study spends its ε from your lifetime budget, and budgets add up across studies. When yours is spent, you are no longer matched to statistics studies. k-anonymity studies do not use this budget.'))),
    h('section', h('h2', 'My privacy floors'),
      h('p', 'Requests below your floors are never shown to you, on top of the floors the operator sets for everyone. Leave a box empty to rely on the operator’s floors alone.'),
      h('div.row',
        field('Smallest k I accept', h('input#min-k', { type: 'number', inputmode: 'numeric', min: 2, max: 1000, step: 1, value: cp.min_k ?? '' }),
          'k-anonymity studies publish your row among at least k people who look the same; smaller k is less private.'),
        field('Largest ε per request', h('input#max-epsilon', { type: 'text', inputmode: 'decimal', value: cp.max_epsilon ?? '' }),
          'Statistics studies spending more ε than this are not shown to you.')),
      h('div.check', h('input#statistics-only', { type: 'checkbox', checked: !!cp.statistics_only }),
        h('label', { for: 'statistics-only' }, 'Statistics only: never publish my record as a row, even generalized (no k-anonymity studies)'))),
    h('button.primary#save-profile', { type: 'submit' }, 'Save profile'), msg);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector('#save-profile');
    await act(btn, msg, async () => {
      const roles = checked(form, 'roles');
      if (!roles.length) throw new Error('Choose at least one role: contributor, researcher, or both.');
      const country = countrySel.validate();
      let minReward;
      try { minReward = toBase(form.querySelector('#min-reward').value); } catch { throw new Error('Minimum reward must be a number of tokens, such as 0.5.'); }
      const attributes = {};
      if (form.querySelector('#age-band').value) attributes.age_band = form.querySelector('#age-band').value;
      if (country) attributes.country = country;
      if (form.querySelector('#sex').value) attributes.sex = form.querySelector('#sex').value;
      const minK = form.querySelector('#min-k').value.trim();
      if (minK && !/^[0-9]+$/.test(minK)) throw new Error('Smallest k must be a whole number from 2 to 1000, or empty.');
      const maxEps = form.querySelector('#max-epsilon').value.trim();
      const body = {
        roles,
        display_name: form.querySelector('#display-name').value.trim(),
        consent_profile: {
          categories: [...checked(form, 'categories'), ...list(form.querySelector('#categories-other').value)],
          attributes,
          purposes: [...checked(form, 'purposes'), ...list(form.querySelector('#purposes-other').value)],
          min_reward: minReward,
          lifetime_epsilon: form.querySelector('#lifetime-epsilon').value.trim(),
          min_k: minK ? Number(minK) : null,
          max_epsilon: maxEps || null,
          statistics_only: form.querySelector('#statistics-only').checked,
        },
      };
      msg.progress('Saving…');
      const saved = await api('PUT', '/v1/me/profile', { json: body });
      session.setProfile(saved);
      msg.ok('Profile saved.');
    });
  });
  return [h('h1', 'Your profile'), h('p', 'Address: ', h('code', p.address), h('br'), 'DID: ', h('code', p.did)), form];
}

// One inbox card.
function inboxCard({ request: req, consent, contributed }) {
  const consentWords = { none: 'Not consented', given: 'Consent given', revoked: 'Consent revoked' };
  return h('li.card.request-card', { dataset: { id: req.id } },
    h('h2', h('a', { href: `#/requests/${req.id}` }, req.title)), statusBadge(req.status),
    h('span.badge', contributed ? 'Contributed' : consentWords[consent] ?? consent),
    h('dl.facts',
      h('dt', 'Reward'), h('dd', amountEl(req.reward)),
      h('dt', 'Closes'), h('dd', `${when(req.closes_at)} (${relative(req.closes_at)})`),
      h('dt', 'Asks for'), h('dd', (req.schema?.fields ?? []).map((f) => f.name).join(', '))),
    h('p.privacy', privacyWords(req)),
    h('a.button', { href: `#/requests/${req.id}` }, contributed ? 'View or replace your contribution' : 'Review and take part'));
}

// A study's state in words: [badge, what it means for the contributor].
const STUDY_WORDS = {
  consented: ['Consent given', 'Send your record while the request is open.'],
  submitted: ['Record sent', 'Your sealed record waits for the release.'],
  released: ['Released', 'Your record was in the release; the payment is being posted.'],
  paid: ['Paid', 'Your reward is in the ledger.'],
  revoked: ['Consent revoked', 'Your record was deleted; nothing is paid for this study.'],
  cancelled: ['Did not go ahead', 'The request was cancelled or had too few contributors; nothing is paid.'],
  closed: ['Closed without your record', 'The request closed before you sent a record; nothing is paid.'],
};

// When a paid study's tokens can be claimed on chain: anchored and past the challenge period.
function claimWords(s, anchoring) {
  if (s.claimable) return ['Now: ', h('a', { href: '#/balance' }, 'claim it on the Balance page'), '.'];
  if (s.claimable_at) return `From ${when(s.claimable_at)} (${relative(s.claimable_at)}), when the anchor holding it has passed its challenge period.`;
  if (anchoring?.next_at) return `After the next anchor, expected ${when(anchoring.next_at)} (${relative(anchoring.next_at)}), and its challenge period.`;
  if (anchoring) return 'After the anchor now on its way to the chain is confirmed and its challenge period is over.';
  return 'When the operator anchors the ledger on chain.';
}

function studyCard(s, anchoring) {
  const r = s.request;
  const [badge, meaning] = STUDY_WORDS[s.state] ?? [s.state, ''];
  const payout = s.state === 'paid'
    ? [h('dt', 'Paid'), h('dd.study-paid', amountEl(s.paid_amount), s.paid_at ? ` on ${when(s.paid_at)}` : ''),
      h('dt', 'Claimable'), h('dd.study-claimable', claimWords(s, anchoring))]
    : ['consented', 'submitted', 'released'].includes(s.state)
      ? [h('dt', 'Expected payout'), h('dd.study-expected', amountEl(r.reward), s.state === 'released' ? '' : ' once released')]
      : [h('dt', 'Payout'), h('dd', 'None')];
  const dates = r.released_at ? [h('dt', 'Released'), h('dd', when(r.released_at))]
    : r.closed_at ? [h('dt', 'Closed'), h('dd', when(r.closed_at))]
      : [h('dt', 'Closes'), h('dd', `${when(r.closes_at)} (${relative(r.closes_at)})`)];
  return h('li.card.study-card', { dataset: { id: r.id, state: s.state } },
    h('h3', h('a', { href: `#/requests/${r.id}` }, r.title)),
    h(`span.badge.study-state.state-${s.state}`, badge),
    h('dl.facts', payout, h('dt', 'Consented'), h('dd', when(s.consented_at)), dates),
    h('p.hint', meaning),
    s.state === 'consented' && r.status === 'open' ? h('a.button', { href: `#/requests/${r.id}` }, 'Send your record') : null);
}

const NOTICE_WORDS = {
  reward_paid: 'Reward paid', release_done: 'Release ready', request_cancelled: 'Request cancelled',
  request_failed: 'Request closed without a release', consent_revoked: 'Consent revoked',
};

function noticeItem(n) {
  const study = n.request_title ? h('a', { href: `#/requests/${n.request_id}` }, n.request_title) : 'a study';
  const what = n.kind === 'reward_paid' && n.amount
    ? ['You were paid ', amountEl(n.amount), ' for “', study, '”.']
    : ['“', study, '”: ', n.detail ?? ''];
  const extra = n.kind === 'reward_paid' && /withheld/.test(n.detail ?? '')
    ? ' Your record was withheld from the release to protect the others; you are paid all the same.' : '';
  return h('li.notice', { dataset: { kind: n.kind } },
    h('strong', NOTICE_WORDS[n.kind] ?? n.kind.replace(/_/g, ' ')), ' — ', what, extra, ' ', h('span.muted', when(n.created_at)));
}

// The contributor's home: open requests that match now, the studies taken part in (they stay
// here once closed), and notices.
export async function inbox() {
  setTitle('Inbox');
  const [r, mine, chainNow] = await Promise.all([
    api('GET', '/v1/me/inbox'),
    api('GET', '/v1/me/studies'),
    // Fresh each time (tokenInfo caches): anchoring.next_at moves.
    api('GET', '/v1/chain', { auth: false }).catch(() => null),
    tokenInfo(),
  ]);
  const anchoring = chainNow?.anchoring ?? null;
  // The server matches before it pages (docs/API.md): "Show more" follows next.
  const open = r.requests.filter((x) => !x.contributed);
  const list = h('ul.cards.inbox', open.map(inboxCard));
  let next = r.next;
  const more = h('button#inbox-more', { type: 'button', hidden: !next }, 'Show more');
  more.addEventListener('click', async () => {
    more.disabled = true;
    const page = await api('GET', `/v1/me/inbox?before_us=${next.before_us}&before_id=${next.before_id}`);
    list.append(...page.requests.filter((x) => !x.contributed).map(inboxCard));
    next = page.next;
    more.hidden = !next;
    more.disabled = false;
  });
  const studies = mine.studies ?? [];
  const paid = studies.filter((x) => x.state === 'paid');
  let total = 0n;
  for (const x of paid) total += BigInt(x.paid_amount);
  const openSection = h('section#open-requests', { 'aria-labelledby': 'open-h' },
    h('h2#open-h', 'Open requests for you'),
    h('p', 'Requests that match your consent profile right now. Those you take part in move to “My studies”.'),
    open.length || r.next ? [list, more]
      : h('p.note', 'No open request matches your profile. Widening the kinds of data or purposes you accept, lowering your minimum reward, or relaxing your privacy floors matches more requests. ', h('a', { href: '#/profile' }, 'Edit your profile.')));
  const studiesSection = h('section#my-studies', { 'aria-labelledby': 'studies-h' },
    h('h2#studies-h', 'My studies'),
    studies.length
      ? [h('p#studies-summary', `${studies.length} stud${studies.length === 1 ? 'y' : 'ies'}; ${paid.length} paid`, paid.length ? [', ', amountEl(total), ' in all.'] : '.'),
        h('ul.cards.studies', studies.map((x) => studyCard(x, anchoring)))]
      : h('p.muted', 'Studies you consent to appear here, with what happens to them and what you are paid.'));
  // Someone with studies comes back to follow them: those first; a newcomer starts with offers.
  return [
    h('h1', 'Inbox'),
    studies.length ? [studiesSection, openSection] : [openSection, studiesSection],
    h('section#notices', { 'aria-labelledby': 'notices-h' },
      h('h2#notices-h', 'Notices'),
      r.notices.length ? h('ul.notices', r.notices.map(noticeItem)) : h('p.muted', 'No notices yet.')),
  ];
}

// The record form generated from the schema; returns {el, read(), set(name, value)}.
function recordForm(fields) {
  const inputs = new Map();
  const el = h('div.record-fields', fields.map((f) => {
    let input;
    if (f.type === 'category') {
      input = h('select', { id: `rec-${f.name}`, name: f.name, required: true }, h('option', { value: '' }, 'Choose…'), (f.categories ?? []).map((c) => h('option', { value: c }, c)));
    } else {
      const step = f.type === 'integer' ? '1' : String(10 ** -(f.decimals ?? 4));
      input = h('input', { id: `rec-${f.name}`, name: f.name, type: 'number', inputmode: f.type === 'integer' ? 'numeric' : 'decimal', min: f.min, max: f.max, step, required: true });
    }
    inputs.set(f.name, input);
    return field(`${f.name}${f.unit ? ` (${f.unit})` : ''}`, input, `${fieldWords(f)}; ${ROLE_WORDS[f.role] ?? f.role}.`);
  }));
  return {
    el,
    set(name, v) { const i = inputs.get(name); if (i) { i.value = String(v); i.dispatchEvent(new Event('input', { bubbles: true })); } },
    inputs,
    // The record as the server validates it, or an Error naming the first problem (its
    // `input` is the field, for an inline error).
    read() {
      const rec = {};
      const bad = (f, message) => Object.assign(new Error(message), { input: inputs.get(f.name) });
      for (const f of fields) {
        const raw = inputs.get(f.name).value.trim();
        if (raw === '') throw bad(f, `Fill in “${f.name}”.`);
        if (f.type === 'category') { rec[f.name] = raw; continue; }
        const v = Number(raw);
        if (!Number.isFinite(v)) throw bad(f, `“${f.name}” must be a number.`);
        if (f.type === 'integer' && !Number.isInteger(v)) throw bad(f, `“${f.name}” must be a whole number.`);
        const dec = (raw.split('.')[1] ?? '').length;
        if (f.type === 'decimal' && dec > (f.decimals ?? 4)) throw bad(f, `“${f.name}” has more than ${f.decimals ?? 4} decimals.`);
        if (v < Number(f.min) || v > Number(f.max)) throw bad(f, `“${f.name}” must be between ${f.min} and ${f.max}${f.unit ? ` ${f.unit}` : ''}.`);
        rec[f.name] = roundFor(f, v);
      }
      return rec;
    },
  };
}

// RFC 8785 canonical JSON of what a request stores (strings, numbers, objects, arrays): keys
// sorted by UTF-16 code units, numbers as ECMAScript prints them.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

// The privacy object as the terms hash it: the API writes delta and max_suppression as decimal
// strings (docs/API.md), the hashed terms hold them as numbers, as wave 2 signed them.
function hashedPrivacy(p) {
  const out = { ...p };
  for (const k of ['delta', 'max_suppression']) if (typeof out[k] === 'string') out[k] = Number(out[k]);
  return out;
}

// What the terms hold for enrollment (docs/PRIVACY.md, who may enrol): the word "open" for
// open requests, posted before enrollment modes or after, as every earlier consent signed;
// the request's enrollment object ({mode: 'invite', codes: N}) otherwise. src/market/terms.c
// computes the same.
export function termsEnrollment(e) {
  if (e === undefined || e === null) return 'open';
  const mode = typeof e === 'string' ? e : e.mode;
  return mode === undefined || mode === 'open' ? 'open' : e;
}

// The version-2 consent's termsHash of the request this page shows (docs/PRIVACY.md, what a consent signs).
export function termsHash(req) {
  const terms = {
    schema: req.schema, privacy: hashedPrivacy(req.privacy), eligibility: req.eligibility ?? {},
    enrollment: termsEnrollment(req.enrollment), retention_days: req.retention_days, purpose: req.purpose,
  };
  return keccak256(toUtf8Bytes(canonical(terms)));
}

// An EAS off-chain attestation file as easscan or the EAS SDK export it ({sig, signer} or the
// bare sig) -> {attestation (what is posted), issuer, recipient, expires (seconds, 0: never),
// uid}. The server checks it (issuer listed, recipient this wallet, unexpired, unrevoked,
// attested values); this only shows the person what they are about to send. Throws in words.
export function readAttestation(text) {
  let j;
  try { j = JSON.parse(text); } catch { throw new Error('This file is not JSON. Choose the attestation file (.json) your issuer gave you.'); }
  const sig = j?.sig ?? j;
  const m = sig?.message;
  if (!m || !sig.domain || !sig.types || !sig.signature) throw new Error('This JSON is not an EAS off-chain attestation: it has no signed message. Choose the attestation file your issuer gave you.');
  let issuer = typeof j.signer === 'string' ? j.signer : null;
  try {
    const { EIP712Domain, ...types } = sig.types;
    const sg = sig.signature;
    const recovered = verifyTypedData(sig.domain, types, m, typeof sg === 'string' ? sg : Signature.from({ r: sg.r, s: sg.s, v: sg.v }));
    if (!issuer) issuer = recovered;
    else if (recovered.toLowerCase() !== issuer.toLowerCase()) throw new Error('mismatch');
  } catch (e) {
    if (e.message === 'mismatch') throw new Error('This attestation’s signature is not its stated issuer’s: it was altered. Ask your issuer for a new file.');
    if (!issuer) throw new Error('This attestation’s signature cannot be read. Ask your issuer for a new file.');
  }
  return { attestation: j, issuer: issuer.toLowerCase(), recipient: String(m.recipient ?? '').toLowerCase(), expires: Number(m.expirationTime ?? 0), uid: sig.uid ?? null };
}

export async function contributePanel(req) {
  const section = h('section.panel#take-part', h('h2', 'Take part'));
  const msg = messageLine('consent-msg');
  let mine;
  try {
    mine = await api('GET', `/v1/requests/${req.id}/consents/me`);
  } catch (e) {
    section.append(h('p.error', { role: 'alert' }, `You cannot take part in this request: ${e.message}`));
    return section;
  }
  const given = mine.status === 'given';
  const open = req.status === 'open';
  const td = mine.typed_data;
  const consentBox = h('div.consent');
  section.append(consentBox, msg);

  if (given) {
    const revoke = h('button.danger#revoke', { type: 'button' }, 'Revoke consent');
    revoke.addEventListener('click', () => act(revoke, msg, async () => {
      if (!window.confirm('Revoke your consent? Your contribution to this request is deleted and you will not be paid for it.')) return;
      await api('DELETE', `/v1/requests/${req.id}/consents/me`);
      msg.ok('Consent revoked; your contribution to this request was deleted.');
      setTimeout(() => window.dispatchEvent(new HashChangeEvent('hashchange')), 800);
    }));
    clear(consentBox, h('p.ok#consent-state', `You consented on ${when(mine.created_at)}.`),
      td?.message?.privacy ? h('p', 'You agreed to: ', h('span#consented-privacy', td.message.privacy)) : null,
      mine.version === 1 ? h('p.note', 'This consent was given under the first consent format, which named the requested fields but not the privacy terms.') : null,
      open ? revoke : h('p', 'This request is closed. What happens to your record and your payment is under ', h('a', { href: '#/inbox' }, 'My studies in your inbox'), '.'));
  } else {
    // The hash to sign must be of the terms this page shows, or the wallet would sign others.
    const sameTerms = td?.domain?.version === '2' && td?.message?.termsHash === termsHash(req);
    const sign = h('button.primary#give-consent', { type: 'button', disabled: !open || !sameTerms }, 'Sign consent in your wallet');
    // Invite requests: the code the researcher gave this person, sent with the consent. After
    // revoking one's own consent the code redeemed before still holds, so it may stay empty.
    const mode = req.enrollment?.mode ?? 'open';
    const invite = mode === 'invite';
    const attested = mode === 'attested';
    const codeInput = invite ? h('input#invite-code', { type: 'text', autocomplete: 'off', spellcheck: false, placeholder: 'XXXX-XXXX-XXXX-XXXX-XXXX-XXXX' }) : null;
    // Attested requests: the attestation file, read here and shown back before it is sent.
    const attInput = attested ? h('input#attestation-file', { type: 'file', accept: '.json,application/json', style: 'max-width:100%' }) : null;
    const attShown = h('div#attestation-shown', { 'aria-live': 'polite' });
    let att = null;
    const form = h('form#consent-form', { novalidate: true, onsubmit: (ev) => ev.preventDefault() });
    attInput?.addEventListener('change', async () => {
      att = null;
      clear(attShown);
      fieldError(attInput, '');
      msg.progress('');
      const f = attInput.files?.[0];
      if (!f) return;
      try {
        att = readAttestation(await f.text());
      } catch (e) {
        fieldError(attInput, e.message);
        return;
      }
      const issuers = (req.enrollment?.issuers ?? []).map((x) => x.toLowerCase());
      const listed = issuers.includes(att.issuer);
      const mineAddr = (td?.message?.contributor ?? session.address ?? '').toLowerCase();
      const expired = att.expires > 0 && att.expires * 1000 < Date.now();
      clear(attShown, h('dl.facts',
        h('dt', 'Attested by'), h('dd#attestation-issuer', accountPill(att.issuer), listed ? ' — one of this request’s issuers' : ' — not one of this request’s issuers'),
        h('dt', 'Attestation valid until'), h('dd#attestation-expiry', att.expires > 0 ? `${when(new Date(att.expires * 1000).toISOString())}${expired ? ' (expired)' : ''}` : 'No expiry'),
        h('dt', 'Attested for'), h('dd', att.recipient ? accountPill(att.recipient) : '—', att.recipient && mineAddr && att.recipient !== mineAddr ? ' — not this wallet' : '')));
      if (!listed) fieldError(attInput, 'This request does not accept attestations from this issuer.');
      else if (expired) fieldError(attInput, 'This attestation has expired. Ask your issuer for a new one.');
      else if (att.recipient && mineAddr && att.recipient !== mineAddr) fieldError(attInput, 'This attestation was issued to another wallet. Sign in with that wallet, or ask your issuer for one issued to this wallet.');
    });
    sign.addEventListener('click', () => act(sign, msg, async () => {
      clearErrors(form);
      const code = codeInput?.value.trim();
      // A refusal is marked on its field and repeated beside the button just pressed (on a
      // phone the field may be scrolled out of sight).
      const refuse = (input, message) => { fieldError(input, message); msg.error(new Error(message)); input.focus(); };
      if (invite && !code && mine.status !== 'revoked') {
        refuse(codeInput, 'This request is by invitation: enter the invite code the researcher gave you.');
        return;
      }
      if (attested && !att) {
        refuse(attInput, 'This request accepts attested contributors only: choose the attestation file your issuer gave you.');
        return;
      }
      msg.progress('Your wallet shows the consent to sign: request, terms hash, purpose, privacy, reward and expiry…');
      const signature = await signTypedData(td);
      msg.progress('Recording your consent…');
      const json = { signature };
      if (code) json.code = code;
      if (att) json.attestation = att.attestation;
      try {
        await api('POST', `/v1/requests/${req.id}/consents`, { json });
      } catch (e) {
        // Refusals of the code or the attestation go next to that field, in plain words.
        const type = e.problem?.type ?? '';
        if (codeInput && /invite-code/.test(type)) refuse(codeInput, e.message);
        else if (attInput && /attestation/.test(type)) refuse(attInput, e.message);
        else {
          msg.progress('');
          showProblem(form, e, { code: codeInput, attestation: attInput });
        }
        return;
      }
      msg.ok('Consent recorded.');
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    }));
    clear(consentBox,
      h('p', mine.status === 'revoked' ? `You revoked your consent on ${when(mine.revoked_at)}. You may consent again while the request is open.` : 'To take part, sign this consent with your wallet. It is an off-chain signature: no transaction, no fee.'),
      // Each field of the EIP-712 Consent, as the wallet will show it, in the type's order.
      h('dl.facts#consent-fields',
        h('dt', 'Request'), h('dd.mono', short(td?.message?.requestId, 10)),
        h('dt', 'Purpose'), h('dd', td?.message?.purpose),
        h('dt', 'Privacy'), h('dd#consent-privacy', td?.message?.privacy ?? '—'),
        h('dt', 'Reward'), h('dd#consent-reward', td?.message?.reward ? [amountEl(td.message.reward), h('span.muted', ` (your wallet shows ${td.message.reward}, in base units)`)] : '—'),
        h('dt', 'Valid until'), h('dd', td?.message?.expiry ? when(new Date(Number(td.message.expiry) * 1000).toISOString()) : '—'),
        h('dt', 'Your address'), h('dd', td?.message?.contributor ? accountPill(td.message.contributor) : '—'),
        h('dt', 'Terms hash'), h('dd.mono#consent-terms-hash', { title: td?.message?.termsHash ?? '' }, short(td?.message?.termsHash, 10)),
        h('dt', 'Signed for'), h('dd', `${td?.domain?.name ?? 'Cohort'} consent version ${td?.domain?.version ?? '?'}, chain ${td?.domain?.chainId ?? '?'}`)),
      mine.terms ? h('details.explain#consent-terms',
        h('summary', 'The terms you sign'),
        h('p', 'The terms hash is the Keccak-256 of these terms written as canonical JSON (RFC 8785): any change to the fields, their roles, the privacy guarantee, eligibility, enrollment, retention or purpose gives another hash, and your signature would not cover it.'),
        h('pre.mono', { style: 'overflow-x:auto;max-width:100%' }, JSON.stringify(mine.terms, null, 2))) : null,
      sameTerms ? null : h('p.error#terms-mismatch', { role: 'alert' }, 'The consent offered for signing does not match the terms shown on this page, so it cannot be signed. Reload the page; if this persists, do not take part.'),
      clear(form,
        invite && open ? field('Invite code', codeInput, mine.status === 'revoked'
          ? 'The code you used before still holds: leave this empty, or enter a new code if the researcher gave you one.'
          : 'This request is by invitation. Each code works once; the researcher never learns which code you used.') : null,
        attested && open ? [field('Attestation file (JSON)', attInput,
          'This request accepts attested contributors only. Choose the off-chain attestation file (.json) your issuer gave you (from easscan or their app); it is read here and sent with your consent.'), attShown] : null,
        open ? sign : h('p.note', 'This request is no longer open.')));
    return section;
  }
  if (!open) return section;

  // The record: typed in, or imported from a file read on this device.
  const fields = req.schema?.fields ?? [];
  const form = recordForm(fields);
  const importMsg = messageLine('import-msg');
  const importOut = h('div.import-result');
  const file = h('input#import-file', { type: 'file', accept: '.gpx,.json,.xml,application/gpx+xml,application/json,text/xml', multiple: true, style: 'max-width:100%' });
  file.addEventListener('change', () => act(null, importMsg, async () => {
    importMsg.progress('Reading the file on this device…');
    const got = await importFiles(file.files);
    const mapped = mapToSchema(fields, got.metrics);
    clearErrors(recordEl);
    for (const m of mapped) form.set(m.field, m.value);
    clear(importOut,
      h('p', `${got.source}: ${got.detail}${got.range?.length ? `, ${got.range[0]}${got.range[1] !== got.range[0] ? ` to ${got.range[1]}` : ''}` : ''}.`),
      // Folded: on a phone the table alone is a screen long; the line above says what it filled.
      h('details.explain#import-figures', h('summary', `All ${Object.keys(got.metrics).length} figures found in the file`),
        h('div.table-wrap', h('table#import-table',
        h('caption', 'Figures found in the file'),
        h('thead', h('tr', h('th', { scope: 'col' }, 'Figure'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Fills field'))),
        h('tbody', Object.entries(got.metrics).map(([k, v]) => {
          const m = mapped.find((x) => x.metric === k);
          return h('tr', h('th', { scope: 'row' }, METRICS[k]?.[0] ?? k), h('td', `${Number(v).toFixed(2)} ${METRICS[k]?.[1] ?? ''}`),
            h('td', m ? `${m.field} = ${m.value}${m.inBounds ? '' : ' (outside the allowed range: edit it below)'}` : '—'));
        }))))));
    const missing = fields.filter((f) => !mapped.some((m) => m.field === f.name)).map((f) => f.name);
    // Out of range values are not hidden in the folded table: said here, and on the field.
    const outside = mapped.filter((m) => !m.inBounds);
    for (const m of outside) {
      const input = form.inputs.get(m.field);
      if (input) fieldError(input, `The file gives ${m.value}, outside the range this request accepts: edit it.`);
    }
    importMsg.ok(mapped.length
      ? `Filled ${mapped.map((m) => m.field).join(', ')} from the file.${outside.length ? ` Check ${outside.map((m) => m.field).join(', ')}: outside the allowed range.` : ''}${missing.length ? ` Fill in ${missing.join(', ')} yourself.` : ''} Nothing was uploaded.`
      : 'The file was read, but none of its figures match this request’s fields.');
    update();
  }));
  const preview = h('pre#record-preview', { tabindex: 0, 'aria-label': 'The record that will be sealed', style: 'overflow-x:auto;max-width:100%' });
  const submitMsg = messageLine('submit-msg');
  const submit = h('button.primary#seal-submit', { type: 'button' }, 'Seal and submit');
  function update() {
    try { preview.textContent = JSON.stringify(form.read(), null, 2); preview.classList.remove('invalid'); } catch (e) { preview.textContent = `(not complete: ${e.message})`; preview.classList.add('invalid'); }
  }
  form.el.addEventListener('input', update);
  // A field's error goes once the field is edited (the next submit checks it again).
  form.el.addEventListener('input', (ev) => { if (ev.isTrusted && ev.target.getAttribute?.('aria-invalid')) fieldError(ev.target, ''); });
  form.el.addEventListener('change', update);
  update();
  const recordEl = h('form#record-form', { novalidate: true, onsubmit: (ev) => ev.preventDefault() }, form.el);
  submit.addEventListener('click', () => act(submit, submitMsg, async () => {
    clearErrors(recordEl);
    let record;
    try {
      record = form.read();
    } catch (e) {
      if (!e.input) throw e;
      fieldError(e.input, e.message);
      e.input.focus();
      submitMsg.progress('');
      return;
    }
    submitMsg.progress('Sealing the record on this device…');
    const { sealed, bytes } = await seal(record, req.public_key);
    submitMsg.progress('Sending the sealed record…');
    try {
      await api('POST', `/v1/requests/${req.id}/contributions`, { json: { sealed } });
    } catch (e) {
      // The server names the field it refused ("age must be …"): shown under that field.
      submitMsg.progress('');
      showProblem(recordEl, e, Object.fromEntries(form.inputs));
      return;
    }
    submitMsg.ok(`Your sealed record (${bytes} bytes) was accepted. Only this request’s release job can open it. You are paid ${tokens(req.reward)} when the request is released; follow it under “My studies” in your inbox.`);
  }));
  section.append(
    h('h3', 'Your record'),
    h('p', 'Type the values, or import them from a file exported by a fitness or health service. Files are read here, on your device; only the sealed record below leaves it.'),
    // A fieldset is as wide as its content by default (min-inline-size: min-content), and a
    // file input is wide: without these the import box pushes a phone's page sideways.
    h('fieldset.import', { style: 'min-width:0;max-width:100%' }, h('legend', 'Import from a file'),
      field('GPX track, Fitbit JSON export, or Apple Health export.xml', file, 'Daily steps, distance, heart rate, sleep and activity are averaged over the days in the file.'),
      importMsg, importOut),
    recordEl,
    h('h3', 'Check before sealing'),
    h('p', 'This exact record is encrypted to the request’s key in your browser. The server opens it only in protected memory to check it and to compute the release.'),
    preview, h('div.buttons.sticky-action', submit), submitMsg);
  return section;
}
