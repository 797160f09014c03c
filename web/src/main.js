// Cohort's web app: a hash router over views, the header with the wallet session, and the
// shared error/progress reporting. Every view talks only to the public v1 API.
import { h, clear, go } from './util.js';
import { api } from './api.js';
import { session } from './session.js';
import { signIn, signOut, hasWallet } from './wallet.js';
import * as pub from './views/public.js';
import * as con from './views/contributor.js';
import * as res from './views/researcher.js';
import * as money from './views/money.js';

const routes = [
  [/^\/?$/, pub.home],
  [/^\/requests$/, pub.browse],
  [/^\/requests\/(0x[0-9a-f]{64})$/, pub.request],
  [/^\/ledger$/, pub.ledger],
  [/^\/anchors$/, pub.anchors],
  [/^\/tx\/(0x[0-9a-fA-F]{64})$/, pub.transaction],
  [/^\/balance$/, money.balance, true],
  [/^\/profile$/, con.profile, true],
  [/^\/inbox$/, con.inbox, true],
  [/^\/new$/, res.compose, true],
  [/^\/mine$/, res.mine, true],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const account = document.getElementById('account');


function link(path, text) {
  const current = (location.hash.slice(1) || '/') === path;
  return h('a', { href: `#${path}`, 'aria-current': current ? 'page' : null }, text);
}

function renderNav() {
  const items = [link('/requests', 'Requests'), link('/ledger', 'Ledger'), link('/anchors', 'Anchors')];
  if (session.token) {
    if (session.is('contributor')) items.push(link('/inbox', 'Inbox'));
    if (session.is('researcher')) items.push(link('/new', 'New request'), link('/mine', 'My requests'));
    items.push(link('/balance', 'Balance'), link('/profile', 'Profile'));
  }
  clear(nav, h('ul', items.map((a) => h('li', a))));
}

function renderAccount() {
  if (!session.token) {
    const msg = h('p.msg', { role: 'status' });
    const btn = h('button.primary#signin', {
      type: 'button',
      onclick: async () => {
        btn.disabled = true;
        msg.classList.remove('error');
        try {
          const data = await signIn((t) => { msg.textContent = t; });
          session.set(data);
          await loadProfile();
          msg.textContent = '';
          render();
        } catch (e) {
          msg.classList.add('error');
          msg.setAttribute('role', 'alert');
          msg.textContent = e.message;
        } finally { btn.disabled = false; }
      },
    }, hasWallet() ? 'Connect wallet and sign in' : 'Sign in with a wallet');
    clear(account, btn, session.notice ? h('p.msg', session.notice) : null, msg);
    return;
  }
  const roles = session.roles.length ? session.roles.join(' and ') : 'no role yet';
  clear(account,
    h('div.who',
      h('span.did', { title: session.did }, h('span.visually-hidden', 'Signed in as '), h('code#did', session.did)),
      h('span.role#role', { 'aria-label': `Role: ${roles}` }, roles)),
    h('button#signout', { type: 'button', onclick: async () => { await signOut(); go('/'); } }, 'Sign out'));
}

async function loadProfile() {
  if (!session.token) return;
  try {
    session.setProfile(await api('GET', '/v1/me/profile'));
  } catch (e) {
    if (e.status !== 401) throw e;
  }
}

let renderSeq = 0;
export async function render() {
  const seq = ++renderSeq;
  const path = location.hash.slice(1) || '/';
  renderNav();
  renderAccount();
  let view = null, args = [];
  for (const [re, fn, needsAuth] of routes) {
    const m = path.match(re);
    if (m) {
      if (needsAuth && !session.token) {
        view = () => [h('h1', 'Sign in first'), h('p', 'This page shows your own account. Use “Connect wallet and sign in” above; your wallet signs a one-time message, no transaction and no fee.')];
      } else view = fn;
      args = m.slice(1);
      break;
    }
  }
  view ??= () => [h('h1', 'Page not found'), h('p', 'There is nothing at this address. ', h('a', { href: '#/' }, 'Go to the start page.'))];
  const box = h('div.view');
  clear(main, h('p.loading', { role: 'status' }, 'Loading…'));
  try {
    const content = await view(box, ...args);
    if (seq !== renderSeq) return;
    if (content) clear(box, content);
    clear(main, box);
  } catch (e) {
    if (seq !== renderSeq) return;
    clear(main, h('h1', 'Something went wrong'), h('p.error', { role: 'alert' }, e.message));
  }
  const h1 = main.querySelector('h1');
  if (h1 && document.activeElement?.closest?.('#main') === null) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  }
}

session.on(() => { renderNav(); renderAccount(); });
window.addEventListener('hashchange', render);
window.addEventListener('unhandledrejection', (ev) => {
  const box = document.getElementById('global-error');
  box.textContent = ev.reason?.message ?? String(ev.reason);
  box.hidden = false;
});

(async () => {
  try { await loadProfile(); } catch { /* shown by the views */ }
  render();
})();
