// Keyboard use of the list and panels: arrow keys move through the object
// list (a virtualised listbox) and the tabs, Home/End jump, Escape closes
// the detail panel and leaves a tool. Focus stays visible (app.css).

const ROW = 28; // px, as in panels.js and app.css

export function installKeyboard({ list, select }) {
  const box = document.getElementById('list');
  box.addEventListener('keydown', (ev) => {
    const row = ev.target.closest('.row');
    const n = list.rows.length;
    if (!n) return;
    let i = row ? list.rows.findIndex((o) => o.uid === row.dataset.uid) : -1;
    if (ev.key === 'ArrowDown') i = Math.min(n - 1, i + 1);
    else if (ev.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (ev.key === 'Home') i = 0;
    else if (ev.key === 'End') i = n - 1;
    else return;
    ev.preventDefault();
    const top = i * ROW;
    if (top < box.scrollTop) box.scrollTop = top;
    else if (top + ROW > box.scrollTop + box.clientHeight) box.scrollTop = top + ROW - box.clientHeight;
    list.paint();
    const uid = list.rows[i].uid;
    const target = [...box.querySelectorAll('.row')].find((r) => r.dataset.uid === uid);
    target?.focus();
  });
  // The list box itself is reachable with Tab even when empty.
  if (!box.hasAttribute('tabindex')) box.tabIndex = -1;

  const tabs = [...document.querySelectorAll('[role=tab]')];
  for (const t of tabs) {
    t.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      const shown = tabs.filter((x) => !x.hidden);
      const k = shown.indexOf(t);
      const next = shown[(k + (ev.key === 'ArrowRight' ? 1 : shown.length - 1)) % shown.length];
      next.focus();
      next.click();
      ev.preventDefault();
    });
  }

  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    const detail = document.getElementById('detail');
    if (!detail.hidden) {
      select(null);
      box.querySelector('.row.selected')?.focus();
    }
  });
}
