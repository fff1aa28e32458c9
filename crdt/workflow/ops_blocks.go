package workflow

import (
	"errors"
	"maps"
	"slices"
	"strconv"

	"github.com/flowsync/flowsync/crdt"
)

// maxIDLen bounds block, edge and variable ids, so one id cannot bloat every
// key it appears in.
const maxIDLen = 256

// BlockInput is a block record as the reference sends it (batch-add-blocks,
// add, replace-state). Pointer fields are optional; nil means "use the
// default" (see BatchAddBlocks).
type BlockInput struct {
	ID                string
	Type              string
	Name              string
	Position          *Position
	SubBlocks         map[string]SubBlockInput
	Outputs           any
	Enabled           *bool
	HorizontalHandles *bool
	IsWide            *bool
	AdvancedMode      *bool
	TriggerMode       *bool
	ErrorEnabled      *bool
	Locked            *bool
	Height            *float64
	// Data is the free-form data map. Its parentId, extent and canonicalModes
	// entries are stored as fields of their own; other keys as "data."+key.
	Data  map[string]any
	Retry any
}

// SubBlockInput is one sub-block of a BlockInput.
type SubBlockInput struct {
	ID    string
	Type  string
	Value any
}

// PositionUpdate is one entry of BatchUpdatePositions.
type PositionUpdate struct {
	ID       string
	Position Position
}

// ParentUpdate is one entry of BatchUpdateParent. An empty ParentID detaches
// the block.
type ParentUpdate struct {
	ID       string
	ParentID string
	Position *Position
}

// BatchUpdatePositions ("batch-update-positions") moves several blocks.
// Unknown and protected blocks are skipped; if all are, it fails with
// ErrLocked (some were protected) or ErrNoEffect.
type BatchUpdatePositions struct{ Updates []PositionUpdate }

// Name implements Op.
func (BatchUpdatePositions) Name() string { return "batch-update-positions" }

func (op BatchUpdatePositions) prepare(b *builder) error {
	var s skips
	for _, u := range op.Updates {
		if !s.usable(b, u.ID) {
			continue
		}
		b.put(fieldKey(u.ID, FieldPosition), positionValue(u.Position))
	}
	return s.err("batch-update-positions")
}

// BatchAddBlocks ("batch-add-blocks") adds blocks with their sub-block
// values, subflow configs and edges, all or nothing. It fails with ErrInvalid
// (malformed block, no name), ErrExists (id present or repeated),
// ErrNameConflict, ErrUnknownBlock or ErrNotContainer (bad parent), ErrLocked
// (parent protected) or ErrEdgeRejected (an edge breaks a graph rule).
//
// Defaults: enabled and horizontalHandles true, advancedMode, triggerMode,
// errorEnabled and locked false, height 0. A new loop or parallel block gets
// default subflow config unless Loops or Parallels has its id. Loops and
// Parallels entries for ids that are not container blocks of this batch are
// ignored: a batch may not rewrite a container it does not add.
type BatchAddBlocks struct {
	Blocks         []BlockInput
	Edges          []EdgeInput
	Loops          map[string]map[string]any
	Parallels      map[string]map[string]any
	SubBlockValues map[string]map[string]any
}

// Name implements Op.
func (BatchAddBlocks) Name() string { return "batch-add-blocks" }

func (op BatchAddBlocks) prepare(b *builder) error {
	batch := make(map[string]BlockInput, len(op.Blocks))
	names := b.blockNames()
	for _, in := range op.Blocks {
		if err := checkNewBlock(b, in, batch, names); err != nil {
			return err
		}
		batch[in.ID] = in
	}
	for _, in := range op.Blocks {
		if err := checkNewParent(b, in.ID, batch); err != nil {
			return err
		}
	}
	for _, in := range op.Blocks {
		in.SubBlocks = mergeSubBlockValues(in.SubBlocks, op.SubBlockValues[in.ID])
		if err := b.writeBlock(in); err != nil {
			return err
		}
		if err := b.writeNewSubflow(in.ID, in.Type, op.Loops, op.Parallels); err != nil {
			return err
		}
	}
	c := newEdgeChecker(b)
	for _, e := range op.Edges {
		if err := c.admit(e); err != nil {
			return err
		}
	}
	return nil
}

