package protocol

import (
	m "github.com/flowsync/flowsync/crdt/msgpackx"
)

// Encode validates f and returns its encoding: the envelope [type, body].
// It returns an error wrapping ErrInvalidValue when f breaks a rule that
// Decode would refuse, and an error from msgpackx.Canonical when an
// Operation payload holds a value that is not JSON-shaped.
func Encode(f Frame) ([]byte, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	if op, ok := f.(*Operation); ok {
		// AppendFrame cannot report an unencodable payload; find out here.
		if _, err := m.Canonical(op.Payload); err != nil {
			return nil, err
		}
	}
	return AppendFrame(make([]byte, 0, f.sizeHint()), f), nil
}

// AppendFrame appends the encoding of f to b without validating it: it is
// the hot path for frames the server builds itself (a RemoteDelta encoded
// once per broadcast). A frame that Encode would refuse produces bytes the
// peer's Decode refuses; an Operation whose payload cannot be encoded gets a
// nil payload.
func AppendFrame(b []byte, f Frame) []byte {
	b = m.AppendArrayHeader(b, 2)
	b = m.AppendUint(b, uint64(f.Type()))
	return f.appendBody(b)
}

// Body keys are short (they are in every frame) but readable; the full list
// per frame is in frames.go and docs/PROTOCOL.md.

func str(b []byte, k, v string) []byte { return m.AppendString(m.AppendString(b, k), v) }
func bin(b []byte, k string, v []byte) []byte {
	return m.AppendBytes(m.AppendString(b, k), v)
}
func uintKey(b []byte, k string, v uint64) []byte { return m.AppendUint(m.AppendString(b, k), v) }
func intKey(b []byte, k string, v int64) []byte   { return m.AppendInt(m.AppendString(b, k), v) }
func boolKey(b []byte, k string, v bool) []byte   { return m.AppendBool(m.AppendString(b, k), v) }

// n counts how many optional values are present.
func n(present ...bool) int {
	c := 0
	for _, p := range present {
		if p {
			c++
		}
	}
	return c
}

// optStr appends k: v only when v is not empty: an absent optional key and
// an empty string mean the same, and omitting it keeps encodings canonical.
func optStr(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	return str(b, k, v)
}

func appendPoint(b []byte, p Point) []byte {
	b = m.AppendMapHeader(b, 2)
	b = m.AppendFloat(m.AppendString(b, "x"), p.X)
	return m.AppendFloat(m.AppendString(b, "y"), p.Y)
}

func appendCursor(b []byte, p *Point) []byte {
	b = m.AppendString(b, "cur")
	if p == nil {
		return m.AppendNil(b)
	}
	return appendPoint(b, *p)
}

func appendSelection(b []byte, s Selection) []byte {
	b = m.AppendString(b, "sel")
	b = m.AppendMapHeader(b, 1+n(s.ID != ""))
	b = str(b, "t", string(s.Type))
	return optStr(b, "id", s.ID)
}

func appendPositions(b []byte, ps map[string]Point) []byte {
	b = m.AppendString(b, "pos")
	b = m.AppendMapHeader(b, len(ps))
	for _, id := range sortedKeys(ps) {
		b = appendPoint(m.AppendString(b, id), ps[id])
	}
	return b
}

func appendRosterEntry(b []byte, e *RosterEntry) []byte {
	// cur is always written (nil = no cursor) so that an entry has a fixed
	// shape; sel only when set.
	b = m.AppendMapHeader(b, 6+n(e.TabSessionID != "", e.Name != "", e.Avatar != "", !e.Selection.IsZero()))
	b = str(b, "sid", e.SessionID)
	b = optStr(b, "tab", e.TabSessionID)
	b = str(b, "uid", e.UserID)
	b = optStr(b, "name", e.Name)
	b = optStr(b, "avatar", e.Avatar)
	b = str(b, "role", string(e.Role))
	b = intKey(b, "joined", e.JoinedAtMs)
	b = intKey(b, "active", e.LastActivityMs)
	b = appendCursor(b, e.Cursor)
	if !e.Selection.IsZero() {
		b = appendSelection(b, e.Selection)
	}
	return b
}

func (f *Hello) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 2+n(f.ReplicaID != "", f.ClientName != "", f.ClientVersion != ""))
	b = uintKey(b, "v", f.ProtocolVersion)
	b = str(b, "tok", f.Token)
	b = optStr(b, "rid", f.ReplicaID)
	b = optStr(b, "cn", f.ClientName)
	return optStr(b, "cv", f.ClientVersion)
}

