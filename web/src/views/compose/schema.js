// The composer's schema editor: one fieldset per field, numbered by position from 1 on every
// visit (ids come from a counter of this editor, never a module-wide one), min/max only for
// numeric fields, categories only for category fields.
import { h, field } from '../../util.js';
import { Invalid } from './invalid.js';

const TYPES = [['integer', 'whole number'], ['decimal', 'decimal number'], ['category', 'category (one of a list)']];
const ROLES = [['quasi-identifier', 'quasi-identifier (coarsened)'], ['sensitive', 'sensitive'], ['measure', 'measure (DP only)']];

export const DEFAULT_FIELDS = [
  { name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' },
  { name: 'steps', type: 'integer', unit: 'steps/day', min: 0, max: 60000, role: 'quasi-identifier' },
  { name: 'distance_km', type: 'decimal', unit: 'km/day', min: '0', max: '200', decimals: 2, role: 'quasi-identifier' },
];

// schemaEditor(fields) -> {el, rows(), read(), inputs(i)}: read() returns the schema fields or
// throws Invalid (invalid.js) on the first input a person must fix.
export function schemaEditor(initial = DEFAULT_FIELDS) {
  let seq = 0;
  const box = h('div#schema-fields');
  const renumber = () => [...box.children].forEach((row, i) => {
    row.querySelector('legend').textContent = `Field ${i + 1}`;
    row.querySelector('.remove-field').setAttribute('aria-label', `Remove field ${i + 1}`);
  });
  function row(f = {}) {
    const n = ++seq;
    const id = (s) => `sf-${n}-${s}`;
    const opt = ([v, t], cur) => h('option', { value: v, selected: cur === v }, t);
    const type = h('select', { id: id('type'), name: 'type' }, TYPES.map((t) => opt(t, f.type ?? 'integer')));
    const el = h('fieldset.schema-field', { dataset: { n } },
      h('legend', 'Field'),
      h('div.row',
        field('Name', h('input', { id: id('name'), name: 'name', type: 'text', value: f.name ?? '', autocomplete: 'off', spellcheck: 'false' }), 'Lowercase letters, digits and _, starting with a letter.'),
        field('Type', type),
        field('Role', h('select', { id: id('role'), name: 'role' }, ROLES.map((r) => opt(r, f.role ?? 'quasi-identifier')))),
        field('Unit', h('input', { id: id('unit'), name: 'unit', type: 'text', value: f.unit ?? '', maxlength: 32 }))),
      h('div.row.numeric',
        field('Minimum', h('input', { id: id('min'), name: 'min', type: 'text', inputmode: 'decimal', value: f.min ?? '' })),
        field('Maximum', h('input', { id: id('max'), name: 'max', type: 'text', inputmode: 'decimal', value: f.max ?? '' })),
        h('div.field.decimals', h('label', { for: id('decimals') }, 'Decimals'), h('input', { id: id('decimals'), name: 'decimals', type: 'number', min: 0, max: 9, value: f.decimals ?? '' }))),
      h('div.row.categorical', field('Categories (comma-separated)', h('input', { id: id('categories'), name: 'categories', type: 'text', value: (f.categories ?? []).join(', ') }))),
      h('button.small.danger.remove-field', { type: 'button', onclick: () => { el.remove(); renumber(); } }, 'Remove field'));
    const sync = () => {
      el.querySelector('.numeric').hidden = type.value === 'category';
      el.querySelector('.categorical').hidden = type.value !== 'category';
      el.querySelector('.decimals').hidden = type.value !== 'decimal';
    };
    type.addEventListener('change', sync);
    sync();
    return el;
  }
  box.append(...initial.map((f) => row(f)));
  renumber();
  const add = h('button#add-field', { type: 'button', onclick: () => { const r = row({}); box.append(r); renumber(); r.querySelector('[name=name]').focus(); } }, 'Add a field');

  function read() {
    const rows = [...box.children];
    if (!rows.length) throw new Invalid(add, 'Add at least one field.');
    const seen = new Set();
    return rows.map((el) => {
      const inp = (n) => el.querySelector(`[name=${n}]`);
      const v = (n) => inp(n).value.trim();
      const f = { name: v('name'), type: v('type'), role: v('role') };
      if (!/^[a-z][a-z0-9_]{0,39}$/.test(f.name)) throw new Invalid(inp('name'), 'Start with a lowercase letter and use only a–z, 0–9 and _ (at most 40).');
      if (seen.has(f.name)) throw new Invalid(inp('name'), `Another field is already called “${f.name}”.`);
      seen.add(f.name);
      if (v('unit')) f.unit = v('unit');
      if (f.type === 'category') {
        f.categories = v('categories').split(',').map((s) => s.trim()).filter(Boolean);
        if (f.categories.length < 2) throw new Invalid(inp('categories'), 'List at least two categories, separated by commas.');
        return f;
      }
      const num = f.type === 'integer' ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
      const what = f.type === 'integer' ? 'a whole number' : 'a number';
      for (const k of ['min', 'max']) {
        if (!num.test(v(k))) throw new Invalid(inp(k), `Give the ${k === 'min' ? 'smallest' : 'largest'} value as ${what}.`);
      }
      if (Number(v('min')) >= Number(v('max'))) throw new Invalid(inp('max'), 'The maximum must be larger than the minimum.');
      f.min = f.type === 'integer' ? Number(v('min')) : v('min');
      f.max = f.type === 'integer' ? Number(v('max')) : v('max');
      if (f.type === 'decimal' && v('decimals') !== '') f.decimals = Number(v('decimals'));
      return f;
    });
  }
  // The inputs of field i (0-based) by member name, for server problems naming schema.fields[i].
  const inputs = (i) => {
    const el = box.children[i];
    if (!el) return {};
    return Object.fromEntries(['name', 'type', 'role', 'unit', 'min', 'max', 'decimals', 'categories'].map((n) => [n, el.querySelector(`[name=${n}]`)]));
  };
  return { el: h('div', box, add), box, add, read, inputs };
}
