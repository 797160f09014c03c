// Inline form errors: the field is marked (aria-invalid), the message sits right under it and
// is linked by aria-describedby; a problem+json from the API is mapped to the field its detail
// names ("privacy.queries[5] must be …") and rewritten in plain words. A problem that names no
// field is shown at the top of the form as an alert.

// Known server phrases (src/market, src/http) in plain words. First match wins; $1… are the
// regex groups. Unknown details fall back to the server's own words.
const PLAIN = [
  [/decimal string of a uint256 amount in\s+base units/i, 'Write an amount like 12.5.'],
  [/positive integer of token base units/i, 'Write an amount more than zero, like 12.5.'],
  [/Insufficient funds|insufficient available balance/i, 'Your available balance is too small for this. Deposit more on the Balance page first.'],
  [/must be an integer from (\d+) to (\d+)/i, 'Write a whole number from $1 to $2.'],
  [/must be an integer (?:of at least|>=) (\d+)/i, 'Write a whole number of at least $1.'],
  [/must be an integer <= (\d+)/i, 'Write a whole number of at most $1.'],
  [/must be at least ([\d.]+), the operator's floor/i, 'This server requires at least $1 here.'],
  [/must be at most ([\d.]+), the operator's floor/i, 'This server allows at most $1 here.'],
  [/min_contributors must be at least privacy\.k/i, 'The minimum number of contributors must be at least k (the group size).'],
  [/min_contributors must be at least (\d+) for a dp request/i, 'A differential-privacy request needs at least $1 contributors.'],
  [/closes_at must be in the future/i, 'Pick a closing date in the future.'],
  [/closes_at must be within a year/i, 'Pick a closing date within a year from now.'],
  [/must be an RFC 3339 date-time/i, 'Pick a date and time.'],
  [/epsilon must be a decimal > 0 with at most 6 decimals/i, 'Write ε as a number above zero with at most 6 decimals, like 0.5.'],
  [/delta must be a decimal >= 0 with at most 6 decimals/i, 'Write δ as a small number with at most 6 decimals, like 0.00001.'],
  [/queries\[\d+\] must be count, sum/i, 'This statistic is not one Cohort can compute: use count, or sum, mean, variance or quantiles of a number field.'],
  [/queries\[\d+\]: quantiles must be in \(0,1\)/i, 'Quantiles are fractions between 0 and 1, like 0.5 for the median.'],
  [/queries must be an array of 1 to (\d+)/i, 'Ask for 1 to $1 statistics.'],
  [/must be an? (?:Ethereum )?address|is not a valid address/i, 'Write an address: 0x followed by 40 hexadecimal digits.'],
  [/must be a lowercase slug/i, 'Use lowercase letters, digits, “-” and “_” only.'],
  [/must be a non-empty array/i, 'Choose at least one.'],
  [/must be at most (\d+) bytes|string of at most (\d+) bytes/i, 'This is too long: at most $1$2 characters.'],
  [/is not a valid value|not among the declared categories/i, 'Pick one of the listed values.'],
  [/is not a known attribute/i, 'Cohort does not know this attribute.'],
  [/must be (?:a )?(?:decimal )?fraction from 0 to 0?\.5/i, 'Write a fraction from 0 to 0.5, like 0.05.'],
  [/mechanism must be laplace or gaussian/i, 'Pick Laplace or Gaussian noise.'],
];

// The plain-words message for a server detail (the detail itself when no phrase is known).
export function plainWords(detail) {
  const d = String(detail ?? '');
  for (const [re, words] of PLAIN) {
    const m = d.match(re);
    if (m) return words.replace(/\$(\d)/g, (_, n) => m[Number(n)] ?? '');
  }
  return d;
}

let seq = 0;
function errorId(input) {
  if (!input.id) input.id = `fe-${++seq}`;
  return `${input.id}-error`;
}

// Marks the field and puts the message right under it; an empty message clears it. Returns
// the message element.
export function fieldError(input, message) {
  const id = errorId(input);
  let el = document.getElementById(id);
  const described = (input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((x) => x && x !== id);
  if (!message) {
    el?.remove();
    input.removeAttribute('aria-invalid');
    if (described.length) input.setAttribute('aria-describedby', described.join(' '));
    else input.removeAttribute('aria-describedby');
    return null;
  }
  if (!el) {
    el = document.createElement('p');
    el.className = 'field-error';
    el.id = id;
    // Under the control itself; a group (fieldset) gets it as its last child.
    if (input.tagName === 'FIELDSET') input.append(el);
    else input.after(el);
  }
  el.textContent = message;
  if (input.tagName !== 'FIELDSET') input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', [id, ...described].join(' '));
  return el;
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) {
    const input = form.querySelector(`[aria-describedby~="${el.id}"]`);
    if (input) fieldError(input, '');
    else el.remove();
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  form.querySelector(':scope > .form-problem')?.remove();
}

// The member paths a detail names: "privacy.queries[5] must …", "'consent_profile.min_k' must …".
function memberPaths(detail) {
  return String(detail ?? '').match(/[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*|\[\d+\])*/gi) ?? [];
}

function matchField(problem, fields) {
  const keys = Object.keys(fields ?? {}).sort((a, b) => b.length - a.length);
  const paths = [problem.member, problem.pointer?.replace(/^\//, '').replace(/\//g, '.'), ...memberPaths(problem.detail)].filter(Boolean);
  for (const p of paths) {
    for (const k of keys) {
      if (p === k || p.startsWith(`${k}.`) || p.startsWith(`${k}[`)) {
        const f = fields[k];
        return typeof f === 'function' ? f(p) : f;
      }
    }
  }
  return null;
}

// Shows an API problem (the RFC 9457 body, or an ApiError carrying it) on the form: at the
// field its detail names, in plain words; otherwise at the top of the form as an alert.
// Returns {input, message}; the input (or the form's alert) is focused.
export function showProblem(form, problem, fields = {}) {
  const p = problem?.problem ?? problem ?? {};
  const detail = p.detail ?? p.title ?? problem?.message ?? 'Something went wrong.';
  const message = plainWords(detail);
  const input = matchField({ ...p, detail }, fields);
  if (input) {
    fieldError(input, message);
    input.focus?.();
    return { input, message };
  }
  let box = form.querySelector(':scope > .form-problem');
  if (!box) {
    box = document.createElement('p');
    box.className = 'form-problem error';
    box.setAttribute('role', 'alert');
    box.tabIndex = -1;
    form.prepend(box);
  }
  box.textContent = p.title && message !== p.title && !message.startsWith(p.title) && message === detail ? `${p.title}: ${message}` : message;
  box.focus({ preventScroll: false });
  return { input: null, message };
}
