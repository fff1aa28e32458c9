// This session's presence (cursor and selection) and live drag positions,
// and their throttle. Both are ephemeral: relayed to the room, never merged
// or stored. Presence is the latest state (kept across connections and
// sent again after every join); drag positions are dropped while offline.

import { FrameType, MaxDragBlocks, MaxDragBytes, MaxIDBytes, type ClientFrame, type Point, type Selection } from '../protocol';
import { utf8Length } from '../protocol/msgpack';
import { FlowsyncError } from './errors';
import { checkCaret, toWireCaret } from './caret';
import type { PresenceCaret, PresenceSelection } from './events';

/** Presence and Drag frames are sent at most this often (PROTOCOL.md §4.13). */
export const PresenceIntervalMs = 33;

function finitePoint(what: string, p: unknown): Point {
  const q = p as Point;
  if (!q || typeof q !== 'object' || !Number.isFinite(q.x) || !Number.isFinite(q.y)) {
    throw new FlowsyncError('invalid-argument', `flowsync: ${what} must be {x, y} with finite numbers`);
  }
  return { x: q.x, y: q.y };
}

export class PresenceSender {
  private cursor: Point | null = null;
  private selection: PresenceSelection | undefined;
  private caret: PresenceCaret | null = null;
  private dirty = false;
  private lastPresence = 0;
  private dragPending: Record<string, Point> | null = null;
  private lastDrag = 0;

  constructor(private readonly workflowId: string) {}

  /**
   * set checks and records a presence change (an absent key keeps its
   * value; cursor null = off the canvas; selection {t:'none'} = nothing;
   * caret null = no caret in a text). Nothing is recorded if any is invalid.
   */
  set(p: { cursor?: Point | null; selection?: PresenceSelection; caret?: PresenceCaret | null }): void {
    const caret = p.caret === undefined || p.caret === null ? p.caret : checkCaret(p.caret);
    if (caret !== undefined) this.caret = caret;
    if (p.cursor !== undefined) this.cursor = p.cursor === null ? null : finitePoint('cursor', p.cursor);
    if (p.selection !== undefined) {
      const s = p.selection;
      if (s.t === 'none') {
        if (s.id) throw new FlowsyncError('invalid-argument', 'flowsync: a selection of none has no id');
        this.selection = { t: 'none' };
      } else if (s.t === 'block' || s.t === 'edge') {
        if (typeof s.id !== 'string' || s.id === '' || utf8Length(s.id) > MaxIDBytes) {
          throw new FlowsyncError('invalid-argument', `flowsync: a ${s.t} selection needs an id of 1 to ${MaxIDBytes} bytes`);
        }
        this.selection = { t: s.t, id: s.id };
      } else {
        throw new FlowsyncError('invalid-argument', "flowsync: selection.t must be 'block', 'edge' or 'none'");
      }
    }
    this.dirty = true;
  }

  /**
   * drag checks positions and, when joined, queues them (latest position
   * per block wins). It reports whether anything was queued.
   */
  drag(positions: Record<string, Point>, joined: boolean): boolean {
    const checked: Record<string, Point> = {};
    for (const id of Object.keys(positions)) {
      if (id === '' || utf8Length(id) > MaxIDBytes) throw new FlowsyncError('invalid-argument', `flowsync: drag block ids must be 1 to ${MaxIDBytes} bytes`);
      checked[id] = finitePoint(`drag position of ${JSON.stringify(id)}`, positions[id]);
    }
    if (Object.keys(checked).length > MaxDragBlocks || dragBytes(checked) > MaxDragBytes) {
      throw new FlowsyncError('invalid-argument', `flowsync: a drag carries at most ${MaxDragBlocks} blocks and ${MaxDragBytes} bytes`);
    }
    if (!joined || Object.keys(checked).length === 0) return false;
    const pending = this.dragPending ?? {};
    // Folding calls must not build a frame over the server's bounds (it
    // would refuse it with TOO_LARGE): then the latest call wins.
    const fits = Object.keys(pending).length + Object.keys(checked).length <= MaxDragBlocks && dragBytes(pending) + dragBytes(checked) <= MaxDragBytes;
    this.dragPending = fits ? { ...pending, ...checked } : checked;
    return true;
  }

  /** rejoined makes a presence set before the join due again, at once. */
  rejoined(): void {
    this.dirty = this.dirty || this.cursor !== null || this.selection !== undefined || this.caret !== null;
    this.lastPresence = 0;
    this.lastDrag = 0;
  }

  /** dropDrag forgets queued drag positions (the connection ended). */
  dropDrag(): void {
    this.dragPending = null;
  }

  /**
   * collect returns the Presence and Drag frames due at now and passes
   * later the wait until a throttled one will be due. Frames it returns
   * count as sent.
   */
  collect(now: number, later: (ms: number) => void): ClientFrame[] {
    const out: ClientFrame[] = [];
    if (this.dirty) {
      const next = this.lastPresence + PresenceIntervalMs;
      if (now < next) later(next - now);
      else {
        const sel: Selection | undefined = this.selection && this.selection.t !== 'none' ? { type: this.selection.t, id: this.selection.id } : this.selection ? { type: 'none' } : undefined;
        out.push({
          type: FrameType.Presence,
          workflowId: this.workflowId,
          cursor: this.cursor,
          ...(sel ? { selection: sel } : {}),
          ...(this.caret ? { caret: toWireCaret(this.caret) } : {}),
        });
        this.dirty = false;
        this.lastPresence = now;
      }
    }
    if (this.dragPending) {
      const next = this.lastDrag + PresenceIntervalMs;
      if (now < next) later(next - now);
      else {
        out.push({ type: FrameType.Drag, workflowId: this.workflowId, positions: this.dragPending });
        this.dragPending = null;
        this.lastDrag = now;
      }
    }
    return out;
  }
}

/**
 * dragBytes is an upper bound of what positions take in a Drag frame: per
 * block its id with a str header and a point map of two float64, plus the
 * envelope and workflow id (as the Go client's dragBytes).
 */
function dragBytes(positions: Record<string, Point>): number {
  let n = 16 + 3 + MaxIDBytes;
  for (const id of Object.keys(positions)) n += 3 + utf8Length(id) + 23;
  return n;
}
