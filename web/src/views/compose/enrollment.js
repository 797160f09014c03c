// The composer's "who may enrol" part (docs/PRIVACY.md): open states its risk in words; invite
// makes N codes on the server or takes the hashes of the researcher's own codes from a file
// (hashed here, so the codes never leave the browser); attested names the issuers, the EAS
// schema, the field naming the person and optional attested values required.
import { h, field } from '../../util.js';
import { Invalid } from './invalid.js';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

// SHA-256 of an invite code as the server hashes it: without spaces and hyphens, uppercased.
async function codeHash(code) {
  const norm = code.replace(/[\s-]/g, '').toUpperCase();
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(norm)));
  return `0x${[...d].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

// The field names an EAS schema definition declares ("bytes32 subject,string country").
export function schemaNames(def) {
  return def.split(',').map((p) => p.trim().split(/\s+/)).filter((p) => p.length === 2).map((p) => p[1]);
}

export function enrollmentPart() {
  const radio = (v, label) => h('div.check', h('input', { type: 'radio', name: 'enrol', id: `enrol-${v}`, value: v, checked: v === 'open' }), h('label', { for: `enrol-${v}` }, label));
  const codesN = h('input#enrol-codes', { type: 'number', min: 1, max: 10000, value: 20 });
  const source = (v, label) => h('div.check', h('input', { type: 'radio', name: 'invite-source', id: `invite-${v}`, value: v, checked: v === 'make' }), h('label', { for: `invite-${v}` }, label));
  const file = h('input#enrol-hash-file', { type: 'file', accept: '.txt,.csv,text/plain,text/csv' });
  const fileInfo = h('p.hint#enrol-hash-info', { 'aria-live': 'polite' });
  let hashes = null;
  file.addEventListener('change', async () => {
    hashes = null;
    const f = file.files[0];
    if (!f) { fileInfo.textContent = ''; return; }
    const lines = (await f.text()).split(/\r?\n/).map((l) => l.split(',')[0].trim().replace(/^"|"$/g, '')).filter((l) => l && !/^(code|hash|code_hash)$/i.test(l));
    const out = new Set();
    for (const l of lines) out.add(/^0x[0-9a-fA-F]{64}$/.test(l) ? l.toLowerCase() : await codeHash(l));
    hashes = [...out];
    fileInfo.textContent = `${hashes.length} code${hashes.length === 1 ? '' : 's'} read from ${f.name}; only their SHA-256 hashes are sent.`;
  });
  const issuers = h('textarea#att-issuers', { rows: 3, spellcheck: 'false', autocomplete: 'off' });
  const schema = h('input#att-schema', { type: 'text', value: 'bytes32 subject,string country', spellcheck: 'false' });
  const subject = h('input#att-subject', { type: 'text', value: 'subject', spellcheck: 'false' });
  const conds = h('div#att-conditions');
  let condSeq = 0;
  const condRow = () => {
    const n = ++condSeq;
    const row = h('div.row.att-condition',
      field('Attested field', h('input', { id: `att-cond-${n}-field`, name: 'att-field', type: 'text', spellcheck: 'false' })),
      field('Accepted values (comma-separated)', h('input', { id: `att-cond-${n}-values`, name: 'att-values', type: 'text' })),
      h('button.small.danger', { type: 'button', 'aria-label': 'Remove this condition', onclick: () => row.remove() }, 'Remove'));
    row.lastChild.style.alignSelf = 'center';
    return row;
  };
  const resolver = h('input#att-resolver', { type: 'text', spellcheck: 'false', placeholder: '0x… (none)' });
  const revocable = h('input#att-revocable', { type: 'checkbox', checked: true });
  const easAddr = h('input#att-eas-address', { type: 'text', spellcheck: 'false', placeholder: '0x…' });
  const easVersion = h('input#att-eas-version', { type: 'text', placeholder: '1.3.0' });
  const easChain = h('input#att-eas-chain', { type: 'number', min: 1 });

  const inviteBox = h('div.enrol-invite', { hidden: true },
    h('fieldset', h('legend', 'Invite codes'), h('div.checks', source('make', 'Cohort makes the codes'), source('upload', 'I bring my own codes (a file)')),
      h('div.invite-make', field('Number of invite codes', codesN, 'Shown once, after posting, with a CSV to download: the server keeps only their hashes and never tells you which wallet used which code.')),
      h('div.invite-upload', { hidden: true }, field('File of codes or SHA-256 hashes, one per line', file, 'Codes are hashed in this browser; only the hashes are sent.'), fileInfo)));
  const attestedBox = h('div.enrol-attested', { hidden: true },
    h('p.hint', 'Only people holding an attestation from one of these issuers may take part, one contribution per attested person. The attestation is an off-chain EAS attestation they upload when consenting.'),
    field('Issuer addresses, one per line (1 to 16)', issuers),
    field('Attestation schema (EAS definition)', schema, 'For example: bytes32 subject,string country'),
    field('Field naming the person', subject, 'One contribution per value of this field.'),
    h('fieldset', h('legend', 'Attested values required (optional)'), conds,
      h('button.small#att-add-condition', { type: 'button', onclick: () => conds.append(condRow()) }, 'Add a condition')),
    h('details#att-advanced', h('summary', 'Schema registration and EAS contract (optional)'),
      h('p.hint', 'The schema’s resolver and revocability are part of its UID, as registered with EAS. The EAS contract the issuers sign for: the operator’s by default; otherwise give all three.'),
      h('div.row', field('Schema resolver', resolver), h('div.check', revocable, h('label', { for: 'att-revocable' }, 'Revocable schema'))),
      h('div.row', field('EAS address', easAddr), field('EAS version', easVersion), field('Chain id', easChain))));
  const el = h('fieldset#enrollment', h('legend', 'Who may enrol'),
    h('div.checks', radio('open', 'Open: any signed-in wallet'), radio('invite', 'By invitation: one-time codes you hand out'), radio('attested', 'Attested: people an issuer vouches for')),
    h('p.hint#enrol-open-risk', 'Open requests cannot stop one person from enrolling several wallets and being paid for each, or from filling a small group with wallets of their own.'),
    inviteBox, attestedBox);
  const mode = () => el.querySelector('input[name=enrol]:checked').value;
  const sync = () => {
    const m = mode();
    el.querySelector('#enrol-open-risk').hidden = m !== 'open';
    inviteBox.hidden = m !== 'invite';
    attestedBox.hidden = m !== 'attested';
    const up = el.querySelector('input[name=invite-source]:checked').value === 'upload';
    el.querySelector('.invite-make').hidden = up;
    el.querySelector('.invite-upload').hidden = !up;
  };
  el.addEventListener('change', sync);
  sync();

  function read() {
    const m = mode();
    if (m === 'open') return { mode: 'open' };
    if (m === 'invite') {
      if (el.querySelector('input[name=invite-source]:checked').value === 'upload') {
        if (!hashes?.length) throw new Invalid(file, 'Choose a file holding your codes (or their hashes), one per line.');
        return { mode: 'invite', code_hashes: hashes };
      }
      const n = Number(codesN.value);
      if (!Number.isInteger(n) || n < 1 || n > 10000) throw new Invalid(codesN, 'Give a whole number of codes from 1 to 10000.');
      return { mode: 'invite', codes: n };
    }
    const list = issuers.value.split(/[\s,]+/).filter(Boolean);
    if (!list.length || list.length > 16) throw new Invalid(issuers, 'Give one to sixteen issuer addresses, one per line.');
    const bad = list.find((a) => !ADDRESS.test(a));
    if (bad) throw new Invalid(issuers, `“${bad}” is not an address: 0x followed by 40 hexadecimal digits.`);
    const twice = list.find((a, i) => list.findIndex((x) => x.toLowerCase() === a.toLowerCase()) !== i);
    if (twice) throw new Invalid(issuers, `${twice} is listed twice.`);
    const names = schemaNames(schema.value);
    if (!names.length) throw new Invalid(schema, 'Write the schema as type and name pairs, separated by commas, e.g. bytes32 subject,string country.');
    if (!names.includes(subject.value.trim())) throw new Invalid(subject, `The schema has no field “${subject.value.trim()}”: choose one of ${names.join(', ')}.`);
    const out = { mode: 'attested', issuers: list.map((a) => a.toLowerCase()), schema: schema.value.trim(), subject: subject.value.trim() };
    const eligibility = {};
    for (const row of conds.querySelectorAll('.att-condition')) {
      const f = row.querySelector('[name=att-field]');
      const vals = row.querySelector('[name=att-values]').value.split(',').map((s) => s.trim()).filter(Boolean);
      if (!f.value.trim() && !vals.length) continue;
      if (!names.includes(f.value.trim())) throw new Invalid(f, `The schema has no field “${f.value.trim()}”: choose one of ${names.join(', ')}.`);
      if (!vals.length) throw new Invalid(row.querySelector('[name=att-values]'), 'List the accepted values, separated by commas.');
      eligibility[f.value.trim()] = vals;
    }
    if (Object.keys(eligibility).length) out.eligibility = eligibility;
    if (resolver.value.trim()) {
      if (!ADDRESS.test(resolver.value.trim())) throw new Invalid(resolver, 'Give the resolver’s address (0x and 40 hexadecimal digits), or leave it empty for none.');
      out.resolver = resolver.value.trim().toLowerCase();
    }
    if (!revocable.checked) out.revocable = false;
    if (easAddr.value.trim() || easVersion.value.trim() || easChain.value.trim()) {
      if (!ADDRESS.test(easAddr.value.trim())) throw new Invalid(easAddr, 'Give the EAS contract address (0x and 40 hexadecimal digits), or leave the three boxes empty.');
      if (!/^\d+\.\d+\.\d+$/.test(easVersion.value.trim())) throw new Invalid(easVersion, 'Give the EAS contract’s version, such as 1.3.0, or leave the three boxes empty.');
      const chainId = Number(easChain.value);
      if (!Number.isInteger(chainId) || chainId < 1) throw new Invalid(easChain, 'Give the chain id as a whole number, such as 1 for Ethereum, or leave the three boxes empty.');
      out.eas = { address: easAddr.value.trim().toLowerCase(), version: easVersion.value.trim(), chain_id: chainId };
    }
    return out;
  }
  // Inputs by server member path (enrollment.*), for inline problems.
  // Each attested condition by its field: enrollment.eligibility.<field> names its values box.
  const conditionInputs = () => Object.fromEntries([...conds.querySelectorAll('.att-condition')]
    .map((row) => [`enrollment.eligibility.${row.querySelector('[name=att-field]').value.trim()}`, row.querySelector('[name=att-values]')]));
  const inputs = () => ({ ...conditionInputs(), 'enrollment.codes': codesN, 'enrollment.code_hashes': file, 'enrollment.issuers': issuers, 'enrollment.schema': schema,
    'enrollment.subject': subject, 'enrollment.eligibility': conds.querySelector('input') ?? subject, 'enrollment.resolver': resolver,
    'enrollment.revocable': revocable, 'enrollment.eas.version': easVersion, 'enrollment.eas.chain_id': easChain, 'enrollment.eas': easAddr, enrollment: el });
  return { el, read, inputs, mode };
}
