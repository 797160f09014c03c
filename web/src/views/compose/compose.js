// The request composer as steps: the study, its fields, who may take part, the privacy
// guarantee (checked by the server's preview, with its noise warnings), the reward, and a
// review of the whole request in plain words before anything is posted. Each step is checked
// before the next; a refusal from the server is shown on the field it names, on its step.
import { h, clear, field, when, relative, messageLine, act, go } from '../../util.js';
import { api } from '../../api.js';
import { session } from '../../session.js';
import { eligibilityWords, enrollmentWords, privacyWords, fieldsTable, countryOptions } from '../../words.js';
import { formatAmount, amountEl, parseAmount, tokenInfo } from '../../ui/amount.js';
import { fieldError, clearErrors, showProblem } from '../../ui/form.js';
import { searchableSelect } from '../../ui/select.js';
import { setTitle, stepper } from '../../ui/page.js';
import { schemaEditor } from './schema.js';
import { enrollmentPart } from './enrollment.js';
import { Invalid } from './invalid.js';
import { approx } from '../../charts.js';
import { inviteCodes } from './codes.js';

const AGE_BANDS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'];
const SEXES = ['female', 'male', 'intersex', 'undisclosed'];
const SLUG = /^[a-z0-9_-]{1,40}$/;
const STEPS = ['Study', 'Fields', 'Who may take part', 'Privacy', 'Reward', 'Review'];
// Server refusals about the composer's own parts in plain words (ui/form.js's table has the
// shared ones).
const OWN_WORDS = [
  [/^enrollment\.eas must be/, 'This server names no EAS contract of its own: give the one your issuers sign for (its address, version and chain id).'],
  [/^enrollment\.codes: \d+ codes can never reach min_contributors/, 'Make at least as many invite codes as the minimum number of contributors.'],
  [/^enrollment\.code_hashes: \d+ codes can never reach min_contributors/, 'The file must hold at least as many codes as the minimum number of contributors.'],
  [/^enrollment\.subject must name/, 'Name the schema field that identifies the person, such as subject.'],
  [/^privacy\.queries\[\d+\] names no field of the schema/, 'A statistic names a field the request does not have: use the names from the Fields step.'],
  [/^privacy\.group_by must name a category field/, 'Group by a category field, or choose no grouping.'],
  [/^schema\.fields\[\d+\]\.role: \S+ is a measure/, 'A measure exists only in a differential privacy request: make it a quasi-identifier or sensitive for a k-anonymous table.'],
];

// Noise large against what it measures, in words: the preview's queries that would be mostly
// noise with the smallest cohort the request accepts.
export function noiseWarning(p, epsilon) {
  const at = p.expected_errors?.[0];
  const noisy = (at?.queries ?? []).filter((q) => q.mostly_noise);
  if (!noisy.length) return null;
  const n = at.contributors;
  const shown = noisy.slice(0, 4).map((q) => `${q.query} would be off by about ±${approx(q.expected_error_95)}`);
  return h('div.note.noise-warning#dp-noise-warning', { role: 'alert' },
    h('strong', 'Too noisy to be useful. '),
    `With ${n} contributor${n === 1 ? '' : 's'} at ε = ${epsilon}, ${shown.join('; ')}${noisy.length > 4 ? ` (and ${noisy.length - 4} more)` : ''}: the noise would be larger than what it measures. `,
    'Ask for more contributors, raise ε, or ask fewer statistics (each one shares the ε).');
}

