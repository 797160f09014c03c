// The invite codes of a request just posted: in the creation's answer only, so shown here
// once, with a CSV to keep; the server has only their hashes from now on.
import { h, download, csvCell } from '../../util.js';
import { amountEl } from '../../ui/amount.js';

export function inviteCodes(created) {
  const csv = ['code', ...created.codes].map(csvCell).join('\n') + '\n';
  const save = () => download(`cohort-invite-codes-${created.id.slice(2, 10)}.csv`, csv, 'text/csv');
  return h('section.panel#invite-codes',
    h('h2', `${created.codes.length} invite code${created.codes.length === 1 ? '' : 's'}`),
    h('p.ok', 'Posted. ', amountEl(created.escrow), ' locked in escrow.'),
    h('p.error', { role: 'alert' }, 'Save these codes now: they are shown only this once. Cohort keeps only their hashes and cannot show them again.'),
    h('p', 'Give one code to each person you invite. Each code works once; you will see how many were used, never who used which.'),
    h('div.actions',
      h('button.primary#download-codes', { type: 'button', onclick: save }, 'Download the codes (CSV)'),
      h('a.button#go-request', { href: `#/requests/${created.id}` }, 'Go to the request')),
    h('ol.mono#invite-code-list', created.codes.map((c) => h('li', c))));
}
