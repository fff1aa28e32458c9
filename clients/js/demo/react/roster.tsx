// The roster: every session in the room, with its cursor and selection.
// It is the only part of the page that re-renders when a cursor moves.

import { usePresence, useWorkflow } from '../../src/react';
import { colorOf } from '../editor';

export function Roster() {
  const { sessionId, roster } = usePresence();
  // Names of the selected blocks only: a rename elsewhere does not re-render the roster.
  const selectedIds = roster.flatMap((r) => (r.sel?.t === 'block' && r.sel.id ? [r.sel.id] : []));
  const names = useWorkflow((v) => selectedIds.map((id) => (Object.hasOwn(v.blocks, id) ? v.blocks[id].name : '')));
  if (roster.length === 0) {
    return (
      <ul className="roster" data-testid="roster">
        <li className="empty" data-testid="roster-empty">
          Not connected: nobody sees you, and you see nobody.
        </li>
      </ul>
    );
  }
  let n = 0;
  return (
    <ul className="roster" data-testid="roster">
      {roster.map((r) => {
        const self = r.sid === sessionId;
        const editing = r.sel?.t === 'block' && r.sel.id ? names[n++] : '';
        return (
          <li key={r.sid} data-testid="roster-entry" data-sid={r.sid} data-uid={r.uid} className={self ? 'self' : ''} style={{ ['--c' as string]: colorOf(r.sid) }}>
            {r.name || r.uid}
            {r.role ? ` (${r.role})` : ''}
            {self ? ' · you' : ''}
            {editing ? <span className="roster-editing"> · on {editing}</span> : null}
          </li>
        );
      })}
    </ul>
  );
}
