// The Balance page: the ledger's balances for the signed-in address, the researcher's deposit
// from the wallet (ERC-20 approve, then CohortRewards.deposit) and withdrawal of unused funds
// (POST /v1/me/withdrawals, idempotent), and the on-chain claim of everything anchored for the
// address. Deposit and claim run as steppers (approve, deposit, confirm, credited; claim,
// confirm) with a link to each transaction; the hashes and roots sit in a collapsed Details.
// Amounts are base units as bigints throughout; typed amounts go through parseAmount.
import { h, clear, field, messageLine, short, newIdempotencyKey } from '../util.js';
import { api, chain } from '../api.js';
import { session } from '../session.js';
import { claimOnChain, depositOnChain, onChainBalances, hasWallet, walletChainId, switchNetwork } from '../wallet.js';
import { amountEl, formatAmount, parseAmount, tokenInfo } from '../ui/amount.js';
import { fieldError, clearErrors, showProblem } from '../ui/form.js';
import { stepper, spinner, setTitle } from '../ui/page.js';

const POLL_MS = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const max = (...xs) => xs.reduce((a, b) => (b > a ? b : a));
const max0 = (x) => (x > 0n ? x : 0n);
const fmt = (v) => formatAmount(v);
const txLink = (hash) => (hash ? { href: `#/tx/${hash}`, text: `View transaction ${short(hash, 4)}` } : undefined);
// "12.5 COH (12500000000000000000 in base units, as your wallet may show it)"
const walletWords = (v, t) => `${fmt(v)} (${v.toString()} in base units of ${t.decimals} decimals, as your wallet may show it)`;

// The technical log of an action (hashes, roots, blocks), folded into a Details element.
function detailsLog(id) {
  const list = h('ol.progress', { id });
  const el = h('details.tx-details', h('summary', 'Details'), list);
  el.reset = () => { clear(list); el.open = false; };
  el.step = (t) => list.append(h('li', t));
  return el;
}

// A transaction flow's parts: its stepper (#NAME-steps), the folded log (#NAME-progress) and
// its message line (#NAME-msg); begin() shows a fresh stepper and log.
function flowParts(name, stepList) {
  const steps = stepper(stepList);
  steps.el.id = `${name}-steps`;
  steps.el.hidden = true;
  const log = detailsLog(`${name}-progress`);
  log.hidden = true;
  const msg = messageLine(`${name}-msg`);
  const begin = () => {
    steps.reset();
    steps.el.hidden = false;
    log.reset();
    log.hidden = false;
    msg.progress('');
  };
  return { steps, log, msg, begin };
}

