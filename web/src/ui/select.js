// A searchable list for coded fields (countries, categories): an ARIA combobox whose list
// filters as you type (by label or code), usable by keyboard (↑ ↓ Enter Escape). Typing the
// full name ("Germany") or the code ("DE") selects that option; anything else is refused with
// a field error, never mapped to a near match.
import { fieldError } from './form.js';

let seq = 0;
const norm = (s) => String(s ?? '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').trim().toLowerCase();

// searchableSelect({label, options: [{value, label}], multiple, value, hint, id, placeholder})
// -> a div.field with: .input (the text box), .value (a code or '' ; for multiple, an array),
// .setValue(v), .validate() (marks the field and throws an Error in words when the text is not
// an option; returns the value). It dispatches 'change' when the value changes.
export function searchableSelect({ label, options, multiple = false, value, hint, id, placeholder }) {
  const n = ++seq;
  const baseId = id ?? `ssel-${n}`;
  const opts = options.map((o) => (typeof o === 'string' ? { value: o, label: o } : o));
  const byValue = new Map(opts.map((o) => [o.value, o]));
  const root = document.createElement('div');
  root.className = 'field ssel';
  const lab = document.createElement('label');
  lab.htmlFor = baseId;
  lab.id = `${baseId}-label`;
  lab.textContent = label;
  const input = document.createElement('input');
  input.id = baseId;
  input.type = 'text';
  input.autocomplete = 'off';
  input.spellcheck = false;
  if (placeholder) input.placeholder = placeholder;
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  const list = document.createElement('ul');
  list.id = `${baseId}-list`;
  list.className = 'ssel-list';
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-labelledby', lab.id);
  list.hidden = true;
  input.setAttribute('aria-controls', list.id);
  const chips = document.createElement('ul');
  chips.className = 'ssel-chips';
  chips.setAttribute('aria-label', `${label}: chosen`);
  const wrap = document.createElement('div');
  wrap.className = 'ssel-box';
  wrap.append(input, list);
  root.append(lab);
  if (hint) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.id = `${baseId}-hint`;
    p.textContent = hint;
    input.setAttribute('aria-describedby', p.id);
    root.append(p);
  }
  if (multiple) root.append(chips);
  root.append(wrap);

  let chosen = multiple ? [] : '';
  let shown = [];
  let active = -1;

  const find = (text) => {
    const t = norm(text);
    if (!t) return null;
    return opts.find((o) => norm(o.label) === t) ?? opts.find((o) => norm(o.value) === t) ?? null;
  };
  const changed = () => root.dispatchEvent(new Event('change', { bubbles: true }));

  function drawChips() {
    chips.replaceChildren(...chosen.map((v) => {
      const o = byValue.get(v);
      const li = document.createElement('li');
      li.className = 'pill';
      li.append(o ? o.label : v);
      const x = document.createElement('button');
      x.type = 'button';
      x.className = 'small chip-remove';
      x.textContent = '×';
      x.setAttribute('aria-label', `Remove ${o ? o.label : v}`);
      x.addEventListener('click', () => { chosen = chosen.filter((c) => c !== v); drawChips(); changed(); input.focus(); });
      li.append(x);
      return li;
    }));
    chips.hidden = chosen.length === 0;
  }

  function open() {
    const t = norm(input.value);
    shown = opts.filter((o) => !t || norm(o.label).includes(t) || norm(o.value) === t || norm(o.value).startsWith(t))
      .filter((o) => !multiple || !chosen.includes(o.value)).slice(0, 50);
    active = shown.length ? 0 : -1;
    list.replaceChildren(...shown.map((o, i) => {
      const li = document.createElement('li');
      li.id = `${baseId}-opt-${i}`;
      li.setAttribute('role', 'option');
      li.dataset.value = o.value;
      li.textContent = o.label === o.value ? o.label : `${o.label} (${o.value})`;
      li.addEventListener('mousedown', (ev) => { ev.preventDefault(); pick(o); });
      return li;
    }));
    list.hidden = shown.length === 0;
    input.setAttribute('aria-expanded', String(!list.hidden));
    mark();
  }
  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }
  function mark() {
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
    if (active >= 0) {
      input.setAttribute('aria-activedescendant', `${baseId}-opt-${active}`);
      list.children[active]?.scrollIntoView?.({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  }
  function pick(o) {
    fieldError(input, '');
    if (multiple) {
      if (!chosen.includes(o.value)) chosen = [...chosen, o.value];
      input.value = '';
      drawChips();
    } else {
      chosen = o.value;
      input.value = o.label;
    }
    close();
    changed();
  }

  input.addEventListener('input', () => {
    if (!multiple && chosen) { chosen = ''; changed(); }
    open();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      if (list.hidden) open(); else { active = Math.min(active + 1, shown.length - 1); mark(); }
    } else if (ev.key === 'ArrowUp') {
      ev.preventDefault();
      active = Math.max(active - 1, 0); mark();
    } else if (ev.key === 'Enter') {
      if (!list.hidden && active >= 0) { ev.preventDefault(); pick(shown[active]); return; }
      const o = find(input.value);
      if (o) { ev.preventDefault(); pick(o); }
    } else if (ev.key === 'Escape') {
      if (!list.hidden) { ev.preventDefault(); close(); }
    }
  });
  input.addEventListener('blur', () => {
    close();
    if (!input.value.trim()) return;
    const o = find(input.value);
    if (o) pick(o);
    else refuse();
  });

  function refuse() {
    const msg = `“${input.value.trim()}” is not in the list. Type a few letters and pick one of the suggestions.`;
    fieldError(input, msg);
    return msg;
  }

  root.input = input;
  Object.defineProperty(root, 'value', {
    get: () => (multiple ? [...chosen] : chosen),
    set: (v) => root.setValue(v),
  });
  root.setValue = (v) => {
    if (multiple) chosen = (v ?? []).filter((x) => byValue.has(x));
    else {
      chosen = byValue.has(v) ? v : '';
      input.value = chosen ? byValue.get(chosen).label : '';
    }
    if (multiple) drawChips();
  };
  // The value, or an Error in words (the field marked) when the typed text is not an option.
  root.validate = () => {
    const text = input.value.trim();
    if (text) {
      const o = find(text);
      if (!o) throw new Error(refuse());
      if (multiple || chosen !== o.value) pick(o);
    }
    return root.value;
  };
  if (value !== undefined) root.setValue(value);
  else if (multiple) drawChips();
  return root;
}
