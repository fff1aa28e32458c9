#!/usr/bin/env node
// Browser end-to-end tests of the demo editor (demo/) and the SDK (src/)
// against a real `flowsync serve`, in headless Debian Chromium:
//
//   1. two windows on one workflow converge after edits in both
//   2. a window goes offline, edits, reloads while offline (the SDK restores
//      the document and outbox from IndexedDB), goes online: nothing is lost
//   3. cursors, selection and roster of one window appear in the other
//   4. a read-only user's edits are refused by the server and rolled back
//   5. the application's backend (admin API) edits, announces and deletes:
//      the canvas shows the edit, banners show the events
//   6. Alice deletes a block offline while Bob types into it; Ctrl+Z in
//      Alice's window brings it back in both with Bob's words; Ctrl+Y and
//      Shift+Ctrl+Z redo
//   7. the React demo (demo/react/, on the SDK's React bindings) in two
//      windows: edits, presence badges and roster, rows re-rendered only for
//      their own block (react.mjs)
//
// Screenshots of every step go to test-results/ (with the server logs).
//
//   node e2e/run.mjs                 all tests
//   node e2e/run.mjs offline roster  the tests whose names contain these words
//
// Environment: FLOWSYNC_E2E_BIN (use this server binary instead of building
// one), FLOWSYNC_E2E_CHROMIUM (browser path, default /usr/bin/chromium),
// FLOWSYNC_E2E_HEADFUL=1 (show the browser).
//
// Needs: Go (builds ./cmd/flowsync), the committed demo build in
// sync/server/web (npm run build), and Chromium (installed with
// apt-get when missing).

import { mkdtemp, rm, readdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  buildServer,
  canonical,
  ensureChromium,
  ensureResultsDir,
  log,
  mintToken,
  newSecret,
  resultsDir,
  startServer,
  waitFor,
  writeSecretFile,
} from './harness.mjs';
import { testReactDemo } from './react.mjs';

const AUDIENCE = 'flowsync-e2e';
const VIEWPORT = { width: 1280, height: 800 };

let shotCount = 0;
/** the windows of the running test; the runner closes them after it */
let openWindows = [];

/** One browser window (its own context: its own IndexedDB, so its own replica) on the demo page. */
class Win {
  constructor(label, context, page) {
    this.label = label;
    this.context = context;
    this.page = page;
    this.pageErrors = [];
    this.console = [];
    page.on('pageerror', (err) => this.pageErrors.push(err.stack || String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') this.console.push(`${msg.type()}: ${msg.text()}`);
    });
  }

  static async open(browser, label, base, query, path = '/demo/') {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    const w = new Win(label, context, page);
    openWindows.push(w);
    w.url = `${base}${path}?${query}`;
    await page.goto(w.url);
    await w.waitReady();
    return w;
  }

  async waitReady() {
    await waitFor(
      async () => {
        const s = await this.page.evaluate(() => document.body.dataset.ready);
        if (s === 'failed') throw new Error(`${this.label}: the editor failed to start: ${await this.bannerText()}`);
        return s === 'true';
      },
      { what: `${this.label}: editor ready`, describe: () => this.bannerText() },
    );
  }

  view() {
    return this.page.evaluate(() => window.__flowsync.view());
  }

  status() {
    return this.page.evaluate(() => {
      const s = window.__flowsync.client.status();
      return { state: s.state, pending: s.pending, unacked: s.unacked, label: s.label };
    });
  }

  /** waitStatus waits until pred(status) holds and returns that status. */
  async waitStatus(pred, what) {
    return waitFor(async () => {
      const s = await this.status();
      return pred(s) ? s : null;
    }, {
      what: `${this.label}: ${what}`,
      describe: async () => JSON.stringify(await this.status()),
    });
  }

  waitSaved() {
    return this.waitStatus((s) => s.label === 'saved' && s.pending === 0, 'status "saved" (everything durable)');
  }

  async bannerText() {
    return this.page.evaluate(() => window.__flowsync?.banners().join(' | ') ?? document.querySelector('#banners')?.textContent ?? '');
  }

  /** waitView waits until pred(view) holds and returns that view. */
  async waitView(pred, what) {
    return waitFor(async () => {
      const v = await this.view();
      return pred(v) ? v : null;
    }, {
      what: `${this.label}: ${what}`,
      describe: async () => JSON.stringify(summary(await this.view())),
    });
  }

  block(id) {
    return this.page.locator(`[data-testid="block"][data-block-id="${id}"]`);
  }

  async shot(name) {
    shotCount++;
    const file = join(resultsDir, `${String(shotCount).padStart(2, '0')}-${name}-${this.label}.png`);
    await this.page.screenshot({ path: file, fullPage: false });
    return file;
  }