export async function balance() {
  setTitle('Balance');
  const addr = session.address;
  const info = await chain().catch(() => null);
  const tok = await tokenInfo();
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

  // ---- the wallet on another chain: say so and offer to switch ------------------------------
  const switchMsg = messageLine('switch-msg');
  const switchBtn = h('button.primary#switch-network', { type: 'button' }, 'Switch network');
  const wrongChain = h('div.note.wrong-chain#wrong-chain', { hidden: true }, h('p#wrong-chain-text'), switchBtn, switchMsg);
  switchBtn.addEventListener('click', async () => {
    switchBtn.disabled = true;
    try { await switchNetwork(info.chain_id); switchMsg.progress('Switched; reloading the balances…'); } catch (e) { switchMsg.error(e); } finally { switchBtn.disabled = false; }
  });
  function showWrongChain(have) {
    wrongChain.querySelector('#wrong-chain-text').textContent = `Your wallet is on chain ${have}, but Cohort's contracts are on chain ${info.chain_id}. Deposits and claims need the wallet on chain ${info.chain_id}.`;
    wrongChain.hidden = false;
  }

  function draw() {
    const b = st.b;
    const earned = BigInt(b.earned);
    const show = {
      earned, claimable: claimable(), claimed: paid(), pending: max0(earned - anchored()),
      available: BigInt(b.available), escrowed: BigInt(b.escrowed),
    };
    const item = (id, label, hint) => h('div.stat', h('dt', label), h('dd', { id: `bal-${id}` }, amountEl(show[id])), h('dd.hint', hint));
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
    else if (show.claimable > 0n) claimState.textContent = `${fmt(show.claimable)} can be claimed now.`;
    else if (paid() > 0n && show.pending === 0n) claimState.textContent = 'You have claimed everything anchored so far. The button comes back when the next anchor makes more claimable.';
    else if (show.pending > 0n) claimState.textContent = `Nothing is claimable yet: ${fmt(show.pending)} waits for the next anchor.`;
    else claimState.textContent = 'Nothing is claimable right now.';
    if (st.walletBalance !== null) {
      clear(onchain, 'Token balance in your wallet: ', h('strong#wallet-balance', amountEl(st.walletBalance)),
        ' · paid out by the contract so far: ', amountEl(st.chainClaimed));
      clear(depositWallet, 'Your wallet holds ', h('strong#deposit-wallet-balance', amountEl(st.walletBalance)), '.');
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
      wrongChain.hidden = true;
    } catch (e) {
      if (e.code === 'WRONG_CHAIN') {
        showWrongChain(e.have);
        onchain.textContent = 'Your wallet is on another chain; switch networks to see what it holds.';
        depositWallet.textContent = onchain.textContent;
      } else {
        // The node's own words are technical: kept, folded.
        const words = 'Your wallet could not read your on-chain balance just now; the page tries again by itself.';
        clear(onchain, words, h('details.tx-details', h('summary', 'Details'), h('p', e.message)));
        depositWallet.textContent = words;
      }
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
  if (contracts && hasWallet()) {
    const have = await walletChainId();
    if (have !== null && have !== Number(info.chain_id)) showWrongChain(have);
  }

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

  // Which stepper step is running, so a failure marks that one.
  const failAt = (steps, e) => {
    const i = steps.states.indexOf('active');
    steps.set(i >= 0 ? i : 0, 'failed', e.message);
    if (e.code === 'WRONG_CHAIN') showWrongChain(e.have);
  };

  // ---- deposit ------------------------------------------------------------------------------
  function depositPanel() {
    const amount = h('input#deposit-amount', { type: 'text', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false', required: true });
    const btn = h('button.primary#deposit', { type: 'submit', disabled: !contracts }, 'Deposit');
    const { steps, log, msg, begin } = flowParts('deposit', [
      { label: 'Approve', detail: 'Let the rewards contract take the amount from your wallet (skipped when already approved).' },
      { label: 'Deposit', detail: 'Send the deposit transaction from your wallet.' },
      { label: 'Confirm', detail: 'The transaction is mined on chain.' },
      { label: 'Credited', detail: 'Cohort sees the confirmed deposit and credits your available balance.' }]);
    const form = h('form#deposit-form', { novalidate: true, 'aria-labelledby': 'deposit-h' },
      field(`Amount to deposit (${tok.symbol})`, amount, `For example 12.5. Up to ${tok.decimals} decimal places.`),
      h('div.buttons', btn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      msg.progress('');
      let v;
      try {
        v = BigInt(parseAmount(amount.value, tok.decimals));
        if (st.walletBalance !== null && v > st.walletBalance) {
          throw new Error(`Your wallet holds ${fmt(st.walletBalance)}, less than the ${fmt(v)} you asked to deposit. Nothing was sent.`);
        }
      } catch (e) {
        fieldError(amount, e.message);
        amount.focus();
        return;
      }
      btn.disabled = true;
      amount.readOnly = true;
      begin();
      try {
        const before = BigInt(st.b.available);
        log.step(`Depositing ${walletWords(v, tok)} into the rewards contract ${info.contracts.rewards}.`);
        steps.set(0, 'active', 'Checking what the rewards contract may already take from your wallet…');
        const receipt = await depositOnChain(v, (s) => {
          log.step(s.text);
          if (s.what === 'approval') {
            if (s.step === 'skip') steps.set(0, 'done', `Already approved for ${fmt(v)}; no approval needed.`);
            else if (s.step === 'wallet') steps.set(0, 'active', `Confirm in your wallet: approve ${walletWords(v, tok)} for the rewards contract.`);
            else if (s.step === 'sent') steps.set(0, 'active', 'Approval sent; waiting for it to be mined…', txLink(s.hash));
            else if (s.step === 'mined') steps.set(0, 'done', `Approved in block ${s.block}.`, txLink(s.hash));
          } else if (s.what === 'deposit') {
            if (s.step === 'wallet') steps.set(1, 'active', `Confirm in your wallet: deposit ${walletWords(v, tok)}.`);
            else if (s.step === 'sent') { steps.set(1, 'done', 'Deposit sent.', txLink(s.hash)); steps.set(2, 'active', 'Waiting for the transaction to be mined…', txLink(s.hash)); }
            else if (s.step === 'mined') { steps.set(2, 'done', `Confirmed in block ${s.block}.`, txLink(s.hash)); }
          }
        });
        steps.set(3, 'active', 'Waiting for Cohort to credit your deposit (it watches the contract for the confirmed Deposited event)…');
        log.step('Waiting for Cohort to credit the deposit…');
        const end = Date.now() + 90e3;
        await refresh();
        while (BigInt(st.b.available) < before + v && Date.now() < end) {
          await sleep(750);
          await refresh({ onChain: false });
        }
        await readChain();
        draw();
        if (BigInt(st.b.available) >= before + v) {
          steps.set(3, 'done', `Your available balance is now ${fmt(st.b.available)}.`);
          log.step('Done.');
          msg.ok(`Deposited ${fmt(v)}. Your available balance is now ${fmt(st.b.available)}.`);
          amount.value = '';
        } else {
          steps.set(3, 'active', 'Cohort credits the deposit after enough confirmations; your available balance above updates by itself.');
          msg.ok(`The deposit succeeded on chain (block ${receipt.blockNumber}); Cohort credits it after enough confirmations, and your available balance above updates by itself.`);
        }
      } catch (e) {
        failAt(steps, e);
        msg.error(e);
      } finally {
        btn.disabled = false;
        amount.readOnly = false;
      }
    });
    return h('section.panel#deposit-panel', { 'aria-labelledby': 'deposit-h' },
      h('h2#deposit-h', 'Deposit tokens'),
      h('p', 'Fund your requests from your wallet. The tokens go to the rewards contract and Cohort credits them to your available balance once the transaction is confirmed; rewards for your requests are locked from it. ',
        h('a', { href: '#/start' }, `How to get ${tok.symbol}`), '.'),
      contracts ? null : h('p.note', 'This server has no rewards contract configured, so deposits are not possible yet.'),
      depositWallet, form, steps.el, msg, log);
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
      field(`Amount to withdraw (${tok.symbol})`, amount, 'At most your available balance.'),
      h('div.buttons', btn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      let v;
      try {
        v = BigInt(parseAmount(amount.value, tok.decimals));
      } catch (e) {
        fieldError(amount, e.message);
        amount.focus();
        return;
      }
      const retry = pending && pending.amount === v;
      if (!retry) pending = { amount: v, key: newIdempotencyKey() };
      btn.disabled = true;
      msg.progress(retry ? `Retrying the withdrawal of ${fmt(v)}…` : `Withdrawing ${fmt(v)}…`);
      try {
        await api('POST', '/v1/me/withdrawals', { json: { amount: v.toString() }, headers: { 'Idempotency-Key': pending.key } });
        pending = null;
        await refresh({ onChain: false });
        msg.ok(`Withdrew ${fmt(v)}. It becomes claimable with the next anchor; then claim it to your wallet below. Available now: ${fmt(st.b.available)}.`);
        amount.value = '';
      } catch (e) {
        if (e.status === 402) {
          pending = null;
          const avail = e.problem?.available ?? st.b?.available;
          const words = `Insufficient funds: you asked to withdraw ${fmt(v)}, but only ${fmt(avail ?? 0)} is available. Funds locked in escrow for open requests cannot be withdrawn.`;
          fieldError(amount, words);
          msg.error(new Error(words));
        } else if (e.status === 0 || e.status >= 500) {
          msg.error(new Error(`${e.message} Press Withdraw again to retry: the retry carries the same request key, so the amount is never withdrawn twice.`));
        } else {
          pending = null;
          // The server's words about the amount go to the field, in plain words.
          if (e.problem) showProblem(form, e, { amount });
          else msg.error(e);
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
  const { steps: csteps, log: clog, msg: claimMsg, begin: beginClaim } = flowParts('claim', [
    { label: 'Claim', detail: 'Send the claim transaction, with its Merkle proof, from your wallet.' },
    { label: 'Confirm', detail: 'The transaction is mined and the contract pays your wallet.' }]);
  claimBtn.addEventListener('click', async () => {
    if (st.claiming) return;
    st.claiming = true;
    draw();
    beginClaim();
    try {
      csteps.set(0, 'active', 'Fetching your claim and its Merkle proof from Cohort…');
      clog.step('Fetching your claim and its Merkle proof from Cohort…');
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
      const now = total - paid();
      clog.step(`Cumulative amount ${total} base units (${fmt(total)}) under claims root ${claim.claims_root} (anchor #${claim.anchor?.id}); the contract pays the ${fmt(now)} it has not paid you yet.`);
      await claimOnChain(claim, (s) => {
        clog.step(s.text);
        if (s.step === 'wallet') csteps.set(0, 'active', `Confirm in your wallet: claim ${fmt(now)}. The wallet shows the cumulative amount, ${walletWords(total, tok)}.`);
        else if (s.step === 'sent') { csteps.set(0, 'done', 'Claim sent.', txLink(s.hash)); csteps.set(1, 'active', 'Waiting for the transaction to be mined…', txLink(s.hash)); }
        else if (s.step === 'mined') csteps.set(1, 'done', `Confirmed in block ${s.block}: ${fmt(now)} paid to your wallet.`, txLink(s.hash));
      });
      st.claimedHere = max(st.claimedHere, total);
      st.claiming = false;
      draw();
      clog.step('Waiting for Cohort’s ledger to record the claim…');
      claimMsg.progress('');
      claimMsg.append(spinner(), 'Waiting for Cohort’s ledger to record the claim…');
      const end = Date.now() + 60e3;
      do {
        await sleep(1000);
        await refresh({ onChain: false });
      } while (BigInt(st.b.claimed) < total && Date.now() < end);
      await readChain();
      draw();
      if (BigInt(st.b.claimed) >= total) {
        clog.step('Done.');
        claimMsg.ok(`Claimed. ${fmt(total)} paid out to your wallet in total.`);
      } else {
        claimMsg.ok('The transaction succeeded on chain; Cohort’s ledger records it after enough confirmations.');
      }
    } catch (e) {
      failAt(csteps, e);
      claimMsg.error(e);
    } finally {
      st.claiming = false;
      draw();
    }
  });
  const claimPanel = h('section.panel#claim-panel', { 'aria-labelledby': 'claim-h' },
    h('h2#claim-h', 'Claim on chain'),
    h('p', 'Rewards and withdrawals become claimable once a batch of the ledger is anchored on chain. Claiming sends one transaction from your wallet to the rewards contract with a Merkle proof; the contract pays what it has not paid you yet.'),
    contracts ? null : h('p.note', 'This server has no rewards contract configured, so nothing can be claimed yet.'),
    onchain, h('div.buttons', claimBtn), claimState, csteps.el, claimMsg, clog,
    contracts ? h('details.tx-details', h('summary', 'Contract'), h('p', 'Rewards contract ', h('code', info.contracts.rewards), ` on chain ${info.chain_id}; token `, h('code', tok.address ?? '—'), '.')) : null);

  const researcher = session.is('researcher') || BigInt(st.b.available) > 0n;
  clear(root,
    h('h1', 'Balance'),
    wrongChain,
    cards,
    researcher ? h('div.money-actions', depositPanel(), withdrawPanel()) : null,
    claimPanel);
  return root;
}
