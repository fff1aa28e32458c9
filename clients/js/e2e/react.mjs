// The browser end-to-end test of the React demo (demo/react/, served at
// /demo/react/), run by run.mjs: two windows on one workflow, built with the
// SDK's React bindings, against a real server. Edits in one window show in
// the other, the roster and the "who is editing which block" badges follow
// presence, a rename of one block does not re-render the other block's row,
// both windows end with the same view, everything durable, and an edit made
// offline is counted by the status indicator and sent when back online.

import { randomBytes } from 'node:crypto';
import { canonical, waitFor } from './harness.mjs';

const REACT_PAGE = '/demo/react/';

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** row returns a block's row in a window's list. */
const row = (w, id) => w.page.locator(`[data-testid="block-row"][data-block-id="${id}"]`);

/** rowState reads what a window's list shows for a block (null when it has no row). */
function rowState(w, id) {
  return w.page.evaluate((id) => {
    const el = document.querySelector(`[data-testid="block-row"][data-block-id="${id}"]`);
    if (!el) return null;
    return {
      name: el.querySelector('[data-testid="row-name"]').textContent,
      prompt: el.querySelector('[data-testid="row-prompt"]').textContent,
      editors: [...el.querySelectorAll('[data-testid="row-editor"]')].map((e) => e.textContent),
      renders: Number(el.dataset.renders),
    };
  }, id);
}

/** waitRow waits until pred holds for a block's row in w and returns the row's state. */
function waitRow(w, id, pred, what) {
  return waitFor(async () => {
    const r = await rowState(w, id);
    return r && pred(r) ? r : null;
  }, { what: `${w.label}: block ${id}: ${what}`, describe: async () => JSON.stringify(await rowState(w, id)) });
}

/** addBlock clicks "Add block" and returns the new block's id (the page opens it in the editor). */
async function addBlock(w, before) {
  await w.page.getByTestId('add-block').click();
  return waitFor(
    () => w.page.evaluate((before) => {
      const id = document.querySelector('[data-testid="block-editor"]')?.dataset.blockId;
      return id && !before.includes(id) ? id : null;
    }, before),
    { what: `${w.label}: the new block in the editor`, describe: () => w.bannerText() },
  );
}

export async function testReactDemo({ browser, dev }, Win) {
  const wf = `react-${randomBytes(3).toString('hex')}`;
  const A = await Win.open(browser, 'alice', dev.base, `wf=${wf}&user=alice&name=Alice`, REACT_PAGE);
  const B = await Win.open(browser, 'bob', dev.base, `wf=${wf}&user=bob&name=Bob`, REACT_PAGE);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  for (const w of [A, B]) {
    assert((await w.page.getByTestId('status').textContent()) === 'saved', `${w.label}: the status shows "saved"`);
  }

  // Presence: each roster lists both.
  const names = (w) => w.page.locator('[data-testid="roster-entry"]').allTextContents();
  for (const w of [A, B]) {
    await waitFor(async () => {
      const n = await names(w);
      return n.length === 2 && n.some((s) => s.startsWith('Alice')) && n.some((s) => s.startsWith('Bob'));
    }, { what: `${w.label}: roster of Alice and Bob`, describe: async () => JSON.stringify(await names(w)) });
  }

  // Alice adds a block and types its prompt; Bob's list shows both.
  const a1 = await addBlock(A, []);
  await waitRow(B, a1, (r) => r.name === 'Agent 1', 'alice\'s block in bob\'s list');
  await A.page.getByTestId('editor-prompt').pressSequentially('summarize the ticket');
  await waitRow(B, a1, (r) => r.prompt === 'summarize the ticket', 'alice\'s prompt');
  // Alice has the block open in her editor: Bob's row shows her on it.
  await waitRow(B, a1, (r) => r.editors.join() === 'Alice', 'alice shown as editing it');

  // Bob adds a second block and renames it; Alice sees it, and her row of
  // the first block is not re-rendered by edits of the second.
  const b1 = await addBlock(B, [a1]);
  await waitRow(A, b1, (r) => r.name === 'Agent 2', 'bob\'s block in alice\'s list');
  await waitRow(A, b1, (r) => r.editors.join() === 'Bob', 'bob shown as editing his block');
  const before = await rowState(A, a1);
  const name = B.page.getByTestId('editor-name');
  await name.fill('Reviewer');
  await name.press('Enter');
  await waitRow(A, b1, (r) => r.name === 'Reviewer', 'bob\'s rename');
  await B.page.getByTestId('editor-prompt').pressSequentially('check the summary');
  await waitRow(A, b1, (r) => r.prompt === 'check the summary', 'bob\'s prompt');
  const after = await rowState(A, a1);
  assert(after.renders === before.renders, `alice's row of ${a1} re-rendered for edits of ${b1} (${before.renders} → ${after.renders} renders)`);
  await A.shot('react-two-windows');
  await B.shot('react-two-windows');

  // Bob picks Alice's block: both of them are on it in Alice's list.
  await row(B, a1).click();
  await waitRow(A, a1, (r) => r.editors.join() === 'Bob', 'bob shown on alice\'s block in her own list');
  await waitFor(async () => (await B.page.getByTestId('editor-prompt').inputValue()) === 'summarize the ticket', {
    what: 'bob: alice\'s block in his editor',
  });

  // Both windows hold the same view, everything durable.
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  let views = [];
  await waitFor(async () => {
    views = await Promise.all([A.view(), B.view()]);
    return canonical(views[0]) === canonical(views[1]);
  }, { what: 'alice and bob to converge', describe: () => JSON.stringify(views.map((v) => Object.keys(v.blocks))) });
  const v = views[0];
  assert(Object.keys(v.blocks).sort().join() === [a1, b1].sort().join(), `the view holds the two blocks: ${Object.keys(v.blocks)}`);
  assert(v.blocks[b1].name === 'Reviewer' && v.blocks[a1].subBlocks.prompt.value === 'summarize the ticket', 'the view holds the edits');

  // Alice goes offline and edits: her indicator counts the pending edit,
  // Bob's roster loses her; back online, Bob gets the edit.
  await A.page.getByTestId('offline-toggle').check();
  await A.waitStatus((s) => s.state === 'offline', 'offline');
  // Her block is still open in her editor (clicking its row would close it).
  assert(await A.page.evaluate(() => document.querySelector('[data-testid="block-editor"]')?.dataset.blockId) === a1, `alice's editor shows ${a1}`);
  await A.page.getByTestId('editor-prompt').pressSequentially(' offline');
  // One outbox entry per keystroke: " offline" is 8.
  await waitFor(async () => (await A.page.getByTestId('status').textContent()) === 'offline (8 pending)', {
    what: 'alice: the indicator counts the pending edits',
    describe: () => A.page.getByTestId('status').textContent(),
  });
  await waitFor(async () => (await names(B)).length === 1, { what: 'bob: roster without alice while she is offline' });
  await A.page.getByTestId('offline-toggle').uncheck();
  await waitRow(B, a1, (r) => r.prompt === 'summarize the ticket offline', 'alice\'s offline edit after she is back');
  await A.waitSaved();

  // Bob's window closes: Alice's roster drops him, and the badges go.
  await B.close();
  await waitFor(async () => {
    const n = await names(A);
    return n.length === 1 && n[0].startsWith('Alice');
  }, { what: 'alice: roster without bob', describe: async () => JSON.stringify(await names(A)) });
  await waitRow(A, a1, (r) => r.editors.length === 0, 'bob\'s badge gone');
}