// checkNewBlock validates a block to be added against the document and the
// blocks of the batch before it, and records its name in names.
func checkNewBlock(b *builder, in BlockInput, batch map[string]BlockInput, names *nameSet) error {
	if err := checkID("block", in.ID); err != nil {
		return err
	}
	if _, dup := batch[in.ID]; dup || blockExists(b, in.ID) {
		return errorf(ErrExists, "block %q", in.ID)
	}
	if in.Type == "" {
		return errorf(ErrInvalid, "block %q has no type", in.ID)
	}
	if in.Name == "" {
		return errorf(ErrInvalid, "block %q has no name", in.ID)
	}
	norm, err := checkName(in.Name, names, in.ID)
	if err != nil {
		return err
	}
	names.set(norm, in.ID)
	return nil
}

// checkNewParent checks the parent named in a new block's data: a present or
// batch container, not protected, not a parent loop within the batch.
func checkNewParent(b *builder, id string, batch map[string]BlockInput) error {
	parent := dataString(batch[id].Data, "parentId")
	if parent == "" {
		return nil
	}
	if in, ok := batch[parent]; ok {
		if !IsContainer(in.Type) {
			return errorf(ErrNotContainer, "parent %q of block %q", parent, id)
		}
		// Walk the batch's own parent links: a batch must not nest a block in
		// itself. Each batch block is visited once at most, so the walk ends.
		seen := map[string]bool{}
		for p := parent; p != "" && !seen[p]; p = dataString(batch[p].Data, "parentId") {
			if p == id {
				return errorf(ErrInvalid, "block %q is its own ancestor", id)
			}
			if _, ok := batch[p]; !ok {
				break
			}
			seen[p] = true
		}
		return nil
	}
	return checkParent(b, id, parent)
}

// checkParent checks that a present block may become a child of parent: a
// live container that is not the block or one of its effective descendants
// (at any depth) and not protected.
func checkParent(b *builder, id, parent string) error {
	if !blockExists(b, parent) {
		return errorf(ErrUnknownBlock, "parent %q of block %q", parent, id)
	}
	if !IsContainer(blockType(b, parent)) {
		return errorf(ErrNotContainer, "parent %q of block %q", parent, id)
	}
	t := treeOf(b)
	if t.contains(id, parent) {
		return errorf(ErrInvalid, "block %q cannot move into itself or a descendant", id)
	}
	if t.protected(b, parent) {
		return errorf(ErrLocked, "parent %q", parent)
	}
	for _, c := range staleCut(b, t, id, parent) {
		if t.protected(b, c) {
			return errorf(ErrLocked, "block %q holds a stale parent that the move must clear", c)
		}
	}
	return nil
}

// mergeSubBlockValues returns subs with values overridden by vals; a value
// for a sub-block not in subs creates one of type "short-input", as the
// reference does.
func mergeSubBlockValues(subs map[string]SubBlockInput, vals map[string]any) map[string]SubBlockInput {
	if len(vals) == 0 {
		return subs
	}
	out := maps.Clone(subs)
	if out == nil {
		out = make(map[string]SubBlockInput, len(vals))
	}
	for id, v := range vals {
		sb, ok := out[id]
		if !ok {
			sb = SubBlockInput{ID: id, Type: "short-input"}
		}
		sb.Value = v
		out[id] = sb
	}
	return out
}

// BatchRemoveBlocks ("batch-remove-blocks") removes blocks, with every
// descendant of a container and every edge touching a removed block.
// Unknown and protected ids are skipped; if nothing is left it fails with
// ErrLocked (some were protected) or ErrNoEffect.
type BatchRemoveBlocks struct{ IDs []string }

