// Cohort's web app: a hash router over views, the header (navigation that folds behind a Menu
// button on phones, the account pill, sign out) with the wallet session, page titles, focus
// on each new page, and the reactions to the wallet switching account or chain.
import { h, clear, go } from './util.js';
import { api } from './api.js';
import { session } from './session.js';
import { signIn, signOut, signOutEverywhere, hasWallet, onWalletChange } from './wallet.js';
import { accountPill } from './ui/pill.js';
import { setTitle, titleVersion } from './ui/page.js';
import { tokenInfo } from './ui/amount.js';
import * as pub from './views/public.js';
import * as con from './views/contributor.js';
import * as res from './views/researcher.js';
import * as money from './views/money.js';
import * as start from './views/start.js';

const routes = [
  [/^\/?$/, pub.home],
  [/^\/requests$/, pub.browse],
  [/^\/requests\/(0x[0-9a-f]{64})$/, pub.request],
  [/^\/ledger$/, pub.ledger],
  [/^\/anchors$/, pub.anchors],
  [/^\/tx\/(0x[0-9a-fA-F]{64})$/, pub.transaction],
  [/^\/start$/, start.start],
  [/^\/welcome$/, start.welcome, true],
  [/^\/balance$/, money.balance, true],
  [/^\/profile$/, con.profile, true],
  [/^\/inbox$/, con.inbox, true],
  [/^\/new$/, res.compose, true],
  [/^\/mine$/, res.mine, true],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
const actions = document.getElementById('session-actions');
const menu = document.getElementById('menu');
const toggle = document.getElementById('menu-toggle');
const notice = document.getElementById('session-notice');

// ---- the menu: always shown on wide screens, folded behind "Menu" on phones ---------------
function setMenu(open) {
  toggle.setAttribute('aria-expanded', String(open));
  menu.classList.toggle('open', open);
}
toggle.addEventListener('click', () => {
  const open = toggle.getAttribute('aria-expanded') !== 'true';
  setMenu(open);
  if (open) menu.querySelector('a, button')?.focus();
});
menu.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && toggle.getAttribute('aria-expanded') === 'true' && getComputedStyle(toggle).display !== 'none') {
    setMenu(false);
    toggle.focus();
  }
});
menu.addEventListener('click', (ev) => { if (ev.target.closest('a')) setMenu(false); });
// The skip link moves focus to the content (its #main would otherwise be read as a route).
document.querySelector('a.skip')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  (main.querySelector('h1') ?? main).focus();
});

function link(path, text) {
  const current = (location.hash.slice(1) || '/') === path;
  return h('a', { href: `#${path}`, 'aria-current': current ? 'page' : null }, text);
}

function renderNav() {
  const items = [link('/requests', 'Requests'), link('/ledger', 'Ledger'), link('/anchors', 'Anchors')];
  if (session.token) {
    if (session.is('contributor')) items.push(link('/inbox', 'Inbox'));
    if (session.is('researcher')) items.push(link('/new', 'New request'), link('/mine', 'My requests'), link('/start', 'Get started'));
    items.push(link('/balance', 'Balance'), link('/profile', 'Profile'));
  } else items.push(link('/start', 'For researchers'));
  clear(nav, h('ul', items.map((a) => h('li', a))));
}

function showNotice(text) {
  notice.textContent = text ?? '';
  notice.hidden = !text;
}

function renderAccount() {
  if (!session.token) {
    clear(actions);
    const msg = h('p.msg', { role: 'status' });
    const btn = h('button.primary#signin', {
      type: 'button',
      onclick: async () => {
        btn.disabled = true;
        msg.classList.remove('error');
        try {
          const data = await signIn((t) => { msg.textContent = t; });
          session.notice = null;
          showNotice('');
          // The profile first, so a first sign-in goes to the role question before the
          // header shows the account (and before anything the user clicks next).
          msg.textContent = 'Loading your profile…';
          const profile = await api('GET', '/v1/me/profile', { auth: false, headers: { Authorization: `Bearer ${data.token}` } }).catch(() => null);
          msg.textContent = '';
          const first = profile && start.needsRole(profile);
          if (first) location.hash = '/welcome';
          session.profile = profile;
          session.set(data);
          if (!first) render();
        } catch (e) {
          msg.classList.add('error');
          msg.setAttribute('role', 'alert');
          msg.textContent = e.message;
        } finally { btn.disabled = false; }
      },
    }, hasWallet()
      // Phones show "Sign in"; the accessible name stays the whole phrase.
      ? [h('span.long', 'Connect wallet and sign in'), h('span.short', { 'aria-hidden': 'true' }, 'Sign in')]
      : 'Sign in with a wallet');
    clear(account, btn, msg);
    showNotice(session.notice);
    return;
  }
  const roles = !session.roles.length || (session.profile && start.needsRole(session.profile)) ? 'no role yet' : session.roles.join(' and ');
  clear(account,
    h('div.who',
      h('span.visually-hidden', 'Signed in as '),
      accountPill(session.address),
      h('code#did.visually-hidden', session.did),
      h('span.role#role', roles)));
  clear(actions,
    h('button#signout', { type: 'button', onclick: async () => { await signOut(); go('/'); } }, 'Sign out'),
    h('button#signout-all', {
      type: 'button',
      title: 'Ends every session of this account, on every device and browser',
      onclick: async (ev) => {
        const btn = ev.currentTarget;
        btn.disabled = true;
        try {
          await signOutEverywhere();
          session.notice = 'Signed out everywhere: every session of this account, on every device, has ended.';
          go('/');
          renderAccount();
        } catch (e) {
          btn.disabled = false;
          if (!session.token) { go('/'); renderAccount(); return; }
          showNotice(`Signing out everywhere failed, you are still signed in: ${e.message}`);
        }
      },
    }, 'Sign out everywhere'));
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
  const titled = titleVersion();
  let view = null, args = [];
  for (const [re, fn, needsAuth] of routes) {
    const m = path.match(re);
    if (m) {
      if (needsAuth && !session.token) {
        view = () => [h('h1', 'Sign in first'), h('p', 'This page shows your own account. Use “Connect wallet and sign in” at the top; your wallet signs a one-time message, no transaction and no fee.')];
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
  // Every route has a title: the view's own (setTitle during its render) or its heading.
  if (titleVersion() === titled) setTitle(path === '/' ? '' : h1?.textContent?.trim());
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

// The wallet switched account: this session belongs to the old one, so it ends (politely,
// with a notice); a chain switch re-renders the page so it shows the new chain's state.
onWalletChange({
  onAccounts: async (accounts) => {
    if (!session.token) return;
    const now = accounts[0]?.toLowerCase();
    if (now && now === session.address?.toLowerCase()) return;
    const was = session.address;
    await signOut();
    session.notice = now
      ? `Your wallet switched to another account (${now.slice(0, 6)}…${now.slice(-4)}), so you were signed out of ${was}. Sign in again to continue with the new account.`
      : 'Your wallet disconnected this site, so you were signed out. Sign in again to continue.';
    renderAccount();
    render();
  },
  onChain: () => { render(); },
});

(async () => {
  tokenInfo();
  try { await loadProfile(); } catch { /* shown by the views */ }
  render();
})();
