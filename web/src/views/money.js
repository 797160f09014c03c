// The Balance page: the ledger's balances for the signed-in address, the researcher's deposit
// from the wallet (ERC-20 approve, then CohortRewards.deposit) and withdrawal of unused funds
// (POST /v1/me/withdrawals, idempotent), and the on-chain claim of everything anchored for the
// address. Amounts are base units as bigints throughout; typed amounts go through parseUnits.
import { h, clear, field, tokens, messageLine, short, parseTokenAmount, newIdempotencyKey } from '../util.js';
import { api, chain } from '../api.js';
import { session } from '../session.js';
import { claimOnChain, depositOnChain, onChainBalances, hasWallet } from '../wallet.js';

const POLL_MS = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const max = (...xs) => xs.reduce((a, b) => (b > a ? b : a));
const max0 = (x) => (x > 0n ? x : 0n);

// A numbered list of progress lines under a button (announced politely to screen readers).
function progressList(id) {
  const el = h('ol.progress', { id, 'aria-live': 'polite' });
  el.reset = () => clear(el);
  el.step = (t) => el.append(h('li', t));
  return el;
}

export async function balance() {
  const addr = session.address;
  const info = await chain().catch(() => null);
  const contracts = !!info?.contracts?.rewards;
  const root = h('div.money');

  // ---- state: the ledger's balance, the latest anchored claim, what the contract paid ------
  const st = {
    b: null,              // GET /v1/accounts/{addr}/balance
    claim: null,          // GET /v1/claims/{addr}, or null before the first anchor
    chainClaimed: null,   // CohortRewards.claimed(addr), read through the wallet's node
    walletBalance: null,  // the token's balanceOf(addr)
    claimedHere: 0n,      // cumulative amount claimed from this page (ahead of the ledger)
    claiming: false,
  };
  // Claimable: the anchored cumulative amount less the most we know was paid, wherever we
  // learnt it (the ledger, the contract, or our own transaction a moment ago).
  const paid = () => max(BigInt(st.b?.claimed ?? 0), st.chainClaimed ?? 0n, st.claimedHere);
  const anchored = () => max(BigInt(st.b?.anchored ?? 0), BigInt(st.claim?.cumulative_amount ?? 0));
  const claimable = () => max0(anchored() - paid());

  const cards = h('div#balances');
  const claimBtn = h('button.primary#claim', { type: 'button', 'aria-describedby': 'claim-state' }, 'Claim to my wallet');
  const claimState = h('p.hint#claim-state');
  const onchain = h('p#onchain');
  const depositWallet = h('p#deposit-wallet');

  function draw() {
    const b = st.b;
    const earned = BigInt(b.earned);
    const show = {
      earned, claimable: claimable(), claimed: paid(), pending: max0(earned - anchored()),
      available: BigInt(b.available), escrowed: BigInt(b.escrowed),
    };
    const item = (id, label, hint) => h('div.stat', h('dt', label), h('dd', { id: `bal-${id}` }, tokens(show[id])), h('p.hint', hint));
    const researcher = session.is('researcher') || show.available > 0n || show.escrowed > 0n;
    clear(cards, h('dl.stats',
      researcher ? item('available', 'Available', 'Deposited funds not locked in a request; you can post requests with them or withdraw them.') : null,
      researcher ? item('escrowed', 'In escrow', 'Locked for your open requests until they are released or cancelled.') : null,
      item('earned', 'Earned', researcher ? 'Everything credited to you to claim: rewards and withdrawals.' : 'Everything rewards have credited to you.'),
      item('pending', 'Pending', 'Earned but not anchored yet; it becomes claimable with the next anchor.'),
      item('claimable', 'Claimable now', 'Anchored on chain and not yet claimed.'),
      item('claimed', 'Claimed', 'Already paid out to your wallet by the contract.')));
    claimBtn.disabled = st.claiming || show.claimable === 0n || !contracts;
    if (st.claiming) claimState.textContent = 'A claim is in progress.';
    else if (!contracts) claimState.textContent = 'There is no rewards contract to claim from yet.';
    else if (show.claimable > 0n) claimState.textContent = `${tokens(show.claimable)} can be claimed now.`;
    else if (paid() > 0n && show.pending === 0n) claimState.textContent = 'You have claimed everything anchored so far. The button comes back when the next anchor makes more claimable.';
    else if (show.pending > 0n) claimState.textContent = `Nothing is claimable yet: ${tokens(show.pending)} waits for the next anchor.`;
    else claimState.textContent = 'Nothing is claimable right now.';
    if (st.walletBalance !== null) {
      clear(onchain, 'Token balance in your wallet: ', h('strong#wallet-balance', tokens(st.walletBalance)),
        ` · paid out by the contract so far: ${tokens(st.chainClaimed)}`);
      clear(depositWallet, 'Your wallet holds ', h('strong#deposit-wallet-balance', tokens(st.walletBalance)), '.');
    }
  }

  async function readChain() {
    if (!hasWallet()) {
      onchain.textContent = 'Connect a wallet extension to see your on-chain balance.';
      depositWallet.textContent = onchain.textContent;
      return;
    }
    if (!contracts) return;
    try {
      const c = await onChainBalances(addr);
      st.chainClaimed = BigInt(c.claimed);
      st.walletBalance = BigInt(c.balance);
    } catch (e) {
      onchain.textContent = e.message;
      depositWallet.textContent = e.message;
    }
  }

  // Refreshes may overlap (the poll, an action's own wait); an older answer never overwrites a
  // newer one.
  let asked = 0, applied = 0;
  async function refresh({ onChain = true } = {}) {
    const seq = ++asked;
    const [b, claim] = await Promise.all([
      api('GET', `/v1/accounts/${addr}/balance`),
      api('GET', `/v1/claims/${addr}`).catch(() => null),
      onChain ? readChain() : null,
    ]);
    if (seq < applied) return st;
    applied = seq;
    st.b = b;
    if (claim?.cumulative_amount) st.claim = claim;
    draw();
    return st;
  }
  await refresh();

  // Keeps the page current (a deposit credited, an anchor making funds claimable) while it is
  // shown; stops once the view has been replaced.
  let shown = false;
  (async function poll() {
    for (;;) {
      await sleep(POLL_MS);
      if (root.isConnected) shown = true;
      else if (shown) return;
      if (!shown || document.hidden) continue;
      try { await refresh(); } catch { /* the next tick retries; actions report their own errors */ }
    }
  })();

  // ---- deposit ------------------------------------------------------------------------------
  function depositPanel() {
    const amount = h('input#deposit-amount', { type: 'text', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false', required: true });
    const btn = h('button.primary#deposit', { type: 'submit', disabled: !contracts }, 'Deposit');
    const steps = progressList('deposit-progress');
    const msg = messageLine('deposit-msg');
    const form = h('form#deposit-form', { novalidate: true, 'aria-labelledby': 'deposit-h' },
      field('Amount to deposit (tokens)', amount, 'For example 12.5. Up to 18 decimal places.'),
      h('div.buttons', btn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      steps.reset();
      msg.progress('');
      let v;
      try {
        v = parseTokenAmount(amount.value, 'amount');
        if (st.walletBalance !== null && v > st.walletBalance) {
          throw new Error(`Your wallet holds ${tokens(st.walletBalance)}, less than the ${tokens(v)} you asked to deposit. Nothing was sent.`);
        }
      } catch (e) {
        msg.error(e);
        amount.setAttribute('aria-invalid', 'true');
        amount.focus();
        return;
      }
      amount.removeAttribute('aria-invalid');
      btn.disabled = true;
      amount.readOnly = true;
      try {
        const before = BigInt(st.b.available);
        steps.step(`Depositing ${tokens(v)} into the rewards contract ${short(info.contracts.rewards)}. Your wallet asks you to confirm up to two transactions: an approval, then the deposit.`);
        const receipt = await depositOnChain(v, (s) => steps.step(s.text));
        steps.step('Waiting for Cohort to credit your deposit (it watches the contract for the confirmed Deposited event)…');
        const end = Date.now() + 90e3;
        await refresh();
        while (BigInt(st.b.available) < before + v && Date.now() < end) {
          await sleep(750);
          await refresh({ onChain: false });
        }
        await readChain();
        draw();
        if (BigInt(st.b.available) >= before + v) {
          steps.step('Done.');
          msg.ok(`Deposited ${tokens(v)}. Your available balance is now ${tokens(st.b.available)}.`);
          amount.value = '';
        } else {
          msg.ok(`The deposit succeeded on chain (block ${receipt.blockNumber}); Cohort credits it after enough confirmations, and your available balance above updates by itself.`);
        }
      } catch (e) {
        msg.error(e);
      } finally {
        btn.disabled = false;
        amount.readOnly = false;
      }
    });
    return h('section.panel#deposit-panel', { 'aria-labelledby': 'deposit-h' },
      h('h2#deposit-h', 'Deposit tokens'),
      h('p', 'Fund your requests from your wallet. The tokens go to the rewards contract and Cohort credits them to your available balance once the transaction is confirmed; rewards for your requests are locked from it.'),
      contracts ? null : h('p.note', 'This server has no rewards contract configured, so deposits are not possible yet.'),
      depositWallet, form, steps, msg);
  }

  // ---- withdrawal ---------------------------------------------------------------------------
  function withdrawPanel() {
    const amount = h('input#withdraw-amount', { type: 'text', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false', required: true });
    const btn = h('button#withdraw', { type: 'submit' }, 'Withdraw');
    const msg = messageLine('withdraw-msg');
    // One key per withdrawal the user asks for; a retry of the same amount after a failure
    // that may have reached the server reuses it, so the server never withdraws twice.
    let pending = null;
    const form = h('form#withdraw-form', { novalidate: true, 'aria-labelledby': 'withdraw-h' },
      field('Amount to withdraw (tokens)', amount, 'At most your available balance.'),
      h('div.buttons', btn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let v;
      try {
        v = parseTokenAmount(amount.value, 'amount');
      } catch (e) {
        msg.error(e);
        amount.setAttribute('aria-invalid', 'true');
        amount.focus();
        return;
      }
      amount.removeAttribute('aria-invalid');
      const retry = pending && pending.amount === v;
      if (!retry) pending = { amount: v, key: newIdempotencyKey() };
      btn.disabled = true;
      msg.progress(retry ? `Retrying the withdrawal of ${tokens(v)}…` : `Withdrawing ${tokens(v)}…`);
      try {
        await api('POST', '/v1/me/withdrawals', { json: { amount: v.toString() }, headers: { 'Idempotency-Key': pending.key } });
        pending = null;
        await refresh({ onChain: false });
        msg.ok(`Withdrew ${tokens(v)}. It becomes claimable with the next anchor; then claim it to your wallet below. Available now: ${tokens(st.b.available)}.`);
        amount.value = '';
      } catch (e) {
        if (e.status === 402) {
          pending = null;
          const avail = e.problem?.available ?? st.b?.available;
          msg.error(new Error(`Insufficient funds: you asked to withdraw ${tokens(v)}, but only ${tokens(avail ?? 0)} is available. Funds locked in escrow for open requests cannot be withdrawn.`));
        } else if (e.status === 0 || e.status >= 500) {
          msg.error(new Error(`${e.message} Press Withdraw again to retry: the retry carries the same request key, so the amount is never withdrawn twice.`));
        } else {
          pending = null;
          msg.error(e);
        }
      } finally {
        btn.disabled = false;
      }
    });
    return h('section.panel#withdraw-panel', { 'aria-labelledby': 'withdraw-h' },
      h('h2#withdraw-h', 'Withdraw unused funds'),
      h('p', 'Take back available funds you do not need for requests. The amount moves to what you can claim: once the next anchor includes it, claim it to your wallet below like a reward.'),
      form, msg);
  }

  // ---- claim --------------------------------------------------------------------------------
  const steps = progressList('claim-progress');
  const claimMsg = messageLine('claim-msg');
  claimBtn.addEventListener('click', async () => {
    if (st.claiming) return;
    st.claiming = true;
    draw();
    steps.reset();
    claimMsg.progress('');
    try {
      steps.step('Fetching your claim and its Merkle proof from Cohort…');
      let claim;
      try {
        claim = await api('GET', `/v1/claims/${addr}`);
      } catch (e) {
        if (e.status === 404) throw new Error(`Nothing is claimable yet: ${e.message}`);
        throw e;
      }
      st.claim = claim;
      const total = BigInt(claim.cumulative_amount);
      await readChain();
      if (total <= paid()) throw new Error('Nothing new to claim: the contract has already paid you everything anchored so far.');
      steps.step(`Cumulative amount ${tokens(total)} under claims root ${short(claim.claims_root)} (anchor #${claim.anchor?.id}); the contract pays the ${tokens(total - paid())} it has not paid you yet.`);
      await claimOnChain(claim, (s) => steps.step(s.text));
      st.claimedHere = max(st.claimedHere, total);
      st.claiming = false;
      draw();
      steps.step('Waiting for Cohort’s ledger to record the claim…');
      const end = Date.now() + 60e3;
      do {
        await sleep(1000);
        await refresh({ onChain: false });
      } while (BigInt(st.b.claimed) < total && Date.now() < end);
      await readChain();
      draw();
      if (BigInt(st.b.claimed) >= total) {
        steps.step('Done.');
        claimMsg.ok(`Claimed. ${tokens(total)} paid out to your wallet in total.`);
      } else {
        claimMsg.ok('The transaction succeeded on chain; Cohort’s ledger records it after enough confirmations.');
      }
    } catch (e) {
      claimMsg.error(e);
    } finally {
      st.claiming = false;
      draw();
    }
  });
  const claimPanel = h('section.panel#claim-panel', { 'aria-labelledby': 'claim-h' },
    h('h2#claim-h', 'Claim on chain'),
    h('p', 'Rewards and withdrawals become claimable once a batch of the ledger is anchored on chain. Claiming sends one transaction from your wallet to the rewards contract with a Merkle proof; the contract pays what it has not paid you yet.'),
    contracts ? h('p', 'Rewards contract: ', h('code', info.contracts.rewards), ` on chain ${info.chain_id}.`) : h('p.note', 'This server has no rewards contract configured, so nothing can be claimed yet.'),
    onchain, h('div.buttons', claimBtn), claimState, steps, claimMsg);

  const researcher = session.is('researcher') || BigInt(st.b.available) > 0n;
  clear(root,
    h('h1', 'Balance'),
    h('p', 'Address ', h('code', addr)),
    cards,
    researcher ? h('div.money-actions', depositPanel(), withdrawPanel()) : null,
    claimPanel);
  return root;
}
