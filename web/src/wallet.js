// The user's EIP-1193 wallet (window.ethereum, as MetaMask and others inject it), through
// ethers' BrowserProvider: Sign-In with Ethereum, EIP-712 consents, and the on-chain claim.
import { BrowserProvider, Contract, getAddress } from 'ethers';
import { SiweMessage } from 'siwe';
import { abi as REWARDS_ABI } from '../../contracts-abi/CohortRewards.json';
import { abi as TOKEN_ABI } from '../../contracts-abi/CohortToken.json';
import { api, chain } from './api.js';
import { session } from './session.js';

export function hasWallet() {
  return typeof window !== 'undefined' && !!window.ethereum;
}

function provider() {
  if (!hasWallet()) {
    throw new Error('No Ethereum wallet was found in this browser. Install a wallet extension (for example MetaMask), then reload this page.');
  }
  return new BrowserProvider(window.ethereum, 'any');
}

// Custom errors of CohortRewards and CohortToken (OpenZeppelin ERC-20), in words.
const REVERTS = {
  ERC20InsufficientBalance: 'your wallet does not hold enough tokens for this amount',
  ERC20InsufficientAllowance: 'the rewards contract is not approved to take this many tokens from your wallet',
  ZeroAmount: 'the amount must be more than zero',
  NothingToClaim: 'the contract has already paid you everything in this claim',
  InvalidProof: 'the Merkle proof does not match the claims root on chain (a newer anchor may be on its way; reload and try again)',
  ZeroAddress: 'the address is the zero address',
};

function walletError(e) {
  const code = e?.info?.error?.code ?? e?.error?.code ?? e?.code;
  if (code === 4001 || code === 'ACTION_REJECTED') return new Error('You declined the request in your wallet. Nothing was signed or sent.');
  const name = e?.revert?.name;
  if (name) return new Error(`The contract refused the transaction: ${REVERTS[name] ?? name}.`);
  if (code === 'INSUFFICIENT_FUNDS') return new Error('Your wallet does not hold enough ETH to pay the transaction fee.');
  const msg = e?.info?.error?.message ?? e?.shortMessage ?? e?.message ?? String(e);
  return new Error(`The wallet reported a problem: ${msg}`);
}

async function signer() {
  try {
    return await provider().getSigner();
  } catch (e) {
    if (/No Ethereum wallet/.test(e.message)) throw e;
    throw walletError(e);
  }
}

// Connects the wallet, signs an EIP-4361 message for this server and exchanges it for a
// bearer token. Returns the session data.
export async function signIn(onStep = () => {}) {
  onStep('Asking your wallet for an account…');
  const s = await signer();
  const address = getAddress(await s.getAddress());
  onStep('Fetching a sign-in nonce…');
  const n = await api('GET', '/v1/auth/nonce', { auth: false });
  const message = new SiweMessage({
    domain: n.domain, address, statement: 'Sign in to Cohort.', uri: n.uri, version: '1',
    chainId: n.chain_id, nonce: n.nonce, issuedAt: new Date().toISOString(),
  }).prepareMessage();
  onStep('Waiting for your signature in the wallet…');
  let signature;
  try {
    signature = await s.signMessage(message);
  } catch (e) { throw walletError(e); }
  onStep('Checking the signature…');
  const r = await api('POST', '/v1/auth/siwe', { json: { message, signature }, auth: false });
  return { token: r.token, address: r.address, did: r.did, expires_at: r.expires_at };
}

export async function signOut() {
  try { await api('POST', '/v1/auth/logout'); } catch { /* the token may already be gone */ }
  session.set(null);
}

// Ends every session of this account (POST /v1/me/sessions/revoke-all), this one included.
// Returns the server's answer ({revoked: n}).
// A failure other than an expired session keeps this one, so the user can try again.
export async function signOutEverywhere() {
  const r = await api('POST', '/v1/me/sessions/revoke-all');
  session.set(null);
  return r;
}