  /** addBlock clicks "Add block" and returns the new block's id (the editor selects the block it adds). */
  async addBlock() {
    const before = new Set(Object.keys((await this.view()).blocks));
    await this.page.getByTestId('add-block').click();
    const id = await waitFor(
      () => this.page.evaluate((before) => {
        const el = document.querySelector('[data-testid="block"].selected');
        return el && !before.includes(el.dataset.blockId) ? el.dataset.blockId : null;
      }, [...before]),
      { what: `${this.label}: a new, selected block after "Add block"`, describe: () => this.bannerText() },
    );
    await this.waitView((v) => v.blocks[id], `block ${id} in the view`);
    return id;
  }

  async center(locator) {
    const box = await locator.boundingBox();
    if (!box) throw new Error(`${this.label}: ${locator} is not visible`);
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  }

  /** dragBlock drags a block by its title by (dx, dy); whileHeld runs with the mouse still down. */
  async dragBlock(id, dx, dy, whileHeld) {
    const head = this.block(id).getByTestId('block-head');
    const box = await head.boundingBox();
    const from = { x: box.x + 30, y: box.y + box.height / 2 };
    const m = this.page.mouse;
    await m.move(from.x, from.y);
    await m.down();
    await m.move(from.x + dx / 2, from.y + dy / 2, { steps: 8 });
    await m.move(from.x + dx, from.y + dy, { steps: 8 });
    try {
      if (whileHeld) await whileHeld();
    } finally {
      await m.up();
    }
  }

  /** connect drags from source's source handle to target's target handle. */
  async connect(source, target) {
    const from = await this.center(this.block(source).getByTestId('handle-source'));
    const to = await this.center(this.block(target).getByTestId('handle-target'));
    const m = this.page.mouse;
    await m.move(from.x, from.y);
    await m.down();
    await m.move((from.x + to.x) / 2, (from.y + to.y) / 2 + 20, { steps: 6 });
    await m.move(to.x, to.y, { steps: 6 });
    await m.up();
  }

  /** type types text at the end of a block's prompt, one input event per character. */
  async type(id, text) {
    const box = this.block(id).getByTestId('block-prompt');
    await box.click();
    await this.page.keyboard.press('Control+End'); // the end of the text, not of a wrapped line
    await box.pressSequentially(text);
  }

  /** clickEdge clicks the middle of an edge's curve. */
  async clickEdge(id) {
    const p = await this.page.evaluate((edgeId) => {
      const path = document.querySelector(`[data-testid="edge"][data-edge-id="${edgeId}"] .edge-line`);
      if (!path) return null;
      const mid = path.getPointAtLength(path.getTotalLength() / 2);
      const m = path.getScreenCTM();
      return { x: mid.x * m.a + mid.y * m.c + m.e, y: mid.x * m.b + mid.y * m.d + m.f };
    }, id);
    if (!p) throw new Error(`${this.label}: edge ${id} is not rendered`);
    await this.page.mouse.click(p.x, p.y);
  }

