// The user's EIP-1193 wallet (window.ethereum, as MetaMask and others inject it), through
// ethers' BrowserProvider: Sign-In with Ethereum, EIP-712 consents, and the on-chain claim.
import { BrowserProvider, Contract, getAddress } from 'ethers';
import { SiweMessage } from 'siwe';
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

function walletError(e) {
  const code = e?.info?.error?.code ?? e?.error?.code ?? e?.code;
  if (code === 4001 || code === 'ACTION_REJECTED') return new Error('You declined the request in your wallet. Nothing was signed or sent.');
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

// Signs the typed data exactly as the API published it (eth_signTypedData_v4), so the wallet
// shows the request id, fields hash, purpose, reward and expiry readably.
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

const REWARDS_ABI = [
  'function claim(address account, uint256 cumulativeAmount, bytes32[] proof)',
  'function claimed(address account) view returns (uint256)',
  'function token() view returns (address)',
];
const TOKEN_ABI = [
  'function balanceOf(address) view returns (uint256)',
  'function symbol() view returns (string)',
];

async function checkChain(p) {
  const info = await chain();
  const net = await p.getNetwork();
  if (Number(net.chainId) !== Number(info.chain_id)) {
    throw new Error(`Your wallet is on chain ${net.chainId}, but Cohort's contract is on chain ${info.chain_id}. Switch networks in your wallet and try again.`);
  }
  if (!info.contracts?.rewards) throw new Error('This Cohort server has no rewards contract configured yet, so nothing can be claimed on chain.');
  return info;
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

export async function lookupTransaction(hash) {
  const p = provider();
  const [tx, receipt] = await Promise.all([p.getTransaction(hash), p.getTransactionReceipt(hash)]);
  return { tx, receipt };
}
