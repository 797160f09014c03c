// Copying: an element with data-copy puts that text on the clipboard instead of what it shows,
// so a rounded amount ("≈ 181 COH") or a short address ("0x1234…abcd") copies exactly
// ("181.000000000000000001", the full address). One document listener serves every element.
let installed = false;

export function installCopy() {
  if (installed || typeof document === 'undefined') return;
  installed = true;
  document.addEventListener('copy', (ev) => {
    const sel = document.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return;
    const range = sel.getRangeAt(0);
    const anc = range.commonAncestorContainer;
    const inside = (anc.nodeType === 1 ? anc : anc.parentElement)?.closest?.('[data-copy]');
    let text;
    if (inside) {
      text = inside.dataset.copy;
    } else {
      const frag = range.cloneContents();
      const items = frag.querySelectorAll('[data-copy]');
      if (!items.length) return;
      for (const el of items) el.replaceWith(el.dataset.copy);
      const box = document.createElement('div');
      box.append(frag);
      text = box.textContent;
    }
    ev.clipboardData.setData('text/plain', text);
    ev.preventDefault();
  });
}
