// Shared by the researcher's browser tests (web-market, web-invite, web-journey-researcher):
// the request composer's steps, and contributors who take part through the API so a request
// reaches its minimum and k.
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { signIn, consent, contribute } from './market-helpers.mjs';

// Next, and waiting until a step, named by its heading, is the one shown.
export function composerSteps(p) {
  const page = p.page ?? p;
  return {
    next: () => page.getByRole('button', { name: 'Next' }).click(),
    at: (heading) => page.locator('#compose-form section.step:not([hidden]) h2', { hasText: heading }).waitFor(),
  };
}

// n fresh wallets sharing fitness data for academic research (with the profile attributes
// given) consent to req and contribute recordFor(i).
export async function apiContributors(base, n, req, recordFor, attributes) {
  for (let i = 0; i < n; i++) {
    const w = Wallet.createRandom();
    const token = await signIn(base, w);
    const profile = { categories: ['fitness'], purposes: ['academic-research'], ...(attributes ? { attributes } : {}) };
    const r = await api(base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: profile } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await consent(base, w, token, req.id)).status, 201);
    const c = await contribute(base, token, req, recordFor(i));
    assert.equal(c.status, 201, JSON.stringify(c.body));
  }
}
