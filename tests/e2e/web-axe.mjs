// Accessibility and layout checks shared by the browser tests: axe-core (pinned in
// package.json) injected into the page, reporting violations of impact serious or critical,
// and the "no sideways scroll" check for phone widths.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

const AXE = join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');

// Runs axe on the page as it is; returns the serious/critical violations as
// [{id, impact, help, nodes: [selector…]}] (the tests assert the list is empty). `name`
// labels the page in the log when something is found.
export async function axeCheck(page, name = page.url()) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: AXE });
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
      .filter((el) => el.getBoundingClientRect().right > vw + 1)
      .slice(0, 8)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (right ${Math.round(el.getBoundingClientRect().right)})`);
    return { vw, sw, wide };
  });
  assert.ok(r.sw <= r.vw, `${name} scrolls sideways at ${r.vw} px: content is ${r.sw} px wide; widest: ${r.wide.join(', ')}`);
  return r;
}