export async function compose() {
  setTitle('New request');
  const [b] = await Promise.all([api('GET', `/v1/accounts/${session.address}/balance`, { auth: false }), tokenInfo().catch(() => null)]);
  const msg = messageLine('compose-msg');
  const schema = schemaEditor();
  const enrol = enrollmentPart();
  const countries = searchableSelect({ label: 'Countries (empty: any)', options: countryOptions(), multiple: true, id: 'el-country',
    hint: 'Type a name or a two-letter code and pick it from the list; add as many as you need.' });
  const local = new Date(Date.now() + 7 * 864e5 - new Date().getTimezoneOffset() * 6e4).toISOString().slice(0, 16);
  const mode = (v) => h('div.check', h('input', { type: 'radio', name: 'mode', id: `mode-${v}`, value: v, checked: v === 'k-anonymity' }), h('label', { for: `mode-${v}` }, v === 'dp' ? 'Differentially private statistics' : 'k-anonymous table'));
  const groupBy = h('select#priv-group', h('option', { value: '' }, 'No grouping'));
  const privacyPreview = h('div#privacy-preview', { 'aria-live': 'polite' });
  const escrow = h('p.escrow#escrow', { 'aria-live': 'polite' });
  const review = h('div#review');

  const sections = [
    h('section.step', h('h2', 'The study'),
      field('Title', h('input#req-title', { type: 'text', maxlength: 200, required: true })),
      field('Description', h('textarea#req-description', { rows: 3, maxlength: 5000 }), 'What you study and why; contributors read it before consenting.'),
      field('Purpose', h('input#req-purpose', { type: 'text', value: 'academic-research', list: 'purposes', spellcheck: 'false' }), 'Contributors only see requests whose purpose they accept, e.g. academic-research, public-health.'),
      h('datalist#purposes', ['academic-research', 'public-health', 'commercial-research', 'marketing'].map((p) => h('option', { value: p })))),
    h('section.step', h('h2', 'Fields'),
      h('p', 'Each field a record must hold. Quasi-identifiers are coarsened into ranges in a k-anonymous release; sensitive fields are protected by l-diversity; measures exist only in differential privacy requests, where they are seen only through the statistics.'),
      schema.el),
    h('section.step', h('h2', 'Who may take part'),
      h('fieldset', h('legend', 'Age bands (none ticked: any)'), h('div.checks', AGE_BANDS.map((a) => h('div.check', h('input', { type: 'checkbox', name: 'el-age', id: `el-age-${a}`, value: a }), h('label', { for: `el-age-${a}` }, a))))),
      h('fieldset', h('legend', 'Sex (none ticked: any)'), h('div.checks', SEXES.map((a) => h('div.check', h('input', { type: 'checkbox', name: 'el-sex', id: `el-sex-${a}`, value: a }), h('label', { for: `el-sex-${a}` }, a))))),
      countries,
      field('Kinds of data (comma-separated; empty: any)', h('input#el-categories', { type: 'text', value: 'fitness' })),
      h('div.row',
        field('Minimum contributors', h('input#req-min', { type: 'number', min: 1, value: 3 }), 'Below this many, nothing is released and the escrow is refunded.'),
        field('Maximum contributors', h('input#req-max', { type: 'number', min: 1, value: 50 }))),
      enrol.el),
    h('section.step', h('h2', 'Privacy guarantee'),
      h('fieldset', h('legend', 'Release as'), h('div.checks', mode('k-anonymity'), mode('dp'))),
      h('div.mode-k',
        h('div.row',
          field('k (smallest group)', h('input#priv-k', { type: 'number', min: 2, max: 1000, value: 5 })),
          field('l (distinct sensitive values per group, optional)', h('input#priv-l', { type: 'text', inputmode: 'decimal' })),
          field('Largest share of rows suppressed (0 to 0.5)', h('input#priv-supp', { type: 'text', inputmode: 'decimal', value: '0.1' })))),
      h('div.mode-dp',
        h('div.row',
          field('ε (epsilon), total for all queries', h('input#priv-eps', { type: 'text', inputmode: 'decimal', value: '1' })),
          field('Mechanism', h('select#priv-mech', h('option', { value: 'laplace' }, 'Laplace'), h('option', { value: 'gaussian' }, 'Gaussian'))),
          h('div.field.gaussian', h('label', { for: 'priv-delta' }, 'δ (Gaussian only)'), h('input#priv-delta', { type: 'text', inputmode: 'decimal' })),
          field('Group by (a category field, optional)', groupBy)),
        field('Queries, one per line', h('textarea#priv-queries', { rows: 4, spellcheck: 'false' }, 'count\nmean(steps)\nmean(distance_km)'), 'count, sum(f), mean(f), variance(f), median(f), histogram(f), quantiles(f, 0.25, 0.75); f is a field’s name. Each statistic spends part of ε.')),
      h('div.actions', h('button#preview-request', { type: 'button' }, 'Check the privacy')),
      privacyPreview),
    h('section.step', h('h2', 'Reward and timing'),
      h('div.row',
        field('Reward per contribution', h('input#req-reward', { type: 'text', inputmode: 'decimal', value: '1', autocomplete: 'off' }), 'In tokens, for example 1 or 0.5.'),
        field('Closes at (your local time)', h('input#req-closes', { type: 'datetime-local', value: local })),
        field('Keep the encrypted records for (days)', h('input#req-retention', { type: 'number', min: 0, max: 3650, value: 30 }))),
      escrow),
    h('section.step', h('h2', 'Review'), review),
  ];
  const steps = stepper(STEPS.map((label) => ({ label })));
  steps.el.id = 'compose-steps';
  steps.el.setAttribute('aria-label', 'Steps of the request');
  steps.el.removeAttribute('aria-live');
  // One line of steps (wrapping on phones) rather than a tall list; set through the CSSOM, which
  // the content security policy allows.
  Object.assign(steps.el.style, { display: 'flex', flexWrap: 'wrap', gap: '0 1.25rem' });
  const back = h('button#step-back', { type: 'button' }, 'Back');
  const next = h('button.primary#step-next', { type: 'button' }, 'Next');
  const post = h('button.primary#post-request', { type: 'submit' }, 'Post request and lock escrow');
  const actions = h('div.buttons.compose-actions', back, next, post);
  // The main action stays in reach on long steps and phones (set through the CSSOM, which the
  // content security policy allows).
  Object.assign(actions.style, { position: 'sticky', bottom: '0', background: 'var(--bg)', padding: '.5rem 0', margin: '0', zIndex: '3', borderTop: '1px solid var(--line)' });
  const form = h('form#compose-form', { novalidate: true }, sections, actions, msg);
  const q = (s) => form.querySelector(s);

  const syncMode = () => {
    const dp = q('input[name=mode]:checked').value === 'dp';
    q('.mode-k').hidden = dp;
    q('.mode-dp').hidden = !dp;
    q('.gaussian').hidden = q('#priv-mech').value !== 'gaussian';
  };
  form.addEventListener('change', (ev) => {
    if (ev.target.name === 'mode' || ev.target.id === 'priv-mech') syncMode();
    if (ev.target.closest('.step') === sections[3]) clear(privacyPreview);
  });
  syncMode();

  // ---- reading each step; Invalid names the input to fix ----
  const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const intIn = (sel, lo, hi, words) => {
    const el = q(sel);
    const n = Number(el.value);
    if (el.value.trim() === '' || !Number.isInteger(n) || n < lo || n > hi) throw new Invalid(el, words);
    return n;
  };
  function readStudy() {
    const title = q('#req-title').value.trim();
    if (!title) throw new Invalid(q('#req-title'), 'Give the request a title.');
    const purpose = q('#req-purpose').value.trim();
    if (!SLUG.test(purpose)) throw new Invalid(q('#req-purpose'), 'Write the purpose as one word in lowercase, with - or _ between words, e.g. academic-research.');
    return { title, description: q('#req-description').value.trim(), purpose };
  }
  function readWho() {
    const eligibility = {};
    const ticked = (n) => [...form.querySelectorAll(`input[name=${n}]:checked`)].map((i) => i.value);
    if (ticked('el-age').length) eligibility.age_band = ticked('el-age');
    if (ticked('el-sex').length) eligibility.sex = ticked('el-sex');
    let cs;
    try { cs = countries.validate(); } catch (e) { throw new Invalid(countries.input, e.message); }
    if (cs.length) eligibility.country = cs;
    const cats = list(q('#el-categories').value.toLowerCase());
    const bad = cats.find((c) => !SLUG.test(c));
    if (bad) throw new Invalid(q('#el-categories'), `“${bad}” is not a kind of data: use lowercase words such as fitness, sleep, health.`);
    if (cats.length) eligibility.categories = cats;
    const min = intIn('#req-min', 1, 100000, 'Give the minimum as a whole number, at least 1.');
    const max = intIn('#req-max', 1, 100000, 'Give the maximum as a whole number, at most 100000.');
    if (min > max) throw new Invalid(q('#req-max'), 'The maximum must be at least the minimum.');
    return { eligibility, min_contributors: min, max_contributors: max, enrollment: enrol.read() };
  }
  function readPrivacy() {
    if (q('input[name=mode]:checked').value === 'dp') {
      const privacy = { mode: 'dp', epsilon: q('#priv-eps').value.trim(), mechanism: q('#priv-mech').value,
        queries: q('#priv-queries').value.split('\n').map((s) => s.trim()).filter(Boolean) };
      if (!/^\d+(\.\d{1,6})?$/.test(privacy.epsilon) || Number(privacy.epsilon) <= 0) throw new Invalid(q('#priv-eps'), 'Give ε as a number above 0, such as 1 or 0.5.');
      if (!privacy.queries.length) throw new Invalid(q('#priv-queries'), 'Ask at least one statistic, such as count.');
      if (privacy.mechanism === 'gaussian') {
        if (!/^\d+(\.\d{1,6})?$/.test(q('#priv-delta').value.trim())) throw new Invalid(q('#priv-delta'), 'The Gaussian mechanism needs δ, a small number such as 0.00001.');
        privacy.delta = q('#priv-delta').value.trim();
      }
      if (groupBy.value) privacy.group_by = groupBy.value;
      return { privacy };
    }
    const privacy = { mode: 'k-anonymity', k: intIn('#priv-k', 2, 1000, 'Give k as a whole number from 2 to 1000.') };
    const l = q('#priv-l').value.trim();
    if (l) {
      if (!/^\d+(\.\d+)?$/.test(l)) throw new Invalid(q('#priv-l'), 'Give l as a number, such as 2, or leave it empty.');
      privacy.l = l; privacy.l_kind = 'distinct';
    }
    const s = q('#priv-supp').value.trim();
    if (s) {
      if (!/^\d+(\.\d+)?$/.test(s) || Number(s) > 0.5) throw new Invalid(q('#priv-supp'), 'Give a fraction from 0 to 0.5, such as 0.1 for 10%.');
      privacy.max_suppression = s;
    }
    return { privacy };
  }
  function readReward() {
    let reward;
    try { reward = parseAmount(q('#req-reward').value); } catch (e) { throw new Invalid(q('#req-reward'), e.message); }
    if (BigInt(reward) <= 0n) throw new Invalid(q('#req-reward'), 'The reward must be more than zero.');
    const closes = new Date(q('#req-closes').value);
    if (Number.isNaN(closes.getTime())) throw new Invalid(q('#req-closes'), 'Choose when the request closes.');
    if (closes.getTime() <= Date.now()) throw new Invalid(q('#req-closes'), 'Choose a time in the future.');
    const max = Number(q('#req-max').value) || 0;
    if (BigInt(reward) * BigInt(max) > available) {
      throw new Invalid(q('#req-reward'), `The escrow (reward × ${max} contributors at most) is more than you have available (${formatAmount(b.available)}). Deposit more on the Balance page, or lower the reward or the maximum.`);
    }
    return { reward, closes_at: closes.toISOString(), retention_days: intIn('#req-retention', 0, 3650, 'Give a whole number of days from 0 to 3650.') };
  }
  const readers = [readStudy, () => ({ schema: { fields: schema.read() } }), readWho, readPrivacy, readReward, () => ({})];
  const body = (upTo = readers.length - 1) => Object.assign({}, ...readers.slice(0, upTo + 1).map((r) => r()));
  // Everything posted: the steps not yet visited still have their defaults.
  const fullBody = () => body();

  // ---- server problems onto the field they name ----
  function fieldMap() {
    const m = {
      title: q('#req-title'), description: q('#req-description'), purpose: q('#req-purpose'),
      schema: schema.add, 'eligibility.age_band': q('input[name=el-age]'), 'eligibility.sex': q('input[name=el-sex]'),
      'eligibility.country': countries.input, 'eligibility.categories': q('#el-categories'), eligibility: q('#el-categories'),
      min_contributors: q('#req-min'), max_contributors: q('#req-max'),
      'privacy.k': q('#priv-k'), 'privacy.l': q('#priv-l'), 'privacy.max_suppression': q('#priv-supp'),
      'privacy.epsilon': q('#priv-eps'), 'privacy.delta': q('#priv-delta'), 'privacy.mechanism': q('#priv-mech'),
      'privacy.queries': q('#priv-queries'), 'privacy.group_by': groupBy, privacy: q('#mode-k-anonymity'),
      reward: q('#req-reward'), closes_at: q('#req-closes'), retention_days: q('#req-retention'),
      ...enrol.inputs(),
    };
    schema.box.querySelectorAll('.schema-field').forEach((_, i) => {
      for (const [k, el] of Object.entries(schema.inputs(i))) m[`schema.fields[${i}].${k}`] = el;
      m[`schema.fields[${i}]`] = schema.inputs(i).name;
    });
    return m;
  }
  // A refusal on the field it names (ui/form.js), on that field's step.
  const stepOf = (input) => sections.findIndex((sec) => sec.contains(input));
  // A check of ours failed: on its field, on that field's step (a later step's defaults are
  // read too when the preview needs the whole request).
  function invalidOnField(e) {
    const at = stepOf(e.input);
    if (at >= 0 && at !== cur) show(at);
    fieldError(e.input, e.message);
    reveal(e.input);
  }
  // Focus the field and bring it with its message to the middle of the screen, clear of the
  // sticky Back/Next bar.
  function reveal(input) {
    const folded = input.closest('details');
    if (folded) folded.open = true;
    input.focus({ preventScroll: true });
    input.scrollIntoView({ block: 'center' });
  }
  function problemOnField(e) {
    const problem = e.problem ?? { detail: e.message, title: e.title, status: e.status };
    let input;
    if (/[:/]insufficient-funds$/.test(problem.type ?? '')) {
      input = q('#req-reward');
      fieldError(input, `The escrow (reward × maximum contributors) is more than you have available (${formatAmount(b.available)}). Deposit more on the Balance page, or lower the reward or the maximum.`);
    } else {
      ({ input } = showProblem(form, problem, fieldMap()));
      // The composer's own plain words for refusals the shared table does not know.
      const own = OWN_WORDS.find(([re]) => re.test(problem.detail ?? ''));
      if (input && own) fieldError(input, own[1]);
    }
    if (input && stepOf(input) >= 0 && stepOf(input) !== cur) show(stepOf(input));
    if (input) reveal(input);
  }

  // ---- the preview (privacy step and review) ----
  const previewTable = (p) => p.expected_errors.map((at) => h('div.table-wrap', h('table.preview-errors',
    h('caption', `Expected error (95%) with ${at.contributors} contributors`),
    h('thead', h('tr', ['Statistic', '± error', 'Relative', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', at.queries.map((x) => h('tr',
      h('th', { scope: 'row' }, x.query), h('td.num', approx(x.expected_error_95)),
      h('td.num', x.relative > 100 ? '> 10000%' : `${Math.round(x.relative * 100)}%`), h('td', x.mostly_noise ? h('span.bad', 'mostly noise') : h('span.ok', 'usable'))))))));
  const warningsList = (p) => (p.warnings.length ? h('ul.warnings', p.warnings.map((w) => h('li', w))) : null);
  async function preview() {
    const p = await api('POST', '/v1/requests/preview', { json: fullBody() });
    const eps = p.terms?.privacy?.epsilon ?? q('#priv-eps').value;
    clear(privacyPreview, h('h3', 'What contributors will be told'), h('p.privacy-summary', p.privacy_summary),
      p.terms?.privacy?.mode === 'dp' ? noiseWarning(p, eps) : null, previewTable(p), warningsList(p),
      p.warnings.length ? null : h('p.ok', 'The privacy settings pass every check.'));
    return p;
  }
  q('#preview-request').addEventListener('click', () => act(q('#preview-request'), msg, async () => {
    clearErrors(form);
    try { readPrivacy(); await preview(); msg.progress(''); } catch (e) { if (e instanceof Invalid) invalidOnField(e); else problemOnField(e); }
  }));

  // ---- escrow on the reward step ----
  const available = BigInt(b.available);
  const updateEscrow = () => {
    try {
      const total = BigInt(parseAmount(q('#req-reward').value)) * BigInt(Math.max(0, Number(q('#req-max').value) || 0));
      const enough = total <= available;
      escrow.className = enough ? 'escrow' : 'escrow error';
      clear(escrow, 'Escrow locked when you post: ', amountEl(total.toString()), ` (reward × ${q('#req-max').value} contributors at most). Available to you: `, amountEl(b.available), '.',
        enough ? ' Unused escrow is refunded at the release.' : ' That is more than you have available: deposit more on the Balance page, or lower the reward or the maximum.');
    } catch { clear(escrow, 'Enter the reward as a number of tokens, such as 1 or 0.5.'); }
  };
  form.addEventListener('input', updateEscrow);
  // A field's error goes once the field is changed: the next check will say if it still holds.
  const unmark = (ev) => { if (ev.target.getAttribute?.('aria-invalid') === 'true') fieldError(ev.target, ''); };
  form.addEventListener('input', unmark);
  form.addEventListener('change', unmark);
  updateEscrow();

  // ---- the review ----
  function renderReview(bd, p) {
    const fake = { ...bd, privacy: p.terms?.privacy ?? bd.privacy, schema: bd.schema };
    const enough = BigInt(p.escrow) <= available;
    clear(review,
      h('dl.facts#review-facts',
        h('dt', 'Title'), h('dd', bd.title),
        bd.description ? [h('dt', 'Description'), h('dd', bd.description)] : null,
        h('dt', 'Purpose'), h('dd', bd.purpose),
        h('dt', 'Who may take part'), h('dd', eligibilityWords(bd.eligibility)),
        h('dt', 'Who may enrol'), h('dd#review-enrollment', enrollmentWords(bd.enrollment)),
        h('dt', 'Contributors'), h('dd', `${bd.min_contributors} to ${bd.max_contributors}; below ${bd.min_contributors} nothing is released`),
        h('dt', 'Privacy'), h('dd', privacyWords(fake)),
        h('dt', 'Contributors’ wallets will show'), h('dd', p.privacy_summary),
        h('dt', 'Reward'), h('dd#review-reward', amountEl(bd.reward), ' per contribution'),
        h('dt', 'Closes'), h('dd', `${when(bd.closes_at)} (${relative(bd.closes_at)})`),
        h('dt', 'Records kept'), h('dd', bd.retention_days ? `encrypted, for ${bd.retention_days} days after the release` : 'destroyed at the release'),
        h('dt', 'Escrow locked now'), h('dd#review-escrow', amountEl(p.escrow), ` of your `, amountEl(b.available), ' available; what is not paid out is refunded at the release')),
      enough ? null : h('p.error', 'That is more than you have available. Deposit more on the Balance page, or lower the reward or the maximum.'),
      fieldsTable(fake),
      bd.privacy.mode === 'dp' ? noiseWarning(p, p.terms?.privacy?.epsilon ?? bd.privacy.epsilon) : null,
      bd.privacy.mode === 'dp' ? previewTable(p) : null,
      p.warnings.length ? h('section', h('h3', 'Warnings'), warningsList(p)) : null);
  }

  // ---- navigation ----
  let cur = 0;
  function show(i) {
    cur = i;
    sections.forEach((s, j) => { s.hidden = j !== i; });
    STEPS.forEach((_, j) => steps.set(j, j < i ? 'done' : j === i ? 'active' : 'todo'));
    // The stepper's spinner is for work in progress; here the active step waits for the person.
    steps.el.querySelector('.spinner')?.remove();
    // Done steps are links back, for the keyboard too (Enter or Space, like a button).
    [...steps.el.children].forEach((li, j) => {
      const label = li.querySelector('.step-label');
      if (j < i) {
        label.tabIndex = 0;
        label.setAttribute('role', 'button');
        label.setAttribute('aria-label', `Return to step ${j + 1}: ${STEPS[j]}`);
      } else {
        label.removeAttribute('tabindex');
        label.removeAttribute('role');
        label.removeAttribute('aria-label');
      }
    });
    back.hidden = i === 0;
    next.hidden = i === STEPS.length - 1;
    post.hidden = i !== STEPS.length - 1;
    setTitle(`New request: ${STEPS[i]}`);
  }
  const focusStep = () => { const h2 = sections[cur].querySelector('h2'); h2.tabIndex = -1; h2.focus(); };
  back.addEventListener('click', () => { clearErrors(form); msg.progress(''); show(Math.max(0, cur - 1)); focusStep(); });
  next.addEventListener('click', () => act(next, msg, async () => {
    clearErrors(form);
    msg.progress('');
    try {
      readers[cur]();
      if (cur === 1) {
        // The group-by choices are the category fields just defined.
        const cats = schema.read().filter((f) => f.type === 'category').map((f) => f.name);
        const was = groupBy.value;
        clear(groupBy, h('option', { value: '' }, 'No grouping'), cats.map((c) => h('option', { value: c, selected: c === was }, c)));
      }
      if (cur === 3) await preview();
      if (cur === 4) renderReview(fullBody(), await preview());
    } catch (e) {
      if (e instanceof Invalid) { invalidOnField(e); return; }
      if (e.problem || e.status) { problemOnField(e); return; }
      throw e;
    }
    show(cur + 1);
    focusStep();
  }));
  // Clicking a done step in the stepper goes back to it.
  const backTo = (ev) => {
    const li = ev.target.closest('li');
    const i = li ? [...li.parentElement.children].indexOf(li) : -1;
    if (i >= 0 && i < cur) { ev.preventDefault(); clearErrors(form); show(i); focusStep(); }
  };
  steps.el.addEventListener('click', backTo);
  steps.el.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') backTo(ev); });

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (cur !== STEPS.length - 1) { next.click(); return; }
    act(post, msg, async () => {
      clearErrors(form);
      let bd;
      try { bd = fullBody(); } catch (e) {
        if (e instanceof Invalid) { invalidOnField(e); return; }
        throw e;
      }
      msg.progress('Posting the request and locking the escrow…');
      let created;
      try { created = await api('POST', '/v1/requests', { json: bd }); } catch (e) {
        msg.progress('');
        if (e.problem || e.status) { problemOnField(e); return; }
        throw e;
      }
      msg.ok(`Posted. ${formatAmount(created.escrow)} locked in escrow.`);
      if (created.codes?.length) form.replaceWith(inviteCodes(created));
      else go(`/requests/${created.id}`);
    });
  });
  show(0);
  return [h('h1', 'New request'), steps.el, form];
}
