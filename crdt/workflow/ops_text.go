package workflow

import (
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// TextTarget names a text field: a sub-block value (BlockID, SubBlockID) or,
// with VariableID set instead, a variable's value.
type TextTarget struct {
	BlockID    string
	SubBlockID string
	VariableID string
}

// key returns the key of the field t names, checking that it exists.
func (t TextTarget) key(b *builder) (Key, error) {
	if t.VariableID != "" {
		if t.BlockID != "" || t.SubBlockID != "" {
			return Key{}, errorf(ErrInvalid, "a text target names a variable or a sub-block, not both")
		}
		if err := knownVariable(b, t.VariableID); err != nil {
			return Key{}, err
		}
		return variableFieldKey(t.VariableID, VarFieldValue), nil
	}
	if err := editable(b, t.BlockID); err != nil {
		return Key{}, err
	}
	if t.SubBlockID == "" {
		return Key{}, errorf(ErrInvalid, "block %q: empty sub-block id", t.BlockID)
	}
	return subBlockKey(t.BlockID, t.SubBlockID), nil
}

// InsertText ("text-insert", target text) inserts Text at code point Index
// of a text field. A field of a text kind that is not a text yet (a
// document written before texts) becomes one, holding its string. It fails
// with ErrUnknownBlock, ErrUnknownVariable, ErrLocked, or ErrInvalid (the
// field is not of a text kind, an index past the end, empty or invalid
// UTF-8 text).
type InsertText struct {
	TextTarget
	Index int
	Text  string
}

// Name implements Op.
func (InsertText) Name() string { return "text-insert" }

func (op InsertText) prepare(b *builder) error {
	if op.Text == "" || !utf8.ValidString(op.Text) {
		return errorf(ErrInvalid, "text-insert: empty or invalid UTF-8 text")
	}
	k, err := op.key(b)
	if err != nil {
		return err
	}
	m, t, err := b.liveText(k)
	if err != nil {
		return err
	}
	if op.Index < 0 || op.Index > t.Len() {
		return errorf(ErrInvalid, "text-insert at %d in a text of %d", op.Index, t.Len())
	}
	return b.spliceText(k, m, t, op.Index, 0, op.Text)
}

// DeleteText ("text-delete", target text) deletes Length code points from
// Index of a text field. It fails as InsertText does, and with ErrInvalid
// for a range past the end or an empty one.
type DeleteText struct {
	TextTarget
	Index  int
	Length int
}

// Name implements Op.
func (DeleteText) Name() string { return "text-delete" }

func (op DeleteText) prepare(b *builder) error {
	k, err := op.key(b)
	if err != nil {
		return err
	}
	m, t, err := b.liveText(k)
	if err != nil {
		return err
	}
	if op.Length <= 0 || op.Index < 0 || op.Index > t.Len()-op.Length {
		return errorf(ErrInvalid, "text-delete of %d at %d in a text of %d", op.Length, op.Index, t.Len())
	}
	return b.spliceText(k, m, t, op.Index, op.Length, "")
}

// isTextKey reports whether k may hold a text: a sub-block value of a text
// type, a variable value of a string type, or a key that holds one.
func (b *builder) isTextKey(k Key) bool {
	switch {
	case k.Kind == KindSubBlock:
		if IsTextSubBlockType(b.get(subBlockTypeKey(k.ID, k.Sub)).asString()) {
			return true
		}
	case k.Kind == KindVariableField && k.Sub == VarFieldValue:
		if IsTextVariableType(b.get(variableFieldKey(k.ID, VarFieldType)).asString()) {
			return true
		}
	default:
		return false
	}
	return b.get(k).isTextMarker()
}

// textMarker returns the dot of the marker k holds as the operation sees
// it, if k is a text whose record is alive.
func (b *builder) textMarker(k Key) (crdt.Dot, bool) {
	w, ok := current(b, k)
	if !ok || !w.Value.Value.isTextMarker() {
		return crdt.Dot{}, false
	}
	return w.Dot, true
}

// readValue returns k's winning value as the operation sees it, a text as
// its string.
func (b *builder) readValue(k Key) Value {
	if m, ok := b.textMarker(k); ok {
		return stringValue(b.textOf(m).String())
	}
	return b.get(k)
}

// liveText returns k's record, making k a text holding its current string
// first when it is a text key that is not one yet.
func (b *builder) liveText(k Key) (crdt.Dot, *text.Text, error) {
	if m, ok := b.textMarker(k); ok {
		return m, b.textOf(m), nil
	}
	if !b.isTextKey(k) {
		return crdt.Dot{}, nil, errorf(ErrInvalid, "%s %q %s is not a text field", kindName(k.Kind), k.ID, k.Sub)
	}
	cur := b.get(k)
	s := ""
	if len(cur) > 0 && !(len(cur) == 1 && cur[0] == 0xc0) {
		var ok bool
		if s, ok = cur.stringOK(); !ok {
			return crdt.Dot{}, nil, errorf(ErrInvalid, "%s %q %s holds a value that is not a string", kindName(k.Kind), k.ID, k.Sub)
		}
	}
	m := b.newText(k, s)
	return m, b.textOf(m), nil
}

// newText writes the marker under k, making k a new text, and s as its
// first items. It returns the record's id.
func (b *builder) newText(k Key, s string) crdt.Dot {
	b.put(k, markerValue)
	m := crdt.Dot{Replica: b.ts.Replica, Counter: b.next - 1} // the dot put spent
	if s != "" {
		_ = b.spliceText(k, m, text.New(), 0, 0, s) // an empty text takes any valid insert, and the marker's stamp was just checked
	}
	return m
}

// writeText makes k's value the string s as a text: the smallest splice of
// the text k holds (so concurrent edits of other parts survive), or a new
// text.
func (b *builder) writeText(k Key, s string) error {
	if !utf8.ValidString(s) {
		return errorf(ErrInvalid, "%s %q %s: text is not valid UTF-8", kindName(k.Kind), k.ID, k.Sub)
	}
	m, ok := b.textMarker(k)
	if !ok {
		b.newText(k, s)
		return nil
	}
	t := b.textOf(m)
	pos, del, ins := diffText(t.String(), s)
	if del == 0 && ins == "" {
		return nil
	}
	return b.spliceText(k, m, t, pos, del, ins)
}

// DiffText returns the smallest single splice that turns a into b, in code
// points: delete del code points at pos, then insert ins there (the common
// prefix first, then the common suffix of the rest). It is how whole-value
// writes become text edits, and how an editor binding can turn a change of
// its string into index deltas.
func DiffText(a, b string) (pos, del int, ins string) { return diffText(a, b) }

// diffText returns the smallest single splice that turns a into b, in code
// points: delete del code points at pos, then insert ins there. The common
// prefix is taken first, then the common suffix of what is left.
func diffText(a, b string) (pos, del int, ins string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	for i > 0 && (i < len(a) && !utf8.RuneStart(a[i]) || i < len(b) && !utf8.RuneStart(b[i])) {
		i--
	}
	j := 0
	for j < len(a)-i && j < len(b)-i && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	for j > 0 && !utf8.RuneStart(a[len(a)-j]) {
		j--
	}
	return utf8.RuneCountInString(a[:i]), utf8.RuneCountInString(a[i : len(a)-j]), b[i : len(b)-j]
}

// spliceText deletes del code points at pos of record m, whose text as the
// operation sees it is t, and inserts ins there, spending a dot per
// inserted code point (and one for a delete that inserts nothing, so that
// the edit has a dot as every write does).
func (b *builder) spliceText(k Key, m crdt.Dot, t *text.Text, pos, del int, ins string) error {
	if err := b.checkTextStamp(k); err != nil {
		return err
	}
	var d text.Delta
	if del > 0 {
		dd, err := t.PlanDelete(pos, del)
		if err != nil {
			return errorf(ErrInvalid, "text edit: %v", err)
		}
		d.Deleted = dd.Deleted
	}
	if ins != "" {
		n := utf8.RuneCountInString(ins)
		id := crdt.Dot{Replica: b.ts.Replica, Counter: b.next}
		di, err := t.PlanInsert(id, pos, ins)
		if err != nil {
			return errorf(ErrInvalid, "text edit: %v", err)
		}
		b.next += uint64(n)
		b.spent = true
		b.delta.ctx.AddRange(id.Replica, crdt.Range{Lo: id.Counter, Hi: id.Counter + uint64(n) - 1})
		d.Runs = di.Runs
	} else if !b.spent {
		b.delta.ctx.Add(b.mint())
	}
	if b.delta.texts == nil {
		b.delta.texts = map[crdt.Dot]*textRec{}
	}
	r := b.delta.texts[m]
	if r == nil {
		r = newTextRec()
		b.delta.texts[m] = r
	}
	r.add(&d)
	if w := b.work[m]; w != nil {
		_ = w.Merge(d) // planned on w itself
	}
	return nil
}

// textOf returns record m's text as the operation sees it: the document's,
// with what the operation already wrote to it. The document's own text is
// returned as is until the operation edits it a second time (planning an
// edit does not change it), then a copy.
func (b *builder) textOf(m crdt.Dot) *text.Text {
	if w := b.work[m]; w != nil {
		return w
	}
	var base *text.Text
	if r := b.doc.texts[m]; r != nil {
		base = r.t
	}
	dr := b.delta.texts[m]
	if dr == nil {
		if base == nil {
			base = text.New()
		}
		return base
	}
	w := text.New()
	if base != nil {
		w = base.Clone()
	}
	_ = w.Merge(dr.since(nil)) // the operation's edits, planned on this text
	if b.work == nil {
		b.work = map[crdt.Dot]*text.Text{}
	}
	b.work[m] = w
	return w
}

// putValue writes v under k: a string under a text key as a text, anything
// else as a value (which ends a text k held).
func (b *builder) putValue(k Key, v Value) error {
	if v.isTextMarker() {
		return errorf(ErrInvalid, "%s %q %s: the value is the text marker", kindName(k.Kind), k.ID, k.Sub)
	}
	if s, ok := v.stringOK(); ok && b.isTextKey(k) {
		return b.writeText(k, s)
	}
	b.put(k, v)
	return nil
}

// copyValue writes src's value under dst: a text as a new text holding its
// string.
func (b *builder) copyValue(src, dst Key) {
	if m, ok := b.textMarker(src); ok {
		b.newText(dst, b.textOf(m).String())
		return
	}
	b.put(dst, b.get(src))
}

// checkTextStamp refuses a text edit of k stamped before the add of k's
// block or variable, as checkStamps does for values: a text edit writes no
// value to carry the stamp.
func (b *builder) checkTextStamp(k Key) error {
	o, dependent := ownerKey(k)
	if !dependent {
		return nil
	}
	w, ok := b.rawWinner(o)
	if !ok {
		return nil
	}
	e := crdt.Dotted[Cell]{Dot: crdt.Dot{Replica: b.ts.Replica, Counter: b.next}, Value: Cell{Wall: b.ts.Wall, Logical: b.ts.Logical}}
	if predates(e, stampOfEntry(w)) {
		return errorf(ErrInvalid, "%s %q: text edited at %d.%d, before its add: the replica's clock must move past every timestamp it merges",
			kindName(k.Kind), k.ID, b.ts.Wall, b.ts.Logical)
	}
	return nil
}

// rebaseText writes a whole-string update of a text whose expected value
// is the string the writer edited (a thin client's last view of it) as the
// writer's own change: the splice from the expected string to the new one,
// moved past what others changed since (the splice from the expected string
// to the current one) when the two do not overlap. So a thin client's
// whole-value writes keep another user's concurrent typing elsewhere in the
// text, which a splice against the current string would undo. Overlapping
// changes fail the precondition, as for any value. It reports false when u
// is not such an update.
func (b *builder) rebaseText(k Key, u SubBlockUpdate) (bool, error) {
	want, ok1 := u.ExpectedValue.(string)
	s, ok2 := u.Value.(string)
	m, ok3 := b.textMarker(k)
	if !u.HasExpected || !ok1 || !ok2 || !ok3 || !utf8.ValidString(want) || !utf8.ValidString(s) {
		return false, nil
	}
	t := b.textOf(m)
	cur := t.String()
	pos, del, ins := diffText(want, s)
	if cur != want {
		p2, d2, i2 := diffText(want, cur)
		switch {
		case del == 0 && ins == "":
			return true, nil
		case pos+del <= p2:
			// Wholly before the others' change: the same place.
		case pos >= p2+d2:
			pos += utf8.RuneCountInString(i2) - d2
		default:
			return true, errorf(ErrPrecondition, "sub-block %s.%s changed where it is written", u.BlockID, u.SubBlockID)
		}
	}
	if del == 0 && ins == "" {
		return true, nil
	}
	return true, b.spliceText(k, m, t, pos, del, ins)
}
