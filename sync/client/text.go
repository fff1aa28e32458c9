package client

import (
	"sync"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Text is a handle on one text field of the workflow: a sub-block value of
// a text kind (a prompt, a code field) or a string variable's value. Its
// positions count Unicode code points. Edits go through Apply, so they are
// stored, sent and acknowledged like any other; two users typing into one
// field keep both their words (docs/ARCHITECTURE.md, "Text fields").
type Text struct {
	c      *Client
	target workflow.TextTarget
}

// Text returns the handle of sub-block subBlockID of block blockID. The
// field need not exist yet: reads see "" until it does.
func (c *Client) Text(blockID, subBlockID string) *Text {
	return &Text{c: c, target: workflow.TextTarget{BlockID: blockID, SubBlockID: subBlockID}}
}

// VariableText returns the handle of variable variableID's value.
func (c *Client) VariableText(variableID string) *Text {
	return &Text{c: c, target: workflow.TextTarget{VariableID: variableID}}
}

// String returns the text ("" when the field is not a text).
func (t *Text) String() string {
	var s string
	t.c.Read(func(doc *workflow.Doc) { s, _ = doc.Text(t.target) })
	return s
}

// Len returns the length of the text in code points.
func (t *Text) Len() int {
	var n int
	t.c.Read(func(doc *workflow.Doc) { n = doc.TextLen(t.target) })
	return n
}

// Insert inserts s at code point index. It fails as Client.Apply does,
// with workflow.ErrInvalid for an index past the end or a field that is not
// a text.
func (t *Text) Insert(index int, s string) error {
	_, err := t.c.Apply(workflow.InsertText{TextTarget: t.target, Index: index, Text: s})
	return err
}

// Delete deletes n code points from index.
func (t *Text) Delete(index, n int) error {
	_, err := t.c.Apply(workflow.DeleteText{TextTarget: t.target, Index: index, Length: n})
	return err
}

// Anchor returns the stable position of code point index: it stays with
// the character before it while others type (a caret, a selection end).
func (t *Text) Anchor(index int) (text.Anchor, error) {
	var a text.Anchor
	var err error
	t.c.Read(func(doc *workflow.Doc) { a, err = doc.TextAnchor(t.target, index) })
	return a, err
}

// Resolve returns the code point index an anchor stands at now.
func (t *Text) Resolve(a text.Anchor) (int, error) {
	var i int
	var err error
	t.c.Read(func(doc *workflow.Doc) { i, err = doc.ResolveTextAnchor(t.target, a) })
	return i, err
}

// SetCaret shows this session's caret in the text to the others (through
// presence, like SetCursor): a selection from code point anchor to head,
// or a caret when they are equal. Both ends travel as stable positions, so
// remote carets stay on their characters while others type.
func (t *Text) SetCaret(anchor, head int) error {
	a, err := t.Anchor(anchor)
	if err != nil {
		return err
	}
	caret := protocol.TextCaret{ID: t.target.BlockID, Sub: t.target.SubBlockID, Anchor: textPos(a)}
	if t.target.VariableID != "" {
		caret.ID, caret.Sub = t.target.VariableID, ""
	}
	if head != anchor {
		h, err := t.Anchor(head)
		if err != nil {
			return err
		}
		p := textPos(h)
		caret.Head = &p
	}
	return t.c.setPresence(func() { t.c.caret = caret })
}

// ClearCaret says this session's caret left the text fields.
func (t *Text) ClearCaret() error {
	return t.c.setPresence(func() { t.c.caret = protocol.TextCaret{} })
}

// Caret resolves a remote session's caret in this text (from its roster
// entry): the code point indexes of its anchor and head, and false when
// the caret is in another field or names characters not merged yet.
func (t *Text) Caret(c protocol.TextCaret) (anchor, head int, ok bool) {
	id, sub := t.target.BlockID, t.target.SubBlockID
	if t.target.VariableID != "" {
		id, sub = t.target.VariableID, ""
	}
	if c.IsZero() || c.ID != id || c.Sub != sub {
		return 0, 0, false
	}
	var err error
	if anchor, err = t.Resolve(anchorOf(c.Anchor)); err != nil {
		return 0, 0, false
	}
	head = anchor
	if c.Head != nil {
		if head, err = t.Resolve(anchorOf(*c.Head)); err != nil {
			return 0, 0, false
		}
	}
	return anchor, head, true
}

func textPos(a text.Anchor) protocol.TextPos {
	return protocol.TextPos{Replica: string(a.After.Replica), Counter: a.After.Counter}
}

func anchorOf(p protocol.TextPos) text.Anchor {
	return text.Anchor{After: crdt.Dot{Replica: crdt.ReplicaID(p.Replica), Counter: p.Counter}}
}

// TextChange is one change of a text as an index delta: Deleted code
// points were removed at Index and Inserted put there, turning the text a
// listener last saw into Text. Remote tells whether another replica made it.
type TextChange struct {
	Index    int
	Deleted  int
	Inserted string
	Text     string
	Remote   bool
}

// OnChange calls fn after every change of the text, local or remote, in
// the order they happen, from the goroutine that merged it (never with the
// client's lock held). It returns the function that stops the calls.
func (t *Text) OnChange(fn func(TextChange)) (stop func()) {
	w := &textWatch{t: t, fn: fn, last: t.String()}
	t.c.texts.add(w)
	return func() { t.c.texts.remove(w) }
}

// textWatch is one OnChange listener, the text it last saw and the
// changes not yet delivered. One goroutine at a time delivers them, in
// order; a change made meanwhile (by the listener itself, through Insert,
// or by another goroutine) is queued and delivered by that goroutine's
// loop, so a listener may edit the text without deadlocking.
type textWatch struct {
	t          *Text
	fn         func(TextChange)
	mu         sync.Mutex
	last       string
	queue      []TextChange
	delivering bool
}

// textWatchers are a client's text listeners.
type textWatchers struct {
	mu sync.Mutex
	ws []*textWatch
}

func (x *textWatchers) add(w *textWatch) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ws = append(x.ws, w)
}

func (x *textWatchers) remove(w *textWatch) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, o := range x.ws {
		if o == w {
			x.ws = append(x.ws[:i:i], x.ws[i+1:]...)
			return
		}
	}
}

func (x *textWatchers) list() []*textWatch {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.ws
}

// changed reports a merged delta to OnChange and to the text listeners
// whose text it changed.
func (c *Client) changed(delta *workflow.Doc, remote bool) {
	if fn := c.cfg.OnChange; fn != nil {
		c.callback(func() { fn(delta, remote) })
	}
	for _, w := range c.texts.list() {
		w.mu.Lock()
		now := w.t.String()
		if now != w.last {
			pos, del, ins := workflow.DiffText(w.last, now)
			w.last = now
			w.queue = append(w.queue, TextChange{Index: pos, Deleted: del, Inserted: ins, Text: now, Remote: remote})
		}
		if w.delivering {
			w.mu.Unlock()
			continue
		}
		w.delivering = true
		for len(w.queue) > 0 {
			ch := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			c.callback(func() { w.fn(ch) })
			w.mu.Lock()
		}
		w.delivering = false
		w.mu.Unlock()
	}
}
