// Onboarding. #/welcome: at first sign-in (no role yet) the person says how they use Cohort
// (contributor, researcher or both) before anything else. #/start: the researcher's "get
// started" page: what the tokens are, the token's address on this chain, adding it to the
// wallet, where tokens come from on this chain, and the way to the deposit.
import { h, clear, messageLine, act, go } from '../util.js';
import { api, chain } from '../api.js';
import { session } from '../session.js';
import { tokenInfo, amountEl } from '../ui/amount.js';
import { setTitle } from '../ui/page.js';
import { accountPill } from '../ui/pill.js';
import { hasWallet, watchToken, switchNetwork, walletChainId, onChainBalances } from '../wallet.js';

// Chains where the operator's tooling hands out test funds (anvil/hardhat, ganache/geth --dev).
const DEV_CHAINS = new Set([31337, 1337]);

const ROLE_CHOICES = [
  ['contributor', 'Contributor', 'I share my own data in studies I choose, and get paid for it.'],
  ['researcher', 'Researcher', 'I run studies: I post requests for data and pay contributors from a deposit.'],
  ['both', 'Both', 'I do both.'],
];

// Every new account starts as a contributor with an empty profile (the server's defaults), so
// "no role chosen yet" is that untouched profile, unless this browser already asked.
const ASKED = 'cohort.role-asked.';
export function needsRole(p) {
  const untouched = (p.roles ?? []).join() === 'contributor' && !p.display_name
    && !(p.consent_profile?.categories ?? []).length && !(p.consent_profile?.purposes ?? []).length;
  let asked = false;
  try { asked = localStorage.getItem(ASKED + p.address) === '1'; } catch { /* storage off */ }
  return untouched && !asked;
}

export async function welcome() {
  setTitle('Welcome');
  let profile = session.profile;
  try { profile = await api('GET', '/v1/me/profile'); } catch { /* the form still works */ }
  const current = profile?.roles ?? [];
  const preset = !profile || needsRole(profile) ? null : current.length === 2 ? 'both' : current[0] ?? null;
  const msg = messageLine('welcome-msg');
  const group = h('fieldset#role-choice.choices',
    h('legend', 'How will you use Cohort?'),
    ROLE_CHOICES.map(([value, label, hint]) => {
      const id = `role-${value}`;
      return h('div.choice',
        h('input', { type: 'radio', name: 'role', id, value, checked: preset === value, 'aria-describedby': `${id}-hint` }),
        h('label', { for: id }, h('strong', label), h('span.hint', { id: `${id}-hint` }, hint)));
    }));
  const btn = h('button.primary#role-continue', { type: 'submit' }, 'Continue');
  const form = h('form#welcome-form', { novalidate: true }, group, h('div.buttons.sticky-action', btn), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const picked = form.querySelector('input[name=role]:checked')?.value;
    if (!picked) {
      msg.error(new Error('Choose one of the three: contributor, researcher, or both.'));
      form.querySelector('input[name=role]').focus();
      return;
    }
    const roles = picked === 'both' ? ['contributor', 'researcher'] : [picked];
    await act(btn, msg, async () => {
      msg.progress('Saving…');
      // Only the roles change (the server keeps the members a PUT omits).
      const saved = await api('PUT', '/v1/me/profile', { json: { roles } });
      try { localStorage.setItem(ASKED + saved.address, '1'); } catch { /* storage off */ }
      session.setProfile(saved);
      msg.ok('Saved.');
      go(roles.includes('researcher') ? '/start' : '/profile');
    });
  });
  return [
    h('h1', 'Welcome to Cohort'),
    h('p.lead', 'Signed in as ', accountPill(session.address), '. One question before you start; you can change the answer later on your profile.'),
    form,
  ];
}