// Signs the typed data exactly as the API published it (eth_signTypedData_v4), so the wallet
// shows the request id, terms hash, purpose, privacy summary, reward and expiry readably.
export async function signTypedData(typedData) {
  const s = await signer();
  const me = getAddress(await s.getAddress());
  if (session.address && me !== getAddress(session.address)) {
    throw new Error(`Your wallet's active account is ${me}, but you signed in as ${session.address}. Switch accounts in the wallet or sign in again.`);
  }
  const { EIP712Domain, ...types } = typedData.types;
  try {
    return await s.signTypedData(typedData.domain, types, typedData.message);
  } catch (e) { throw walletError(e); }
}

// The compiled contracts' ABIs, bundled from contracts-abi/ (esbuild drops the bytecode: only the
// named `abi` property is imported). Full ABIs let ethers decode the contracts' custom errors.
async function checkChain(p) {
  const info = await chain();
  const net = await p.getNetwork();
  if (Number(net.chainId) !== Number(info.chain_id)) throw wrongChain(net.chainId, info.chain_id);
  if (!info.contracts?.rewards) throw new Error('This Cohort server has no rewards contract configured yet, so nothing can be claimed on chain.');
  return info;
}

// The error for a wallet on another chain; the pages offer "Switch network" on its code.
function wrongChain(have, want) {
  const e = new Error(`Your wallet is on chain ${have}, but Cohort's contracts are on chain ${want}. Switch the network in your wallet (the “Switch network” button asks it for you), then try again.`);
  e.code = 'WRONG_CHAIN';
  e.have = Number(have);
  e.want = Number(want);
  return e;
}

// The chain the wallet is on now (a number), or null without a wallet.
export async function walletChainId() {
  if (!hasWallet()) return null;
  try {
    return Number(BigInt(await window.ethereum.request({ method: 'eth_chainId' })));
  } catch { return null; }
}