  /** storedOutbox counts the SDK's IndexedDB outbox entries of a workflow (src/persist/indexeddb.ts). */
  storedOutbox(user, wf) {
    return this.page.evaluate(async ({ db, wf }) => {
      const conn = await new Promise((res, rej) => {
        const r = indexedDB.open(db);
        // Never create the database here: that would hide it from the SDK's upgrade.
        r.onupgradeneeded = () => r.transaction.abort();
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      try {
        const tx = conn.transaction('outbox', 'readonly');
        const range = IDBKeyRange.bound([wf], [wf, []]);
        return await new Promise((res, rej) => {
          const r = tx.objectStore('outbox').count(range);
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
      } finally {
        conn.close();
      }
    }, { db: `flowsync-demo:${user}`, wf });
  }

  /** rendered reads what the page shows: blocks (position, name, prompt) and edges. */
  rendered() {
    return this.page.evaluate(() => {
      const blocks = {};
      for (const el of document.querySelectorAll('[data-testid="block"]')) {
        blocks[el.dataset.blockId] = {
          name: el.querySelector('[data-testid="block-name"]').textContent,
          x: Number(el.dataset.x),
          y: Number(el.dataset.y),
          prompt: el.querySelector('[data-testid="block-prompt"]').value,
        };
      }
      const edges = [...document.querySelectorAll('[data-testid="edge"]')]
        .map((g) => `${g.dataset.edgeId}:${g.dataset.source}->${g.dataset.target}`)
        .sort();
      return { blocks, edges };
    });
  }

  async close() {
    await this.context.close().catch(() => {});
  }
}

/** summary is a short form of a view for failure messages. */
function summary(v) {
  if (!v) return v;
  return {
    blocks: Object.fromEntries(
      Object.values(v.blocks ?? {}).map((b) => [b.id, { name: b.name, pos: b.position, prompt: b.subBlocks?.prompt?.value }]),
    ),
    edges: (v.edges ?? []).map((e) => `${e.id}:${e.source}->${e.target}`),
  };
}

const prompt = (v, id) => v.blocks[id]?.subBlocks?.prompt?.value ?? '';

/** converge waits until every window holds the same view and renders the same thing, and returns the view. */
async function converge(wins, what, pred = () => true) {
  let last = [];
  await waitFor(
    async () => {
      last = await Promise.all(wins.map((w) => w.view()));
      const c = last.map(canonical);
      return c.every((x) => x === c[0]) && pred(last[0]);
    },
    {
      timeout: 20_000,
      what: `${wins.map((w) => w.label).join(' and ')} to converge: ${what}`,
      describe: () => last.map((v, i) => `\n    ${wins[i].label}: ${JSON.stringify(summary(v))}`).join(''),
    },
  );
  let shown = [];
  await waitFor(
    async () => {
      shown = await Promise.all(wins.map((w) => w.rendered()));
      const c = shown.map(canonical);
      return c.every((x) => x === c[0]);
    },
    {
      timeout: 5000,
      what: `${wins.map((w) => w.label).join(' and ')} to render the same canvas`,
      describe: () => shown.map((r, i) => `\n    ${wins[i].label}: ${JSON.stringify(r)}`).join(''),
    },
  );
  const v = last[0];
  const r = shown[0];
  for (const b of Object.values(v.blocks)) {
    const e = r.blocks[b.id];
    if (!e || e.name !== b.name || e.x !== Math.round(b.position.x) || e.y !== Math.round(b.position.y) || e.prompt !== prompt(v, b.id)) {
      throw new Error(`the canvas does not show block ${b.id} as the view has it: view ${JSON.stringify(summary(v))}, canvas ${JSON.stringify(r)}`);
    }
  }
  if (Object.keys(r.blocks).length !== Object.keys(v.blocks).length || r.edges.length !== v.edges.length) {
    throw new Error(`the canvas shows other blocks or edges than the view: view ${JSON.stringify(summary(v))}, canvas ${JSON.stringify(r)}`);
  }
  return v;
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

const rand = () => randomBytes(3).toString('hex');

// --- the tests

async function testConverge({ browser, dev }) {
  const wf = `converge-${rand()}`;
  const A = await Win.open(browser, 'alice', dev.base, `wf=${wf}&user=alice&name=Alice`);
  const B = await Win.open(browser, 'bob', dev.base, `wf=${wf}&user=bob&name=Bob`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  const a1 = await A.addBlock();
  const b1 = await B.addBlock();
  await converge([A, B], 'both new blocks', (v) => v.blocks[a1] && v.blocks[b1]);
  await A.shot('converge-two-blocks');

  // Move a1: B sees live drag frames while the mouse is down, drawn at the
  // dragged position; they are not edits (neither document moves), and the
  // drop is one update-position.
  const start = (await A.view()).blocks[a1].position;
  await A.dragBlock(a1, 40, 220, async () => {
    const shownAt = () => B.block(a1).evaluate((el) => {
      const m = /translate\((-?[\d.]+)px, (-?[\d.]+)px\)/.exec(el.style.transform);
      return { dragging: el.classList.contains('dragging'), x: Number(m?.[1]), y: Number(m?.[2]) };
    });
    await waitFor(async () => {
      const p = await shownAt();
      return p.dragging && p.y >= start.y + 200;
    }, { what: 'bob: alice\'s block drawn at her live drag position', describe: async () => JSON.stringify(await shownAt()) });
    for (const w of [A, B]) {
      const pos = (await w.view()).blocks[a1].position;
      assert(canonical(pos) === canonical(start), `${w.label}'s document moved during the drag (drag frames must not be edits): ${JSON.stringify(pos)}`);
    }
    await B.shot('converge-live-drag');
  });
  const moved = await A.waitView((v) => v.blocks[a1].position.y > start.y + 150, 'the dropped position');

  // Both type at the same time, each in their own block.
  await Promise.all([A.type(a1, 'Hello from Alice'), B.type(b1, 'Hi from Bob')]);
  await A.connect(a1, b1);
  const v = await converge([A, B], 'moved block, two prompts and an edge', (v) =>
    canonical(v.blocks[a1].position) === canonical(moved.blocks[a1].position) &&
    prompt(v, a1) === 'Hello from Alice' && prompt(v, b1) === 'Hi from Bob' &&
    v.edges.length === 1 && v.edges[0].source === a1 && v.edges[0].target === b1);
  await A.shot('converge-edited');
  await B.shot('converge-edited');

  // Both type into the same field at once: the prompt is a text, so both
  // keep their words, each in one piece.
  await Promise.all([A.type(b1, ' + alice'), B.type(b1, ' + bob')]);
  await converge([A, B], 'concurrent typing in one field', (v) => ['Hi from Bob + alice + bob', 'Hi from Bob + bob + alice'].includes(prompt(v, b1)));

  // Bob removes the edge: click it, press Delete.
  await B.clickEdge(v.edges[0].id);
  await waitFor(() => B.page.locator('[data-testid="edge"].selected').count(), { what: 'bob: the edge selected' });
  await B.page.keyboard.press('Delete');
  await converge([A, B], 'the edge removed', (v) => v.edges.length === 0 && Object.keys(v.blocks).length === 2);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  await A.shot('converge-edge-removed');
}

async function testUndo({ browser, dev }) {
  const wf = `undo-${rand()}`;
  const A = await Win.open(browser, 'alice', dev.base, `wf=${wf}&user=alice&name=Alice`);
  const B = await Win.open(browser, 'bob', dev.base, `wf=${wf}&user=bob&name=Bob`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  const a1 = await A.addBlock();
  const b1 = await B.addBlock();
  await converge([A, B], 'two blocks', (v) => v.blocks[a1] && v.blocks[b1]);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  const start = (await A.view()).blocks[a1].position;

  // An add and a delete right after it (well within the SDK's 500 ms
  // grouping window) are two undo steps: Ctrl+Z brings the block back,
  // a second Ctrl+Z removes it. (One step would add and remove the block:
  // it undid to nothing, the flake this test had.)
  const tmp = await A.addBlock();
  await A.page.getByTestId('canvas').focus();
  await A.page.keyboard.press('Delete');
  await A.waitView((v) => !v.blocks[tmp], 'alice: the new block deleted');
  await A.page.keyboard.press('Control+z');
  await converge([A, B], 'the deleted new block back', (v) => v.blocks[tmp]);
  await A.page.keyboard.press('Control+z');
  await converge([A, B], 'the new block removed by undoing its add', (v) => !v.blocks[tmp] && v.blocks[a1] && v.blocks[b1]);
  await Promise.all([A.waitSaved(), B.waitSaved()]);

  // Alice, offline, types into her block and deletes it at once (well
  // within the SDK's 500 ms grouping window: the delete must still be an
  // undo step of its own, not joined to the typing); Bob, who still sees
  // the block, moves it meanwhile.
  await A.page.getByTestId('offline-toggle').check();
  await A.waitStatus((s) => s.state === 'offline', 'offline after the switch');
  await A.type(a1, 'Alice wrote this');
  await A.block(a1).getByTestId('block-head').click();
  await A.page.getByTestId('canvas').focus(); // keys go to the canvas, not the prompt
  await A.page.keyboard.press('Delete');
  await A.waitView((v) => !v.blocks[a1], 'alice: her block deleted');
  await B.dragBlock(a1, 0, 220);
  const moved = await B.waitView((v) => v.blocks[a1]?.position.y > start.y + 150, "bob: alice's block dropped lower");
  await B.waitSaved();
  await A.page.getByTestId('offline-toggle').uncheck();
  await converge([A, B], 'the delete wins over the concurrent move', (v) => !v.blocks[a1] && v.blocks[b1]);
  await A.shot('undo-deleted');
  assert(await A.page.getByTestId('undo').isEnabled(), 'alice: the Undo button is enabled');
  assert(!(await B.page.getByTestId('redo').isEnabled()), 'bob: nothing to redo');

  // Ctrl+Z in Alice's window (not in a text field): the block is back in
  // both windows with her text, where Bob moved it (his concurrent edit is
  // not lost: the later write to a removed block comes back with it).
  const restored = (v) => v.blocks[a1] && prompt(v, a1) === 'Alice wrote this' &&
    canonical(v.blocks[a1].position) === canonical(moved.blocks[a1].position) && v.blocks[b1];
  await A.page.getByTestId('canvas').focus();
  await A.page.keyboard.press('Control+z');
  await converge([A, B], "the block restored with Alice's text at Bob's position", restored);
  await A.shot('undo-restored');
  await B.shot('undo-restored');
  assert(await A.page.getByTestId('redo').isEnabled(), 'alice: the Redo button is enabled after the undo');

  // Ctrl+Y redoes (the delete again), Shift+Ctrl+Z after another Ctrl+Z too.
  await A.page.keyboard.press('Control+y');
  await converge([A, B], 'the delete redone', (v) => !v.blocks[a1] && v.blocks[b1]);
  await A.page.keyboard.press('Control+z');
  await converge([A, B], 'restored again', restored);
  await A.page.keyboard.press('Control+Shift+z');
  await converge([A, B], 'the delete redone by Shift+Ctrl+Z', (v) => !v.blocks[a1] && v.blocks[b1]);
  // Bob's block was never touched by Alice's undos.
  const v = await B.view();
  assert(v.blocks[b1] && Object.keys(v.blocks).length === 1, `bob's block stays: ${JSON.stringify(summary(v))}`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
}

async function testOfflineReload({ browser, dev }) {
  const wf = `offline-${rand()}`;
  const A = await Win.open(browser, 'alice', dev.base, `wf=${wf}&user=alice&name=Alice`);
  const B = await Win.open(browser, 'bob', dev.base, `wf=${wf}&user=bob&name=Bob`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  const a1 = await A.addBlock();
  await converge([A, B], 'alice\'s first block', (v) => v.blocks[a1]);
  await A.waitSaved();

  await A.page.getByTestId('offline-toggle').check();
  await A.waitStatus((s) => s.state === 'offline', 'offline after the switch');
  await A.type(a1, 'typed offline');
  const a2 = await A.addBlock();
  await A.type(a2, 'new offline block');
  // Bob keeps editing online meanwhile.
  const b1 = await B.addBlock();
  await B.type(b1, 'Bob was online');
  await B.waitSaved();
  const st = await A.waitStatus((s) => /^offline \(\d+ pending\)$/.test(s.label) && s.pending > 0, 'status "offline (n pending)"');
  log(`alice before reload: ${st.label}`);
  // The SDK writes each edit to IndexedDB as it is made (document and
  // outbox entry in one transaction). Wait until every pending edit is in
  // the outbox store, so that the reload below tests restoring, not a race
  // with the last write.
  await waitFor(async () => (await A.storedOutbox('alice', wf)) >= st.pending, {
    what: `alice: ${st.pending} outbox entries in IndexedDB`,
    describe: async () => `${await A.storedOutbox('alice', wf)} stored`,
  });
  await A.shot('offline-edits');

  // Reload while offline: the page comes back offline, from IndexedDB.
  await A.page.reload();
  await A.waitReady();
  assert(await A.page.getByTestId('offline-toggle').isChecked(), 'the offline switch survives the reload');
  const after = await A.waitStatus((s) => s.state === 'offline' && s.pending > 0, 'offline with pending edits after the reload');
  log(`alice after reload: ${after.label}`);
  const restored = await A.view();
  assert(restored.blocks[a2] && prompt(restored, a2) === 'new offline block' && prompt(restored, a1) === 'typed offline',
    `the offline edits are restored from IndexedDB: ${JSON.stringify(summary(restored))}`);
  assert(!restored.blocks[b1], 'alice, offline, does not have bob\'s block yet');
  assert(await A.page.getByTestId('roster-empty').isVisible(), 'the roster says alice is not connected');
  await A.shot('offline-reloaded');

  await A.page.getByTestId('offline-toggle').uncheck();
  await A.waitSaved();
  const v = await converge([A, B], 'offline edits and bob\'s online edits', (v) =>
    prompt(v, a1) === 'typed offline' && prompt(v, a2) === 'new offline block' && prompt(v, b1) === 'Bob was online' &&
    Object.keys(v.blocks).length === 3);
  await B.waitSaved();
  log(`converged after reconnect: ${JSON.stringify(summary(v))}`);
  await A.shot('offline-reconnected');
  await B.shot('offline-reconnected');
}

async function testPresence({ browser, dev }) {
  const wf = `presence-${rand()}`;
  const A = await Win.open(browser, 'alice', dev.base, `wf=${wf}&user=alice&name=Alice`);
  const B = await Win.open(browser, 'bob', dev.base, `wf=${wf}&user=bob&name=Bob`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  const names = (w) => w.page.locator('[data-testid="roster-entry"]').allTextContents();
  for (const w of [A, B]) {
    await waitFor(async () => {
      const n = await names(w);
      return n.length === 2 && n.some((s) => s.startsWith('Alice')) && n.some((s) => s.startsWith('Bob'));
    }, { what: `${w.label}: roster of Alice and Bob`, describe: async () => JSON.stringify(await names(w)) });
  }

  const a1 = await A.addBlock(); // also selects it
  await B.waitView((v) => v.blocks[a1], 'alice\'s block');
  await waitFor(() => B.block(a1).evaluate((el) => el.classList.contains('remote-selected')), { what: 'bob: alice\'s selection outlined' });

  const canvas = await A.page.getByTestId('world').boundingBox();
  const cursorOf = (w, uid) => w.page.evaluate((uid) => {
    const el = document.querySelector(`[data-testid="cursor"][data-uid="${uid}"]`);
    if (!el) return null;
    const m = /translate\((-?[\d.]+)px, (-?[\d.]+)px\)/.exec(el.style.transform);
    return { label: el.querySelector('.label').textContent, x: Number(m?.[1]), y: Number(m?.[2]) };
  }, uid);
  for (const [x, y] of [[700, 420], [880, 520]]) {
    await A.page.mouse.move(canvas.x + x, canvas.y + y, { steps: 4 });
    await waitFor(async () => {
      const c = await cursorOf(B, 'alice');
      return c && c.label === 'Alice' && Math.abs(c.x - x) <= 2 && Math.abs(c.y - y) <= 2;
    }, { what: `bob: alice's cursor at (${x}, ${y})`, describe: async () => JSON.stringify(await cursorOf(B, 'alice')) });
  }
  await B.shot('presence-cursor');
  await A.shot('presence-cursor');

  // Pointer off the canvas: the cursor goes away.
  await A.page.mouse.move(5, 5);
  await waitFor(async () => (await cursorOf(B, 'alice')) === null, { what: 'bob: alice\'s cursor gone after she left the canvas' });

  // Bob's window closes: alice's roster drops him.
  await B.close();
  await waitFor(async () => {
    const n = await names(A);
    return n.length === 1 && n[0].startsWith('Alice');
  }, { what: 'alice: roster without bob', describe: async () => JSON.stringify(await names(A)) });
  await A.shot('presence-bob-left');
}

// Issue #17: two people typing into one prompt at the same time both keep
// every character of their words, in runs, and see each other's caret.
async function testTyping({ browser, dev }) {
  const wf = `typing-${rand()}`;
  const A = await Win.open(browser, 'alice', dev.base, `wf=${wf}&user=alice&name=Alice`);
  const B = await Win.open(browser, 'bob', dev.base, `wf=${wf}&user=bob&name=Bob`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
  const a1 = await A.addBlock();
  await B.waitView((v) => v.blocks[a1], 'alice\'s block');
  await A.type(a1, 'Task: ');
  await converge([A, B], 'the start of the prompt', (v) => prompt(v, a1) === 'Task: ');

  const alice = 'alice writes this sentence. ';
  const bob = 'BOB TYPES HERE TOO. ';
  // Both put their caret at the end first, then type at the same time.
  for (const w of [A, B]) {
    await w.block(a1).getByTestId('block-prompt').click();
    await w.page.keyboard.press('Control+End');
  }
  await Promise.all([A.page.keyboard.type(alice), B.page.keyboard.type(bob)]);
  const v = await converge([A, B], 'two people typing into one prompt', (v) => prompt(v, a1).length === 'Task: '.length + alice.length + bob.length);
  const text = prompt(v, a1);
  log(`the prompt after both typed: ${JSON.stringify(text)}`);
  assert(text === 'Task: ' + alice + bob || text === 'Task: ' + bob + alice, `each word run is whole: ${JSON.stringify(text)}`);

  // Each sees the other's caret right after the other's own words.
  const caretOf = (w, uid) => w.block(a1).evaluate((el, uid) => {
    const c = el.querySelector(`[data-testid="remote-caret"][data-uid="${uid}"]`);
    return c ? { at: Number(c.dataset.at), label: c.textContent } : null;
  }, uid);
  const endOf = (word) => text.indexOf(word) + word.length;
  for (const [w, uid, word] of [[A, 'bob', bob], [B, 'alice', alice]]) {
    await waitFor(async () => {
      const c = await caretOf(w, uid);
      return c && c.at === endOf(word);
    }, { what: `${w.label}: ${uid}'s caret after ${uid}'s words (at ${endOf(word)})`, describe: async () => JSON.stringify(await caretOf(w, uid)) });
  }
  await A.shot('typing-one-prompt');
  await B.shot('typing-one-prompt');

  // Bob types in the middle of alice's words while alice keeps typing at
  // her end: his caret and hers stay on their characters.
  const box = B.block(a1).getByTestId('block-prompt');
  await box.click();
  const mid = text.indexOf('this');
  await box.evaluate((el, at) => el.setSelectionRange(at, at), mid);
  await Promise.all([B.page.keyboard.type('(bob) '), A.page.keyboard.type('More.')]);
  const v2 = await converge([A, B], 'typing in the middle and at the end', (v) => prompt(v, a1).length === text.length + '(bob) More.'.length);
  const t2 = prompt(v2, a1);
  // Alice's caret stayed after her words while Bob typed before it.
  assert(t2.includes('alice writes (bob) this sentence. More.'), `both edits whole, each where its author's caret was: ${JSON.stringify(t2)}`);
  await Promise.all([A.waitSaved(), B.waitSaved()]);
}

async function testReadOnly({ browser, jwt }) {
  const wf = `readonly-${rand()}`;
  const writerTok = mintToken(jwt.secret, { sub: 'wendy', name: 'Wendy Writer', roles: { '*': 'write' }, aud: AUDIENCE });
  const readerTok = mintToken(jwt.secret, { sub: 'rita', name: 'Rita Reader', roles: { [wf]: 'read' }, aud: AUDIENCE });
  const W = await Win.open(browser, 'writer', jwt.server.base, `wf=${wf}&token=${writerTok}`);
  await W.waitSaved();
  const w1 = await W.addBlock();
  await W.waitSaved();
  const R = await Win.open(browser, 'reader', jwt.server.base, `wf=${wf}&token=${readerTok}`);
  await waitFor(async () => (await R.page.getByTestId('role').textContent()) === 'read-only', { what: 'reader: role badge "read-only"' });
  assert((await W.page.getByTestId('role').textContent()) === 'write', 'the writer\'s role badge says write');
  await converge([W, R], 'the writer\'s block reaches the reader', (v) => v.blocks[w1] && Object.keys(v.blocks).length === 1);

  // The reader adds a block: shown at once, refused by the server, rolled back.
  await R.page.getByTestId('add-block').click();
  await waitFor(() => R.page.locator('[data-testid="banner"][data-kind="reject"]').isVisible(), {
    what: 'reader: a reject banner', describe: () => R.bannerText(),
  });
  await R.waitView((v) => Object.keys(v.blocks).length === 1 && v.blocks[w1], 'the refused block rolled back');
  await waitFor(async () => (await R.page.locator('[data-testid="block"]').count()) === 1, { what: 'reader: one block on the canvas' });
  await R.waitStatus((s) => s.pending === 0, 'nothing pending after the refusal');
  await R.shot('readonly-add-refused');

  // The reader types into the writer's block: refused and rolled back too.
  const banners = await R.page.locator('[data-testid="banner"][data-kind="reject"]').count();
  await R.type(w1, 'x');
  await waitFor(async () => (await R.page.locator('[data-testid="banner"][data-kind="reject"]').count()) > banners, {
    what: 'reader: a second reject banner', describe: () => R.bannerText(),
  });
  await R.waitView((v) => prompt(v, w1) === '', 'the refused text rolled back');
  await waitFor(() => R.block(w1).getByTestId('block-prompt').evaluate((el) => el.value === ''), { what: 'reader: the prompt box emptied' });
  await R.shot('readonly-typing-refused');

  // The writer never saw any of it, and still edits.
  await W.type(w1, 'only writers write');
  const v = await converge([W, R], 'the writer\'s text', (v) => prompt(v, w1) === 'only writers write' && Object.keys(v.blocks).length === 1);
  assert(Object.keys(v.blocks).length === 1, 'the reader\'s block never reached the writer');
  await W.shot('readonly-writer');
}

async function testServerEvents({ browser, jwt }) {
  const wf = `events-${rand()}`;
  const tok = mintToken(jwt.secret, { sub: 'wendy', name: 'Wendy Writer', roles: { '*': 'write' }, aud: AUDIENCE });
  const W = await Win.open(browser, 'writer', jwt.server.base, `wf=${wf}&token=${tok}`);
  await W.waitSaved();
  const admin = async (method, path, body) => {
    const r = await fetch(`${jwt.server.base}/admin/v1/workflows/${wf}${path}`, {
      method,
      headers: { 'X-Api-Key': jwt.adminSecret, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`admin ${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };

  // An operation from the application's backend (a thin client) shows up on the canvas.
  await admin('POST', '/operations', {
    actor: { userId: 'copilot', name: 'Copilot' },
    operations: [
      { operation: 'add', target: 'block', payload: { id: 'b-api', type: 'agent', name: 'Summarize', position: { x: 600, y: 300 } } },
      { operation: 'subblock-update', target: 'subblock', payload: { blockId: 'b-api', subblockId: 'prompt', value: 'Summarize the input' } },
    ],
  });
  await W.waitView((v) => v.blocks['b-api']?.name === 'Summarize' && prompt(v, 'b-api') === 'Summarize the input', 'the block added through the admin API');
  await waitFor(() => W.block('b-api').getByTestId('block-prompt').evaluate((el) => el.value === 'Summarize the input'), {
    what: 'writer: the admin API\'s block on the canvas',
  });

  const eventBanners = () => W.page.locator('[data-testid="banner"][data-kind="event"]').allTextContents();
  await admin('POST', '/events', { kind: 'deployed', message: 'v7' });
  await waitFor(async () => (await eventBanners()).some((t) => t.includes('deployed')), {
    what: 'writer: a "deployed" banner', describe: async () => JSON.stringify(await eventBanners()),
  });

  await admin('DELETE', '');
  await waitFor(async () => (await eventBanners()).some((t) => t.includes('deleted')), {
    what: 'writer: a "workflow deleted" banner', describe: async () => JSON.stringify(await eventBanners()),
  });
  await W.waitStatus((s) => s.state === 'deleted' && s.pending === 0, 'deleted after the workflow was deleted');
  await W.shot('events-deleted');
}

/** pageErrors lists the uncaught exceptions of the test's windows. */
function pageErrors(wins) {
  return wins.flatMap((w) => w.pageErrors.map((e) => `${w.label}: ${e}`));
}

// Tests run only when named (`node e2e/run.mjs name`), not in the default run.
const BY_NAME_ONLY = [];

const TESTS = [
  ['two windows converge', testConverge],
  ['offline edits survive a reload', testOfflineReload],
  ['cursors and roster', testPresence],
  ['two windows type into one prompt', testTyping],
  ['undo a delete another window edited concurrently', testUndo],
  ['read-only edits are refused and rolled back', testReadOnly],
  ['server events and admin API operations', testServerEvents],
  ['react demo: two windows, edits and presence', (env) => testReactDemo(env, Win)],
];

/** cleanups run last-in first-out at the end, and on SIGINT/SIGTERM: servers and browser never outlive the run. */
const cleanups = [];
async function cleanUp() {
  while (cleanups.length > 0) {
    const f = cleanups.pop();
    await f().catch((err) => log(`cleanup: ${err.message}`));
  }
}

/** runTest runs one test; on failure it screenshots every window and prints their console. */
async function runTest(name, fn, env) {
  log(`RUN  ${name}`);
  const started = Date.now();
  const secs = () => ((Date.now() - started) / 1000).toFixed(1);
  openWindows = [];
  let error = null;
  try {
    await fn(env);
    const errs = pageErrors(openWindows);
    if (errs.length > 0) throw new Error(`uncaught errors in the page:\n  ${errs.join('\n  ')}`);
  } catch (err) {
    error = err;
  }
  if (error && interrupted) {
    log(`STOP ${name} (interrupted)`);
  } else if (error) {
    log(`FAIL ${name} (${secs()} s)\n  ${String(error.stack || error).replace(/\n/g, '\n  ')}`);
    for (const w of openWindows) {
      if (!w.page.isClosed()) {
        const file = await w.shot(`FAILED-${name.replace(/\W+/g, '-')}`).catch(() => null);
        if (file) log(`  screenshot of ${w.label}: ${file}`);
      }
      const lines = [...w.pageErrors.map((e) => `pageerror: ${e}`), ...w.console];
      if (lines.length > 0) log(`  ${w.label}'s console:\n    ${lines.join('\n    ')}`);
    }
  } else {
    log(`PASS ${name} (${secs()} s)`);
  }
  await Promise.all(openWindows.map((w) => w.close()));
  openWindows = [];
  return error === null;
}

async function main() {
  const filters = process.argv.slice(2).map((s) => s.toLowerCase());
  const pool = filters.length === 0 ? TESTS : [...TESTS, ...BY_NAME_ONLY];
  const selected = pool.filter(([name]) => filters.length === 0 || filters.some((f) => name.toLowerCase().includes(f)));
  if (selected.length === 0) {
    console.error(`no test matches ${filters.join(' ')}; tests: ${TESTS.map(([n]) => n).join('; ')}`);
    return 2;
  }
  await ensureResultsDir();
  for (const f of await readdir(resultsDir)) if (f.endsWith('.png') || f.endsWith('.log')) await unlink(join(resultsDir, f));
  const tmp = await mkdtemp(join(tmpdir(), 'flowsync-e2e-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  let passed = 0;
  try {
    ensureChromium();
    const bin = buildServer(tmp);
    const secret = newSecret();
    const secretFile = await writeSecretFile(tmp, 'jwt.secret', secret);
    const adminSecret = newSecret();
    const adminFile = await writeSecretFile(tmp, 'admin.secret', adminSecret);
    const dev = await startServer(bin, 'dev', ['--dev', '--data-dir', join(tmp, 'dev')]);
    cleanups.push(() => dev.stop());
    const jwtServer = await startServer(bin, 'jwt', [
      '--jwt-secret-file', secretFile, '--jwt-audience', AUDIENCE, '--admin-secret-file', adminFile, '--data-dir', join(tmp, 'jwt'),
    ]);
    cleanups.push(() => jwtServer.stop());
    for (const s of [dev, jwtServer]) {
      for (const page of ['/demo/', '/demo/react/']) {
        const r = await fetch(`${s.base}${page}`);
        if (r.status !== 200) {
          throw new Error(`GET ${s.base}${page} answered ${r.status}: this server does not serve the demo (is RegisterWeb wired into server.go, and --demo on?)`);
        }
      }
    }
    log(`launching ${CHROMIUM}`);
    const headful = Boolean(process.env.FLOWSYNC_E2E_HEADFUL);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS.filter((a) => !(headful && a === '--headless')),
      headless: !headful,
    });
    cleanups.push(() => browser.close());
    log(`browser ${browser.version()}`);
    const env = { browser, dev, jwt: { server: jwtServer, secret, adminSecret } };
    for (const [name, fn] of selected) {
      if (interrupted) break;
      if (await runTest(name, fn, env)) passed++;
    }
  } catch (err) {
    if (!interrupted) log(`FAIL setup: ${err.stack || err}`);
  } finally {
    await cleanUp();
  }
  if (interrupted) return 130;
  const ok = passed === selected.length;
  log(`${ok ? 'ok' : 'FAILED'}: ${passed} of ${selected.length} tests passed; screenshots and server logs in ${resultsDir}`);
  return ok ? 0 : 1;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    interrupted = true;
    log(`${sig}: stopping the servers and the browser`);
    cleanUp().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(err);
    await cleanUp();
    process.exit(1);
  },
);