// Name implements Op.
func (BatchRemoveBlocks) Name() string { return "batch-remove-blocks" }

func (op BatchRemoveBlocks) prepare(b *builder) error {
	var s skips
	var ids []string
	for _, id := range op.IDs {
		if s.usable(b, id) {
			ids = append(ids, id)
		}
	}
	if err := s.err("batch-remove-blocks"); err != nil {
		return err
	}
	b.removeBlocks(b.withDescendants(ids, nil))
	return nil
}

// BatchToggleEnabled ("batch-toggle-enabled") sets enabled on the
// unprotected blocks and the unprotected descendants of containers among
// them, to the negation of the first such block's current value.
// PreviousStates is kept for the client's undo and ignored here.
type BatchToggleEnabled struct {
	BlockIDs       []string
	PreviousStates map[string]bool
}

// Name implements Op.
func (BatchToggleEnabled) Name() string { return "batch-toggle-enabled" }

func (op BatchToggleEnabled) prepare(b *builder) error {
	var s skips
	var ids []string
	for _, id := range op.BlockIDs {
		if s.usable(b, id) {
			ids = append(ids, id)
		}
	}
	if err := s.err("batch-toggle-enabled"); err != nil {
		return err
	}
	t := treeOf(b)
	set := b.withDescendants(ids, func(id string) bool { return !t.protected(b, id) })
	target := !b.get(fieldKey(ids[0], FieldEnabled)).asBool(true)
	for _, id := range set {
		b.put(fieldKey(id, FieldEnabled), boolValue(target))
	}
	return nil
}

// BatchToggleHandles ("batch-toggle-handles") flips horizontalHandles of each
// unprotected block independently.
type BatchToggleHandles struct {
	BlockIDs       []string
	PreviousStates map[string]bool
}

// Name implements Op.
func (BatchToggleHandles) Name() string { return "batch-toggle-handles" }

func (op BatchToggleHandles) prepare(b *builder) error {
	var s skips
	done := map[string]bool{}
	for _, id := range op.BlockIDs {
		if done[id] || !s.usable(b, id) {
			continue
		}
		done[id] = true // a repeated id flips once, not back
		k := fieldKey(id, FieldHorizontalHandles)
		b.put(k, boolValue(!b.get(k).asBool(true)))
	}
	return s.err("batch-toggle-handles")
}

// BatchToggleLocked ("batch-toggle-locked", admin only) sets locked on the
// blocks and all their container descendants, protected or not, to the
// negation of the first block's current value.
type BatchToggleLocked struct {
	BlockIDs       []string
	PreviousStates map[string]bool
}

// Name implements Op.
func (BatchToggleLocked) Name() string { return "batch-toggle-locked" }

