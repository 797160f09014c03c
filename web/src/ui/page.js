// Page furniture: the document title, the stepper that shows a multi-step action (approve,
// deposit, confirm, credited) with each step's state, and a spinner.

let version = 0;
export function setTitle(text) {
  document.title = text ? `${text} · Cohort` : 'Cohort';
  version++;
}
// Bumped by every setTitle: the router titles a page from its h1 unless the view set one.
export const titleVersion = () => version;

export function spinner(label = 'Working') {
  const el = document.createElement('span');
  el.className = 'spinner';
  el.setAttribute('aria-hidden', 'true');
  el.title = label;
  return el;
}

const STATE_WORDS = { todo: 'to do', active: 'in progress', done: 'done', failed: 'failed', skipped: 'skipped' };

// stepper([{label, detail?}] or ['Approve', 'Deposit', …]) -> {el, set(i, state, detail, link), reset()}.
// States: todo, active, done, failed (and skipped). A link is {href, text} or an href string.
// The list is a polite live region so each change is announced.
export function stepper(steps) {
  const el = document.createElement('ol');
  el.className = 'stepper';
  el.setAttribute('aria-live', 'polite');
  const items = steps.map((s) => {
    const step = typeof s === 'string' ? { label: s } : s;
    const li = document.createElement('li');
    li.className = 'step';
    li.dataset.state = 'todo';
    const head = document.createElement('span');
    head.className = 'step-label';
    head.textContent = step.label;
    const state = document.createElement('span');
    state.className = 'visually-hidden step-state';
    state.textContent = `: ${STATE_WORDS.todo}`;
    const detail = document.createElement('p');
    detail.className = 'step-detail';
    if (step.detail) detail.textContent = step.detail;
    else detail.hidden = true;
    li.append(head, state, detail);
    el.append(li);
    return { li, state, detail, label: step.label };
  });
  function set(i, st, detailText, link) {
    const it = items[i];
    if (!it) return;
    it.li.dataset.state = st;
    it.state.textContent = `: ${STATE_WORDS[st] ?? st}`;
    if (st === 'active') it.li.setAttribute('aria-current', 'step');
    else it.li.removeAttribute('aria-current');
    it.li.querySelector('.spinner')?.remove();
    if (st === 'active') it.li.insertBefore(spinner(), it.li.firstChild);
    if (detailText !== undefined || link) {
      it.detail.replaceChildren();
      if (detailText) it.detail.append(detailText);
      if (link) {
        const l = typeof link === 'string' ? { href: link, text: 'View the transaction' } : link;
        const a = document.createElement('a');
        a.href = l.href;
        a.textContent = l.text ?? 'View the transaction';
        if (detailText) it.detail.append(' ');
        it.detail.append(a);
      }
      it.detail.hidden = !it.detail.childNodes.length;
    }
  }
  function reset() {
    items.forEach((_, i) => set(i, 'todo', ''));
  }
  return { el, set, reset, get states() { return items.map((it) => it.li.dataset.state); } };
}