// Asks the wallet to switch to chain `id` (EIP-3326). The page re-renders on chainChanged.
export async function switchNetwork(id) {
  if (!hasWallet()) throw new Error('No Ethereum wallet was found in this browser.');
  try {
    await window.ethereum.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${Number(id).toString(16)}` }] });
  } catch (e) {
    if (e?.code === 4902) throw new Error(`Your wallet does not know chain ${id}. Add that network in your wallet (ask the operator for its RPC address), then try again.`);
    throw walletError(e);
  }
}

// Offers the token to the wallet's asset list (EIP-747); resolves to whether the user added it.
export async function watchToken({ address, symbol, decimals }) {
  if (!hasWallet()) throw new Error('No Ethereum wallet was found in this browser. Install a wallet extension (for example MetaMask), then reload this page.');
  try {
    return !!(await window.ethereum.request({
      method: 'wallet_watchAsset',
      params: { type: 'ERC20', options: { address, symbol: String(symbol).slice(0, 11), decimals } },
    }));
  } catch (e) { throw walletError(e); }
}

// Calls onAccounts(accounts) and onChain(chainIdNumber) when the wallet reports a change.
export function onWalletChange({ onAccounts, onChain }) {
  if (!hasWallet() || typeof window.ethereum.on !== 'function') return;
  if (onAccounts) window.ethereum.on('accountsChanged', (a) => onAccounts(Array.isArray(a) ? a : []));
  if (onChain) window.ethereum.on('chainChanged', (c) => { try { onChain(Number(BigInt(c))); } catch { onChain(null); } });
}

// Reads what the contract already paid and the token balance, through the wallet's node.
export async function onChainBalances(address) {
  const p = provider();
  const info = await checkChain(p);
  const rewards = new Contract(info.contracts.rewards, REWARDS_ABI, p);
  const tokenAddr = info.contracts.token ?? await rewards.token();
  const token = new Contract(tokenAddr, TOKEN_ABI, p);
  const [claimed, balance] = await Promise.all([rewards.claimed(address), token.balanceOf(address)]);
  return { claimed: claimed.toString(), balance: balance.toString(), token: tokenAddr };
}

// claim(account, cumulativeAmount, proof) from the wallet; reports progress through onStep.
export async function claimOnChain(claim, onStep) {
  const p = provider();
  const info = await checkChain(p);
  const s = await p.getSigner();
  const rewards = new Contract(info.contracts.rewards, REWARDS_ABI, s);
  onStep({ step: 'wallet', text: 'Confirm the claim transaction in your wallet…' });
  let tx;
  try {
    tx = await rewards.claim(claim.address, claim.cumulative_amount, claim.proof);
  } catch (e) { throw walletError(e); }
  onStep({ step: 'sent', text: `Transaction sent: ${tx.hash}. Waiting for it to be mined…`, hash: tx.hash });
  let receipt;
  try {
    receipt = await tx.wait();
  } catch (e) { throw walletError(e); }
  if (!receipt || receipt.status !== 1) throw new Error(`The claim transaction ${tx.hash} failed on chain.`);
  onStep({ step: 'mined', text: `Confirmed in block ${receipt.blockNumber}.`, hash: tx.hash, block: receipt.blockNumber });
  return receipt;
}

// Sends one transaction through the wallet and waits for it to be mined, reporting progress
// as {step, text, hash?, block?}; `what` names it in words ("approval", "deposit").
async function sendAndWait(what, send, onStep) {
  onStep({ step: 'wallet', what, text: `Confirm the ${what} transaction in your wallet…` });
  let tx;
  try {
    tx = await send();
  } catch (e) { throw walletError(e); }
  onStep({ step: 'sent', what, text: `${what[0].toUpperCase()}${what.slice(1)} transaction sent: ${tx.hash}. Waiting for it to be mined…`, hash: tx.hash });
  let receipt;
  try {
    receipt = await tx.wait();
  } catch (e) { throw walletError(e); }
  if (!receipt || receipt.status !== 1) throw new Error(`The ${what} transaction ${tx.hash} failed on chain; nothing was moved.`);
  onStep({ step: 'mined', what, text: `${what[0].toUpperCase()}${what.slice(1)} confirmed in block ${receipt.blockNumber}.`, hash: tx.hash, block: receipt.blockNumber });
  return receipt;
}

// Deposits `amount` base units (a bigint) into the rewards contract from the signed-in wallet:
// ERC-20 approve(rewards, amount) when the allowance falls short, then deposit(amount). The
// server credits the researcher's available balance from the confirmed Deposited event.
export async function depositOnChain(amount, onStep) {
  const p = provider();
  const info = await checkChain(p);
  const s = await signer();
  const me = getAddress(await s.getAddress());
  if (session.address && me !== getAddress(session.address)) {
    throw new Error(`Your wallet's active account is ${me}, but you signed in as ${session.address}. Switch accounts in the wallet or sign in again.`);
  }
  const rewards = new Contract(info.contracts.rewards, REWARDS_ABI, s);
  const tokenAddr = info.contracts.token ?? await rewards.token();
  const token = new Contract(tokenAddr, TOKEN_ABI, s);
  const [balance, allowance] = await Promise.all([token.balanceOf(me), token.allowance(me, info.contracts.rewards)]);
  if (balance < amount) throw new Error('Your wallet does not hold that many tokens; nothing was sent.');
  if (allowance < amount) {
    await sendAndWait('approval', () => token.approve(info.contracts.rewards, amount), onStep);
  } else {
    onStep({ step: 'skip', what: 'approval', text: 'The rewards contract is already approved for this amount; no approval needed.' });
  }
  try {
    return await sendAndWait('deposit', () => rewards.deposit(amount), onStep);
  } catch (e) {
    if (allowance >= amount) throw e;
    throw new Error(`${e.message.replace(/ Nothing was signed or sent\.$/, '')} The approval went through but no tokens were deposited; press Deposit again and only the deposit is asked for.`);
  }
}

export async function lookupTransaction(hash) {
  const p = provider();
  const [tx, receipt] = await Promise.all([p.getTransaction(hash), p.getTransactionReceipt(hash)]);
  return { tx, receipt };
}
