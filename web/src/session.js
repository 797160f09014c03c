// The signed-in session: bearer token, address, DID and profile, kept in sessionStorage so a
// reload keeps the user signed in while the tab lives.
const KEY = 'cohort.session';
const listeners = new Set();

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) ?? null; } catch { return null; }
}

export const session = {
  data: load(),
  profile: null,
  get token() { return this.data?.token ?? null; },
  get address() { return this.data?.address ?? null; },
  get did() { return this.data?.did ?? null; },
  get roles() { return this.profile?.roles ?? []; },
  is(role) { return this.roles.includes(role); },
  set(data) {
    this.data = data;
    if (data) sessionStorage.setItem(KEY, JSON.stringify(data));
    else sessionStorage.removeItem(KEY);
    if (!data) this.profile = null;
    this.emit();
  },
  setProfile(p) { this.profile = p; this.emit(); },
  expired() {
    this.set(null);
    this.notice = 'Your session ended. Sign in again to continue.';
    this.emit();
  },
  on(fn) { listeners.add(fn); },
  emit() { for (const fn of listeners) fn(this); },
};