func (op BatchToggleLocked) prepare(b *builder) error {
	var ids []string
	for _, id := range op.BlockIDs {
		if blockExists(b, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return errorf(ErrNoEffect, "batch-toggle-locked: no known block")
	}
	target := !isLocked(b, ids[0])
	for _, id := range b.withDescendants(ids, nil) {
		b.put(fieldKey(id, FieldLocked), boolValue(target))
	}
	return nil
}

// BatchUpdateParent ("batch-update-parent") moves blocks in or out of
// containers. An entry is skipped when its block is unknown or protected, or
// its target parent is unknown, not a container, protected, or the block
// itself or one of its descendants. If every entry is skipped it fails with
// ErrLocked (some were protected) or ErrNoEffect.
type BatchUpdateParent struct{ Updates []ParentUpdate }

// Name implements Op.
func (BatchUpdateParent) Name() string { return "batch-update-parent" }

func (op BatchUpdateParent) prepare(b *builder) error {
	var s skips
	for _, u := range op.Updates {
		if !s.usable(b, u.ID) {
			continue
		}
		if u.ParentID != "" {
			if err := checkParent(b, u.ID, u.ParentID); err != nil {
				s.skip(err)
				continue
			}
		}
		b.setParent(u.ID, u.ParentID, "parent")
		if u.Position != nil {
			b.put(fieldKey(u.ID, FieldPosition), positionValue(*u.Position))
		}
	}
	return s.err("batch-update-parent")
}

// setParent moves id under parent with extent, or detaches it when parent is
// empty. An empty extent leaves the stored one as it is. A stale pointer
// that would close a cycle through the new one (see staleCut) is cleared, so
// the move shows as asked; checkParent has refused the move if that block is
// protected.
func (b *builder) setParent(id, parent, extent string) {
	if parent == "" {
		b.remove(fieldKey(id, FieldParentID))
		b.remove(fieldKey(id, FieldExtent))
		return
	}
	for _, c := range staleCut(b, treeOf(b), id, parent) {
		b.remove(fieldKey(c, FieldParentID))
	}
	b.put(fieldKey(id, FieldParentID), stringValue(parent))
	if extent != "" {
		b.put(fieldKey(id, FieldExtent), stringValue(extent))
	}
}

// skips tracks why a batch skipped entries, so that a batch that skipped
// everything can say whether locks were the reason.
type skips struct {
	used, locked, other int
}

// usable reports whether block id may be touched by a batch, counting it
// either way.
func (s *skips) usable(b *builder, id string) bool {
	switch {
	case !blockExists(b, id):
		s.other++
		return false
	case protected(b, id):
		s.locked++
		return false
	}
	s.used++
	return true
}

// skip takes back a usable entry that a later check refused.
func (s *skips) skip(err error) {
	s.used--
	if errors.Is(err, ErrLocked) {
		s.locked++
	} else {
		s.other++
	}
}

func (s *skips) err(op string) error {
	switch {
	case s.used > 0:
		return nil
	case s.locked > 0:
		return errorf(ErrLocked, "%s: every block is locked or unknown", op)
	}
	return errorf(ErrNoEffect, "%s: no known block", op)
}

// ---- document walks shared by the operations ----

// checkID refuses empty and oversized ids.
func checkID(what, id string) error {
	if id == "" {
		return errorf(ErrInvalid, "%s: empty id", what)
	}
	if len(id) > maxIDLen {
		return errorf(ErrInvalid, "%s: id longer than %d bytes", what, maxIDLen)
	}
	return nil
}

// liveIDs returns the sorted ids of the present elements of a membership
// kind (KindBlock, KindEdge, KindVariable) as the operation sees them.
func (b *builder) liveIDs(kind Kind) []string {
	seen := map[string]bool{}
	collect := func(k Key, _ []crdt.Dotted[Cell]) bool {
		if k.Kind == kind && k.Sub == "" && !seen[k.ID] && b.has(k) {
			seen[k.ID] = true
		}
		return true
	}
	b.doc.store.Range(collect)
	b.delta.store.Range(collect)
	return slices.Sorted(maps.Keys(seen))
}

// keysWhere returns, sorted, every key of the document or of this
// operation's writes that match accepts. It walks the whole document: fine
// for removals and copies, which are rare next to field edits.
func (b *builder) keysWhere(match func(Key, []crdt.Dotted[Cell]) bool) []Key {
	seen := map[Key]bool{}
	collect := func(k Key, es []crdt.Dotted[Cell]) bool {
		if !seen[k] && match(k, es) {
			seen[k] = true
		}
		return true
	}
	b.doc.store.Range(collect)
	b.delta.store.Range(collect)
	return slices.SortedFunc(maps.Keys(seen), compareKeys)
}

func compareKeys(a, c Key) int {
	switch {
	case a.Kind != c.Kind:
		return int(a.Kind) - int(c.Kind)
	case a.ID != c.ID:
		if a.ID < c.ID {
			return -1
		}
		return 1
	case a.Sub < c.Sub:
		return -1
	case a.Sub > c.Sub:
		return 1
	}
	return 0
}

// removeBlocks removes every key of the given blocks: membership, fields,
// sub-blocks, subflow config, and every edge with an end among them. It is
// the one removal path, so every way of removing a block removes the same
// things and every replica drops them identically.
//
// Its cost is linear in what it removes: the blocks' keys come from the
// store's groups and the edges from the index, each visited once, and the
// dots go into the context sorted (a batch at a time: removal.fold). Nothing is sorted by key: a removal's
// delta is its context (and the keys of this operation's own writes it
// drops), the same whatever order the keys are visited in.
func (b *builder) removeBlocks(ids []string) {
	r := newRemoval(b, ids)
	r.collect(len(ids))
	b.applyRemoval(r)
}

// removal gathers the dots a removal of blocks covers in the document, a
// few blocks at a time (collect), so that a server can spread a large one
// over several turns (StepPrepare).
type removal struct {
	b     *builder
	ids   []string
	set   map[string]bool
	next  int             // ids[:next] are collected
	dots  []crdt.Dot      // collected since the last fold
	ctx   crdt.Context    // the dots folded so far
	held  int             // how many dots were folded
	edges map[string]bool // edges at the blocks, visited: whether each goes
	// graph: ids are group ids whose every key of the graph goes (a
	// ReplaceState), edges included, rather than blocks and their edges.
	graph bool
}

// fold sorts the dots collected since the last fold into r.ctx. Each step
// of a stepped removal folds what it collected, so that no step sorts the
// dots of the whole removal (250,000 at 50,000 blocks: tens of ms).
func (r *removal) fold() {
	if len(r.dots) == 0 {
		return
	}
	slices.SortFunc(r.dots, compareDots)
	var batch crdt.Context
	for _, d := range r.dots { // ascending per replica: appends
		batch.Add(d)
	}
	r.ctx.Merge(&batch)
	r.held += len(r.dots)
	r.dots = r.dots[:0]
}

func newRemoval(b *builder, ids []string) *removal {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return &removal{b: b, ids: ids, set: set}
}

// edgeGoes reports whether edge key k goes with the blocks. The edge is
// its winning value: a losing concurrent add of the same id is not part of
// the document, so its ends do not count (it stays stored, hidden, until
// the id is removed). The winner goes with its ends even when an end's
// re-add hides it.
func (r *removal) edgeGoes(k Key) bool {
	if w, ok := r.b.rawWinner(k); ok {
		ed := w.Value.Value.asEdge()
		return r.set[ed.Source] || r.set[ed.Target]
	}
	return false
}

// collect gathers the dots of up to n more blocks and of the edges at
// them, and reports whether every block is collected.
func (r *removal) collect(n int) bool {
	x := r.b.doc.index()
	for ; r.next < len(r.ids) && n > 0; r.next, n = r.next+1, n-1 {
		id := r.ids[r.next]
		if r.graph {
			r.dots = r.b.doc.store.appendGraphDots(r.dots, id)
			continue
		}
		r.dots = r.b.doc.store.appendEntityDots(r.dots, entity{KindBlock, id})
		for e := range x.edgesAt[id] {
			if _, seen := r.edges[e]; seen {
				continue
			}
			if r.edges == nil {
				r.edges = make(map[string]bool)
			}
			k := edgeKey(e)
			r.edges[e] = r.edgeGoes(k)
			if r.edges[e] {
				for _, v := range r.b.doc.store.Get(k) {
					r.dots = append(r.dots, v.Dot)
				}
			}
		}
	}
	r.fold()
	return r.next == len(r.ids)
}

// applyRemoval writes the collected removal into b's delta: the dots into
// its context (with a dot of its own), and the drop of what this operation
// itself wrote under the blocks' keys and the edges that go.
func (b *builder) applyRemoval(r *removal) {
	// The document's dots under the keys of this operation's writes are
	// among r.dots already, when any.
	var own []Key
	b.delta.store.Range(func(k Key, _ []crdt.Dotted[Cell]) bool {
		switch k.Kind {
		case KindBlock, KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow:
			if r.set[k.ID] {
				own = append(own, k)
			}
		case KindEdge:
			goes, seen := r.edges[k.ID]
			if !seen {
				if goes = r.edgeGoes(k); goes {
					for _, v := range b.doc.store.Get(k) {
						r.dots = append(r.dots, v.Dot)
					}
				}
			}
			if goes {
				own = append(own, k)
			}
		}
		return true
	})
	r.fold()
	if r.held == 0 && len(own) == 0 {
		return
	}
	if !b.spent {
		b.delta.ctx.Add(b.mint())
	}
	b.delta.ctx.Merge(&r.ctx)
	for _, k := range own {
		for _, e := range append([]crdt.Dotted[Cell](nil), b.delta.store.Get(k)...) {
			b.delta.Merge(&Doc{ctx: ctxOf(e.Dot)}) // removes the superseded value
		}
	}
}

// withDescendants returns ids (deduplicated, in order) followed by every
// effective descendant of them, breadth first: exactly what the view shows
// inside them. keep, if not nil, filters both the ids' descendants and what
// is walked below them.
func (b *builder) withDescendants(ids []string, keep func(string) bool) []string {
	kids := b.childFinder()
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, c := range kids.children(out[i]) {
			if !seen[c] && (keep == nil || keep(c)) {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// checkName applies the name rules to a name for block self and returns its
// normalized form: not empty, not reserved, not another block's.
func checkName(name string, names *nameSet, self string) (string, error) {
	n := NormalizeName(name)
	switch {
	case n == "":
		return "", errorf(ErrNameConflict, "name %q is empty once normalized", name)
	case IsReservedName(n):
		return "", errorf(ErrNameConflict, "name %q is reserved", name)
	}
	if other, ok := names.lookup(n); ok && other != self {
		return "", errorf(ErrNameConflict, "name %q is used by block %q", name, other)
	}
	return n, nil
}

// copyName returns a name for a copy of a block named base that passes the
// name rules: "base (copy)", then "base (copy 2)", "base (copy 3)", ...
func copyName(base string, names *nameSet) string {
	if NormalizeName(base) == "" || IsReservedName(NormalizeName(base)) {
		base = "Block"
	}
	for i := 1; ; i++ {
		name := base + " (copy)"
		if i > 1 {
			name = base + " (copy " + strconv.Itoa(i) + ")"
		}
		if _, taken := names.lookup(NormalizeName(name)); !taken {
			return name
		}
	}
}

// writeBlock writes a new block: membership and every field given or
// defaulted.
func (b *builder) writeBlock(in BlockInput) error {
	id := in.ID
	b.put(blockKey(id), nil)
	b.put(fieldKey(id, FieldType), stringValue(in.Type))
	if in.Name != "" {
		b.put(fieldKey(id, FieldName), stringValue(in.Name))
	}
	if in.Position != nil {
		b.put(fieldKey(id, FieldPosition), positionValue(*in.Position))
	}
	flags := []struct {
		field string
		v     *bool
		def   bool
	}{
		{FieldEnabled, in.Enabled, true},
		{FieldHorizontalHandles, in.HorizontalHandles, true},
		{FieldIsWide, in.IsWide, false},
		{FieldAdvancedMode, in.AdvancedMode, false},
		{FieldTriggerMode, in.TriggerMode, false},
		{FieldErrorEnabled, in.ErrorEnabled, false},
		{FieldLocked, in.Locked, false},
	}
	for _, f := range flags {
		v := f.def
		if f.v != nil {
			v = *f.v
		}
		b.putUnlessDefault(fieldKey(id, f.field), boolValue(v), v == f.def)
	}
	height := 0.0
	if in.Height != nil {
		height = *in.Height
	}
	b.putUnlessDefault(fieldKey(id, FieldHeight), floatValue(height), height == 0)
	for _, f := range []struct {
		field string
		v     any
	}{{FieldOutputs, in.Outputs}, {FieldRetry, in.Retry}} {
		if f.v == nil && !b.has(fieldKey(id, f.field)) {
			continue
		}
		if err := b.putAny(fieldKey(id, f.field), f.v); err != nil {
			return err
		}
	}
	if err := b.writeData(id, in.Data); err != nil {
		return err
	}
	return b.writeSubBlocks(id, in.SubBlocks)
}

// writeData writes a block's data map: parentId, extent and canonicalModes
// to their own fields, the rest key by key.
func (b *builder) writeData(id string, data map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(data)) {
		v := data[k]
		switch k {
		case "parentId", "extent":
			field := map[string]string{"parentId": FieldParentID, "extent": FieldExtent}[k]
			s, ok := v.(string)
			if v != nil && !ok {
				return errorf(ErrInvalid, "block %q: data.%s is not a string", id, k)
			}
			if s != "" {
				b.put(fieldKey(id, field), stringValue(s))
			}
		case "canonicalModes":
			modes, err := canonicalModes(v)
			if err != nil {
				return errorf(ErrInvalid, "block %q: %v", id, err)
			}
			for _, cid := range slices.Sorted(maps.Keys(modes)) {
				b.put(fieldKey(id, FieldCanonicalPrefix+cid), stringValue(modes[cid]))
			}
		default:
			if v == nil {
				continue
			}
			if err := b.putAny(fieldKey(id, FieldDataPrefix+k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSubBlocks writes sub-block values and types.
func (b *builder) writeSubBlocks(id string, subs map[string]SubBlockInput) error {
	for _, sid := range slices.Sorted(maps.Keys(subs)) {
		sb := subs[sid]
		if sid == "" {
			return errorf(ErrInvalid, "block %q: sub-block with empty id", id)
		}
		if sb.Type != "" {
			b.put(subBlockTypeKey(id, sid), stringValue(sb.Type))
		}
		if sb.Value == nil && IsTextSubBlockType(sb.Type) {
			// An empty text rather than no value: two users who start
			// typing into the new field type into one text.
			b.newText(subBlockKey(id, sid), "")
			continue
		}
		if err := b.putAny(subBlockKey(id, sid), sb.Value); err != nil {
			return err
		}
	}
	return nil
}

// putAny writes a JSON-shaped value in canonical msgpack; a nil value is
// written as an absent one.
func (b *builder) putAny(k Key, v any) error {
	val, err := anyValue(v)
	if err != nil {
		return errorf(ErrInvalid, "%s %q %s: %v", kindName(k.Kind), k.ID, k.Sub, err)
	}
	return b.putValue(k, val)
}

func kindName(k Kind) string {
	switch k {
	case KindBlock, KindBlockField:
		return "block"
	case KindSubBlock, KindSubBlockType:
		return "sub-block of"
	case KindEdge:
		return "edge"
	case KindSubflow:
		return "subflow"
	}
	return "variable"
}

// canonicalModes reads a canonicalModes map: canonical id → basic|advanced.
func canonicalModes(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if ms, ok := v.(map[string]string); ok {
			return ms, checkModes(ms)
		}
		return nil, errorf(ErrInvalid, "canonicalModes is not a map")
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, _ := x.(string)
		out[k] = s
	}
	return out, checkModes(out)
}

func checkModes(m map[string]string) error {
	for k, mode := range m {
		if k == "" {
			return errorf(ErrInvalid, "canonical mode with empty id")
		}
		if mode != "basic" && mode != "advanced" {
			return errorf(ErrInvalid, "canonical mode %q is %q, want basic or advanced", k, mode)
		}
	}
	return nil
}

// dataString reads a string entry of a data map.
func dataString(data map[string]any, k string) string {
	s, _ := data[k].(string)
	return s
}
