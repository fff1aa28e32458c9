// Package text is a sequence CRDT for collaborative plain text: replicas
// insert and delete code points concurrently, exchange deltas in any order
// and converge to one string, with every replica's concurrently typed words
// kept whole.
//
// # Ordering: Fugue
//
// Items are ordered by Fugue (Weidner and Kleppmann, "The Art of the
// Fugue"), in its FugueMax form, which places items exactly as
// diamond-types' YjsMod rule does (integrate.go). Every inserted item records
// a left origin (the item it was typed after) and a right origin (the item
// that followed it then, deleted or not). A replica integrating an item
// scans only the items between its origins: those whose left origin lies
// further left end the scan, those whose left origin lies inside the range
// are descendants and are skipped, and siblings sharing the left origin are
// ordered by their right origins, then by replica id.
//
// Fugue was chosen over RGA and YATA for its non-interleaving guarantee in
// both directions. RGA keeps a run typed forwards together but can
// interleave runs typed backwards (each character typed before the previous
// one), and the paper shows cases where YATA as Yjs implements it
// interleaves too; FugueMax is maximally non-interleaving: when two replicas
// type at one position at the same time, each one's text stays contiguous,
// typed forwards or backwards. It costs nothing over YATA: the same two
// origins per item and the same scan.
//
// # Runs and deletes
//
// Items are identified by dots (crdt.Dot): an insert of n code points by a
// replica takes n consecutive counters. One replica's consecutive counters
// typed left to right form a run: one left origin (its first item's), one
// right origin (shared by every item), the text, so a typed word costs one
// record, not one per character. A delete carries no dot of its own: it
// names the dots it kills, as ranges (Dead). Deleted content is dropped (the
// text arena is compacted once deleted bytes make up half of it); the
// skeleton (dots and origins) stays, because later concurrent inserts are
// ordered against it.
//
// # Index
//
// Runs live, split into spans as edits cut them, in a B-tree (tree.go) whose
// nodes count all items and visible items: finding a code point index,
// turning an item into its index and placing a remote run cost O(log n)
// plus the length of a leaf. Items are numbered locally in arrival order
// (local versions); tables of runs map dots to local versions and back, and
// one int32 per item names the leaf that holds it.
//
// # Positions
//
// Every position and length at the API counts Unicode code points, not
// bytes and not UTF-16 units (a JavaScript binding converts).
//
// # Wire
//
// Deltas and whole states share one canonical encoding (encode.go, and
// docs/PROTOCOL.md "Text deltas"); DecodeDelta bounds and checks it, and
// Admit holds a client's delta to the admission rules: only the sender's
// own dots, origins that exist and that typing could have produced, known
// items unchanged. Merge places a run whose right origin breaks the rule
// (one Admit could not judge before the merge) with the end as its right
// origin, identically in every replica.
package text