func (f *Welcome) appendBody(b []byte) []byte {
	l := f.Limits
	hasLim := l != ServerLimits{}
	b = m.AppendMapHeader(b, 4+n(f.ServerVersion != "", hasLim))
	b = uintKey(b, "v", f.ProtocolVersion)
	b = str(b, "sid", f.SessionID)
	b = m.AppendString(b, "user")
	b = m.AppendMapHeader(b, 1+n(f.User.Name != "", f.User.Avatar != ""))
	b = str(b, "id", f.User.ID)
	b = optStr(b, "name", f.User.Name)
	b = optStr(b, "avatar", f.User.Avatar)
	b = optStr(b, "sv", f.ServerVersion)
	if hasLim {
		b = m.AppendString(b, "lim")
		b = m.AppendMapHeader(b, n(l.MaxFrameBytes != 0, l.MaxDeltaBytes != 0, l.MaxOpsPerSecond != 0, l.OpsBurst != 0, l.MaxClockSkewMs != 0))
		for _, kv := range [...]struct {
			k string
			v uint64
		}{{"frame", l.MaxFrameBytes}, {"delta", l.MaxDeltaBytes}, {"ops", l.MaxOpsPerSecond}, {"burst", l.OpsBurst}, {"skew", l.MaxClockSkewMs}} {
			if kv.v != 0 {
				b = uintKey(b, kv.k, kv.v)
			}
		}
	}
	return intKey(b, "now", f.ServerTimeMs)
}

func (f *Join) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 1+n(len(f.Context) > 0, f.TabSessionID != ""))
	b = str(b, "wf", f.WorkflowID)
	if len(f.Context) > 0 {
		b = bin(b, "ctx", f.Context)
	}
	return optStr(b, "tab", f.TabSessionID)
}

func (f *Joined) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 5)
	b = str(b, "wf", f.WorkflowID)
	b = str(b, "role", string(f.Role))
	b = bin(b, "ctx", f.Context)
	b = m.AppendString(b, "roster")
	b = m.AppendArrayHeader(b, len(f.Roster))
	for i := range f.Roster {
		b = appendRosterEntry(b, &f.Roster[i])
	}
	return uintKey(b, "chunks", f.CatchUpChunks)
}

func (f *CatchUp) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 4)
	b = str(b, "wf", f.WorkflowID)
	b = uintKey(b, "seq", f.Seq)
	b = boolKey(b, "last", f.Last)
	return bin(b, "d", f.Delta)
}

func (f *Leave) appendBody(b []byte) []byte {
	return str(m.AppendMapHeader(b, 1), "wf", f.WorkflowID)
}

func (f *Delta) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 3)
	b = str(b, "wf", f.WorkflowID)
	b = str(b, "op", f.OpID)
	return bin(b, "d", f.Delta)
}

func (f *Operation) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 5)
	b = str(b, "wf", f.WorkflowID)
	b = str(b, "op", f.OpID)
	b = str(b, "name", f.Name)
	b = str(b, "target", f.Target)
	b = m.AppendString(b, "payload")
	// The payload is JSON-shaped and rare (thin clients only), so it goes
	// through the canonical encoder rather than a hand-written one.
	p, err := m.Canonical(f.Payload)
	if err != nil || f.Payload == nil {
		return m.AppendNil(b)
	}
	return append(b, p...)
}

func (f *Applied) appendBody(b []byte) []byte {
	return str(m.AppendMapHeader(b, 1), "op", f.OpID)
}

func (f *Durable) appendBody(b []byte) []byte {
	b = m.AppendString(m.AppendMapHeader(b, 1), "ops")
	b = m.AppendArrayHeader(b, len(f.OpIDs))
	for _, id := range f.OpIDs {
		b = m.AppendString(b, id)
	}
	return b
}

func (f *Nack) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 3+n(f.Message != ""))
	b = str(b, "op", f.OpID)
	b = uintKey(b, "code", uint64(f.Code))
	b = optStr(b, "msg", f.Message)
	return boolKey(b, "retry", f.Retryable)
}

func (f *RemoteDelta) appendBody(b []byte) []byte {
	o := f.Origin
	b = m.AppendMapHeader(b, 3)
	b = str(b, "wf", f.WorkflowID)
	b = bin(b, "d", f.Delta)
	b = m.AppendString(b, "from")
	b = m.AppendMapHeader(b, 2+n(o.ReplicaID != ""))
	b = str(b, "uid", o.UserID)
	b = optStr(b, "rid", o.ReplicaID)
	return str(b, "sid", o.SessionID)
}

