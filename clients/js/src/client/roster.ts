// The room's roster as last received, and the translation of the wire's
// roster and presence records into the shapes the app sees.

import type { PresenceUpdate as WirePresenceUpdate, RosterEntry as WireRosterEntry, Selection } from '../protocol';
import { fromWireCaret } from './caret';
import type { PresenceCaret, PresenceSelection, PresenceUpdate, RosterEntry } from './events';

function fromWireSelection(s: Selection | undefined): PresenceSelection | undefined {
  if (!s) return undefined;
  return s.id !== undefined ? { t: s.type, id: s.id } : { t: s.type };
}

function fromWireRoster(es: WireRosterEntry[]): RosterEntry[] {
  return es.map((e) => {
    const r: RosterEntry = {
      sid: e.sessionId,
      uid: e.userId,
      role: e.role,
      joined: e.joinedAtMs,
      active: e.lastActivityMs,
      cur: e.cursor ? { ...e.cursor } : null,
    };
    if (e.tabSessionId) r.tab = e.tabSessionId;
    if (e.name) r.name = e.name;
    if (e.avatar) r.avatar = e.avatar;
    const sel = fromWireSelection(e.selection);
    if (sel) r.sel = sel;
    const caret = fromWireCaret(e.caret);
    if (caret) r.caret = caret;
    return r;
  });
}

export class Roster {
  private entries: RosterEntry[] = [];

  /** list returns a copy the app may keep. */
  list(): RosterEntry[] {
    return this.entries.map((e) => ({ ...e, cur: e.cur ? { ...e.cur } : e.cur, ...(e.caret ? { caret: copyCaret(e.caret) } : {}) }));
  }

  replace(es: WireRosterEntry[]): void {
    this.entries = fromWireRoster(es);
  }

  /** clear empties the roster (offline, nobody is shown as present) and reports whether it held anyone. */
  clear(): boolean {
    if (this.entries.length === 0) return false;
    this.entries = [];
    return true;
  }

  /** presence folds another session's cursor and selection into the roster and returns the update to report. */
  presence(f: WirePresenceUpdate): PresenceUpdate {
    const sel = fromWireSelection(f.selection);
    const caret = fromWireCaret(f.caret);
    for (const r of this.entries) {
      if (r.sid === f.sessionId) {
        r.cur = f.cursor ? { ...f.cursor } : null;
        if (sel) r.sel = sel;
        else delete r.sel;
        if (caret) r.caret = copyCaret(caret);
        else delete r.caret;
      }
    }
    const u: PresenceUpdate = { sid: f.sessionId, uid: f.userId, cur: f.cursor ? { ...f.cursor } : null };
    if (f.name) u.name = f.name;
    if (f.avatar) u.avatar = f.avatar;
    if (sel) u.sel = sel;
    if (caret) u.caret = caret;
    return u;
  }
}

function copyCaret(c: PresenceCaret): PresenceCaret {
  return { field: { ...c.field }, anchor: { after: { ...c.anchor.after } }, head: { after: { ...c.head.after } } };
}
