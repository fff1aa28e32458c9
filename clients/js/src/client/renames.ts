// The 'rename' event: a block this replica added or named shows under
// another name after a merge, because another replica gave a block the same
// name concurrently and the view's rule for concurrent names suffixed ours
// (workflow/names.ts). Each rename is reported once.

import { KindBlock, KindBlockField, type Doc } from '../workflow/doc';
import { FieldName } from '../workflow/fields';
import { renamedBy, type Renamed } from '../workflow/names';

/** What the 'rename' event carries (workflow/names.ts Renamed). */
export type RenameEvent = Renamed;

/** RenameTracker remembers which renames were reported, so each is reported once. */
export class RenameTracker {
  /** Block id → the rename reported for it, as name + NUL + shownAs. */
  private readonly reported = new Map<string, string>();

  /**
   * Takes the renames that stand in doc as already known, without reporting
   * them: after a reload, only renames that new merges cause are news.
   */
  seed(doc: Doc, replica: string): void {
    this.reported.clear();
    for (const r of renamedBy(doc, replica)) this.reported.set(r.id, key(r));
  }

  /**
   * Returns the renames of replica's blocks in doc not reported yet. A delta,
   * if given, is what was just merged: one with no block and no name cannot
   * cause a rename, and the check (a pass over the document) is skipped.
   */
  check(doc: Doc, replica: string, delta?: Doc): RenameEvent[] {
    if (delta !== undefined && !touchesNames(delta)) return [];
    const now = renamedBy(doc, replica);
    const fresh: RenameEvent[] = [];
    const standing = new Set<string>();
    for (const r of now) {
      standing.add(r.id);
      const k = key(r);
      if (this.reported.get(r.id) !== k) {
        this.reported.set(r.id, k);
        fresh.push(r);
      }
    }
    // A rename that no longer stands (renamed again, or the other block
    // removed) is forgotten, so a later one is news again.
    for (const id of [...this.reported.keys()]) if (!standing.has(id)) this.reported.delete(id);
    return fresh;
  }
}

function key(r: Renamed): string {
  return `${r.name}\u0000${r.shownAs}`;
}

function touchesNames(delta: Doc): boolean {
  let found = false;
  delta.store().range((k) => {
    if (k.kind === KindBlock || (k.kind === KindBlockField && k.sub === FieldName)) found = true;
    return !found;
  });
  return found;
}