func (f *Presence) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 2+n(!f.Selection.IsZero()))
	b = str(b, "wf", f.WorkflowID)
	b = appendCursor(b, f.Cursor)
	if !f.Selection.IsZero() {
		b = appendSelection(b, f.Selection)
	}
	return b
}

func (f *PresenceUpdate) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 4+n(f.Name != "", f.Avatar != "", !f.Selection.IsZero()))
	b = str(b, "wf", f.WorkflowID)
	b = str(b, "sid", f.SessionID)
	b = str(b, "uid", f.UserID)
	b = optStr(b, "name", f.Name)
	b = optStr(b, "avatar", f.Avatar)
	b = appendCursor(b, f.Cursor)
	if !f.Selection.IsZero() {
		b = appendSelection(b, f.Selection)
	}
	return b
}

func (f *Roster) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 2)
	b = str(b, "wf", f.WorkflowID)
	b = m.AppendString(b, "entries")
	b = m.AppendArrayHeader(b, len(f.Entries))
	for i := range f.Entries {
		b = appendRosterEntry(b, &f.Entries[i])
	}
	return b
}

func (f *Drag) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 2)
	b = str(b, "wf", f.WorkflowID)
	return appendPositions(b, f.Positions)
}

func (f *DragUpdate) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 4)
	b = str(b, "wf", f.WorkflowID)
	b = str(b, "sid", f.SessionID)
	b = str(b, "uid", f.UserID)
	return appendPositions(b, f.Positions)
}

func (f *Event) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 3+n(f.Message != ""))
	b = str(b, "wf", f.WorkflowID)
	b = str(b, "kind", string(f.Kind))
	b = optStr(b, "msg", f.Message)
	return intKey(b, "ts", f.TimestampMs)
}

func (f *Error) appendBody(b []byte) []byte {
	b = m.AppendMapHeader(b, 2+n(f.Message != "", f.WorkflowID != ""))
	b = uintKey(b, "code", uint64(f.Code))
	b = optStr(b, "msg", f.Message)
	b = boolKey(b, "retry", f.Retryable)
	return optStr(b, "wf", f.WorkflowID)
}

// Size hints: 16 bytes of envelope and keys per field is generous for the
// small frames; the large ones add their byte payloads.
func (f *Hello) sizeHint() int          { return 64 + len(f.Token) + len(f.ClientName) + len(f.ClientVersion) }
func (f *Welcome) sizeHint() int        { return 160 + len(f.User.Name) + len(f.User.Avatar) }
func (f *Join) sizeHint() int           { return 48 + len(f.WorkflowID) + len(f.Context) + len(f.TabSessionID) }
func (f *Joined) sizeHint() int         { return 64 + len(f.WorkflowID) + len(f.Context) + 160*len(f.Roster) }
func (f *CatchUp) sizeHint() int        { return 48 + len(f.WorkflowID) + len(f.Delta) }
func (f *Leave) sizeHint() int          { return 16 + len(f.WorkflowID) }
func (f *Delta) sizeHint() int          { return 32 + len(f.WorkflowID) + len(f.OpID) + len(f.Delta) }
func (f *Operation) sizeHint() int      { return 256 }
func (f *Applied) sizeHint() int        { return 16 + len(f.OpID) }
func (f *Durable) sizeHint() int        { return 16 + 40*len(f.OpIDs) }
func (f *Nack) sizeHint() int           { return 48 + len(f.OpID) + len(f.Message) }
func (f *RemoteDelta) sizeHint() int    { return 64 + len(f.WorkflowID) + len(f.Delta) + 120 }
func (f *Presence) sizeHint() int       { return 96 + len(f.WorkflowID) }
func (f *PresenceUpdate) sizeHint() int { return 200 + len(f.Name) + len(f.Avatar) }
func (f *Roster) sizeHint() int         { return 32 + 160*len(f.Entries) }
func (f *Drag) sizeHint() int           { return 32 + 64*len(f.Positions) }
func (f *DragUpdate) sizeHint() int     { return 96 + 64*len(f.Positions) }
func (f *Event) sizeHint() int          { return 64 + len(f.Message) }
func (f *Error) sizeHint() int          { return 48 + len(f.Message) + len(f.WorkflowID) }