export async function start() {
  setTitle('Get started');
  const info = await chain().catch(() => null);
  const token = await tokenInfo();
  const chainId = info?.chain_id ?? null;
  const dev = DEV_CHAINS.has(Number(chainId));
  const root = h('div.start');

  const addMsg = messageLine('watch-msg');
  const addBtn = h('button.primary#watch-token', { type: 'button', disabled: !token.address }, `Add ${token.symbol} to my wallet`);
  addBtn.addEventListener('click', () => act(addBtn, addMsg, async () => {
    const added = await watchToken({ address: token.address, symbol: token.symbol, decimals: token.decimals });
    if (added) addMsg.ok(`Your wallet now lists ${token.symbol}.`);
    else addMsg.progress(`Your wallet did not add ${token.symbol}. You can add it by hand with the address above.`);
  }));

  // The wallet's chain and balance, with "Switch network" when it is elsewhere.
  const walletBox = h('div#start-wallet');
  async function drawWallet() {
    if (!hasWallet()) {
      clear(walletBox, h('p.note', 'No wallet was found in this browser. Install one (for example MetaMask), then reload this page.'));
      return;
    }
    const have = await walletChainId();
    if (chainId !== null && have !== null && have !== Number(chainId)) {
      const m = messageLine('switch-msg');
      const sw = h('button#switch-network', { type: 'button' }, 'Switch network');
      sw.addEventListener('click', () => act(sw, m, async () => { await switchNetwork(chainId); }));
      clear(walletBox, h('p.note', `Your wallet is on chain ${have}; Cohort's token lives on chain ${chainId}.`), h('div.buttons', sw), m);
      return;
    }
    if (!session.token || !info?.contracts?.rewards) { clear(walletBox); return; }
    try {
      const b = await onChainBalances(session.address);
      clear(walletBox, h('p', 'Your wallet ', accountPill(session.address), ' holds ', h('strong#start-wallet-balance', amountEl(b.balance)), '.'));
    } catch (e) {
      clear(walletBox, h('p.note', e.message));
    }
  }

  const where = dev
    ? [h('p', `This server runs on a local test chain (chain ${chainId}). Its tokens have no value and the operator hands them out: ask them to send ${token.symbol} to your address, or to credit your Cohort balance directly with`),
      h('pre.wrap', h('code', `cohort ledger deposit --address ${session.address ?? '0xYOUR_ADDRESS'} --amount 100000000000000000000`)),
      h('p.hint', 'The amount is in base units: 100000000000000000000 is 100 tokens of 18 decimals.')]
    : [h('p', `You need ${token.symbol} on chain ${chainId ?? '(not configured)'} in your own wallet: Cohort does not sell or lend tokens. Get them from whoever issues or trades this token, then deposit them here.`)];

  clear(root,
    h('h1', 'Get started as a researcher'),
    h('p.lead', 'Pay contributors for data in three steps: hold the token, deposit it into Cohort, post a request.'),
    h('section.panel', { 'aria-labelledby': 'tokens-h' },
      h('h2#tokens-h', 'What the tokens are'),
      h('p', `Cohort pays contributors in ${token.symbol}, a token on chain ${chainId ?? '(none yet)'}. You deposit tokens into Cohort's rewards contract; each request you post locks its rewards from that deposit in escrow; when the request is released, every contributor is credited and claims their tokens from the contract. Unused deposits can be withdrawn.`)),
    h('section.panel', { 'aria-labelledby': 'token-h' },
      h('h2#token-h', `1. Add ${token.symbol} to your wallet`),
      token.address
        ? h('dl.facts',
          h('dt', 'Token'), h('dd', `${token.symbol} (${token.decimals} decimals)`),
          h('dt', 'Address'), h('dd', h('code#token-address', token.address)),
          h('dt', 'Chain'), h('dd', String(chainId)))
        : h('p.note', 'This server has no token contract configured yet.'),
      h('div.buttons', addBtn), addMsg, walletBox),
    h('section.panel', { 'aria-labelledby': 'where-h' },
      h('h2#where-h', `2. Get ${token.symbol}`), where),
    h('section.panel', { 'aria-labelledby': 'deposit-h' },
      h('h2#deposit-h', '3. Deposit, then post a request'),
      h('p', 'Deposit what you want to spend on rewards; then compose a request. Its escrow is locked from your deposit when you post it.')),
    // The page's main action: on a phone it stays at the bottom of the screen while scrolling.
    h('div.buttons.sticky-action',
      h('a.button.primary#go-deposit', { href: '#/balance' }, 'Deposit tokens'),
      session.is('researcher') ? h('a.button.secondary', { href: '#/new' }, 'Post a request') : null));
  drawWallet();
  return root;
}
