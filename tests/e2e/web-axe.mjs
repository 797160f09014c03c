// Accessibility and layout checks shared by the browser tests: axe-core (pinned in
// package.json) injected into the page, reporting violations of impact serious or critical,
// and the "no sideways scroll" check for phone widths.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

const AXE = join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');
let source;

// Runs axe on the page as it is; returns the serious/critical violations as
// [{id, impact, help, nodes: [selector…]}] (the tests assert the list is empty). `name`
// labels the page in the log when something is found.
export async function axeCheck(page, name = page.url()) {
  // Evaluated through the DevTools protocol: the app's Content-Security-Policy forbids inline
  // scripts, so a <script> tag would be refused.
  source ??= readFileSync(AXE, 'utf8');
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(`${source}\n;true`);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, ' ').slice(0, 200)})` : ''}`),
    }));
  });
  const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) console.error(`axe on ${name}:\n${bad.map((v) => `  ${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.slice(0, 5).join('\n    ')}`).join('\n')}`);
  return bad;
}

// Asserts the page does not scroll sideways at its current width; names the widest elements
// when it does.
export async function noSideScroll(page, name = page.url()) {
  const r = await page.evaluate(() => {
    const vw = window.innerWidth;
    const sw = document.documentElement.scrollWidth;
    const wide = sw <= vw ? [] : [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > vw + 1 || (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible' && el.getBoundingClientRect().left + el.scrollWidth > vw + 1))
      .slice(0, 8)
      .map((el) => `${[...(function* up(e) { for (let x = e.parentElement; x && x !== document.body; x = x.parentElement) yield x; })(el)].slice(0, 3).reverse().map((x) => `${x.tagName.toLowerCase()}${x.id ? `#${x.id}` : ''}`).join(' > ')} > ${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (right ${Math.round(el.getBoundingClientRect().right)}, content ${Math.round(el.getBoundingClientRect().left + el.scrollWidth)})`);
    return { vw, sw, wide };
  });
  assert.ok(r.sw <= r.vw, `${name} scrolls sideways at ${r.vw} px: content is ${r.sw} px wide; widest: ${r.wide.join(', ')}`);
  return r;
}
