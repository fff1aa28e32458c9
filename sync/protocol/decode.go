package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	m "github.com/flowsync/flowsync/crdt/msgpackx"
)

// Errors returned by Decode (and, for ErrInvalidValue, by Encode). Every
// decode error matches ErrInvalidFrame and exactly one of the others, and
// wraps the msgpackx error underneath when there is one (msgpackx.ErrTrailing,
// ErrTruncated, ErrTooDeep, ErrBadByte for ext types): test with errors.Is.
var (
	ErrInvalidFrame     = errors.New("protocol: invalid frame")
	ErrTooLarge         = errors.New("protocol: frame too large")
	ErrMalformed        = errors.New("protocol: malformed msgpack")
	ErrUnknownFrameType = errors.New("protocol: unknown frame type")
	ErrDuplicateKey     = errors.New("protocol: duplicate key")
	ErrMissingKey       = errors.New("protocol: missing required key")
	ErrWrongType        = errors.New("protocol: wrong type")
	ErrInvalidValue     = errors.New("protocol: invalid value")
)

// decodeError carries the kind of failure, the frame it was found in and a
// short detail. It never quotes the offending bytes: they may be hostile or
// private, and they end up in logs.
type decodeError struct {
	kind   error
	frame  FrameType
	detail string
	cause  error
}

func (e *decodeError) Error() string {
	s := e.kind.Error()
	if e.frame != 0 {
		s += " in " + e.frame.String()
	}
	if e.detail != "" {
		s += ": " + e.detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *decodeError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalidFrame, e.kind, e.cause}
	}
	return []error{ErrInvalidFrame, e.kind}
}

// Decode decodes one frame. It checks the whole input first (size, nesting,
// every declared length, no ext types, no trailing bytes, element caps) and
// only then reads fields, so a hostile input costs at most a few times its
// size and never a panic. Unknown body keys are skipped; an unknown frame
// type, a duplicate key, a missing required key, a value of the wrong type
// or one that breaks a field rule (see frames.go) is an error.
//
// Byte fields (Join.Context, Joined.Context, CatchUp.Delta, Delta.Delta,
// RemoteDelta.Delta) alias b, so the largest part of a frame is not copied:
// the caller must not reuse b while the frame is in use. Decoding those
// bytes (workflow.Decode with workflow.DeltaLimits) is the caller's job.
func Decode(b []byte, lim Limits) (Frame, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxFrameBytes {
		return nil, &decodeError{kind: ErrTooLarge, detail: fmt.Sprintf("%d > %d bytes", len(b), lim.MaxFrameBytes)}
	}
	if err := m.Check(b, m.Limits{MaxBytes: lim.MaxFrameBytes, MaxDepth: lim.MaxDepth}); err != nil {
		return nil, &decodeError{kind: ErrMalformed, cause: err}
	}
	if err := checkElements(b); err != nil {
		return nil, err
	}
	d := &decoder{r: m.NewReader(b), lim: lim}
	if n := d.r.ArrayHeader(); d.r.Err() != nil || n != 2 {
		return nil, &decodeError{kind: ErrWrongType, detail: "envelope is not a 2-element array [type, body]"}
	}
	t := d.r.Uint()
	if d.r.Err() != nil || t > math.MaxUint8 {
		return nil, &decodeError{kind: ErrWrongType, detail: "frame type is not a small unsigned integer"}
	}
	ft := FrameType(t)
	f := newFrame(ft)
	if f == nil {
		return nil, &decodeError{kind: ErrUnknownFrameType, detail: fmt.Sprintf("0x%02x", t)}
	}
	err := f.decodeBody(d)
	if err == nil {
		err = f.validate()
	}
	if err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			de.frame = ft
		}
		return nil, err
	}
	return f, nil
}

// decodable is a Frame that can read its body. Kept apart from Frame so that
// the exported interface stays small.
type decodable interface {
	Frame
	decodeBody(d *decoder) error
}

func newFrame(t FrameType) decodable {
	switch t {
	case FrameHello:
		return &Hello{}
	case FrameJoin:
		return &Join{}
	case FrameLeave:
		return &Leave{}
	case FrameDelta:
		return &Delta{}
	case FrameOperation:
		return &Operation{}
	case FramePresence:
		return &Presence{}
	case FrameDrag:
		return &Drag{}
	case FrameWelcome:
		return &Welcome{}
	case FrameJoined:
		return &Joined{}
	case FrameCatchUp:
		return &CatchUp{}
	case FrameApplied:
		return &Applied{}
	case FrameDurable:
		return &Durable{}
	case FrameNack:
		return &Nack{}
	case FrameRemoteDelta:
		return &RemoteDelta{}
	case FramePresenceUpdate:
		return &PresenceUpdate{}
	case FrameRoster:
		return &Roster{}
	case FrameDragUpdate:
		return &DragUpdate{}
	case FrameEvent:
		return &Event{}
	case FrameError:
		return &Error{}
	}
	return nil
}

// checkElements sums the element counts of every array and map in b (which
// Check accepted) in one flat pass: values are laid out in pre-order, so
// visiting every header visits every container.
func checkElements(b []byte) error {
	var arrays, pairs, containers uint64
	for off := 0; off < len(b); {
		c := b[off]
		if c >= 0x80 && c <= 0x9f || c >= 0xdc && c <= 0xdf {
			containers++
		}
		switch {
		case c >= 0x90 && c <= 0x9f:
			arrays += uint64(c & 0x0f)
			off++
		case c >= 0x80 && c <= 0x8f:
			pairs += uint64(c & 0x0f)
			off++
		case c == 0xdc:
			arrays += uint64(binary.BigEndian.Uint16(b[off+1:]))
			off += 3
		case c == 0xdd:
			arrays += uint64(binary.BigEndian.Uint32(b[off+1:]))
			off += 5
		case c == 0xde:
			pairs += uint64(binary.BigEndian.Uint16(b[off+1:]))
			off += 3
		case c == 0xdf:
			pairs += uint64(binary.BigEndian.Uint32(b[off+1:]))
			off += 5
		default:
			end, err := m.Skip(b, off, 1) // a scalar: no children
			if err != nil {
				return &decodeError{kind: ErrMalformed, cause: err}
			}
			off = end
		}
		if arrays > MaxArrayElements || pairs > MaxMapPairs || containers > MaxContainers {
			return &decodeError{kind: ErrTooLarge, detail: fmt.Sprintf("more than %d array elements, %d map pairs or %d arrays and maps",
				MaxArrayElements, MaxMapPairs, MaxContainers)}
		}
	}
	return nil
}

// decoder reads fields from input that Check accepted. The reader's first
// error sticks; bad holds the first error the decoder itself found (a value
// of a msgpack type the reader does not check, such as bin).
type decoder struct {
	r   *m.Reader
	lim Limits
	bad error
}

func (d *decoder) fail(what string) {
	if d.bad == nil {
		d.bad = &decodeError{kind: ErrWrongType, detail: "want " + what}
	}
}

// fields reads a map whose keys are strings, calling field for each key.
// field returns false for a key it does not know, which is skipped (forward
// compatibility); otherwise it has read the value. Duplicate keys are
// refused, known or not: two values for one key would let two
// implementations disagree about which one counts.
func (d *decoder) fields(field func(key []byte) bool) error {
	n := d.r.MapHeader()
	if err := d.r.Err(); err != nil {
		return &decodeError{kind: ErrWrongType, detail: "want a map", cause: err}
	}
	if n > maxStructKeys {
		return &decodeError{kind: ErrTooLarge, detail: fmt.Sprintf("map of %d keys (at most %d)", n, maxStructKeys)}
	}
	var seen [maxStructKeys][]byte
	for i := 0; i < n; i++ {
		k := d.r.StringBytes()
		if err := d.r.Err(); err != nil {
			return &decodeError{kind: ErrWrongType, detail: "map key is not a string", cause: err}
		}
		for _, s := range seen[:i] {
			if bytes.Equal(s, k) {
				return &decodeError{kind: ErrDuplicateKey, detail: fmt.Sprintf("%q", k)}
			}
		}
		seen[i] = k
		if !field(k) {
			d.r.Skip()
		}
		if err := d.r.Err(); err != nil {
			return &decodeError{kind: ErrWrongType, detail: fmt.Sprintf("key %q", k), cause: err}
		}
		if d.bad != nil {
			if de, ok := d.bad.(*decodeError); ok && de.kind == ErrWrongType {
				de.detail = fmt.Sprintf("key %q: %s", k, de.detail)
			}
			return d.bad
		}
	}
	return nil
}

func missing(key string) error {
	return &decodeError{kind: ErrMissingKey, detail: fmt.Sprintf("%q", key)}
}

// Optional keys accept nil as "absent": encoders in other languages often
// write null for an unset field. Required keys do not.

func (d *decoder) optString() string {
	if d.r.IsNil() {
		return ""
	}
	return d.r.String()
}

func (d *decoder) optBin() []byte {
	if d.r.IsNil() {
		return nil
	}
	return d.bin()
}

// bin reads a bin value, aliasing the input. An empty bin reads as nil, so
// that "absent" and "empty" decode alike.
func (d *decoder) bin() []byte {
	raw := d.r.Raw()
	if d.r.Err() != nil || len(raw) == 0 {
		return nil
	}
	var hdr int
	switch raw[0] {
	case 0xc4:
		hdr = 2
	case 0xc5:
		hdr = 3
	case 0xc6:
		hdr = 5
	default:
		d.fail("bin")
		return nil
	}
	if len(raw) == hdr {
		return nil
	}
	return raw[hdr:len(raw):len(raw)]
}

func (d *decoder) point() Point {
	var p Point
	var hasX, hasY bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "x":
			p.X, hasX = d.r.Float(), true
		case "y":
			p.Y, hasY = d.r.Float(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		d.setBad(err)
	case !hasX:
		d.setBad(missing("x"))
	case !hasY:
		d.setBad(missing("y"))
	}
	return p
}

func (d *decoder) setBad(err error) {
	if d.bad == nil {
		d.bad = err
	}
}

func (d *decoder) cursor() *Point {
	if d.r.IsNil() {
		return nil
	}
	p := d.point()
	return &p
}

func (d *decoder) selection() Selection {
	var s Selection
	if d.r.IsNil() {
		return s
	}
	var hasT bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "t":
			s.Type, hasT = SelectionType(d.r.String()), true
		case "id":
			s.ID = d.optString()
		default:
			return false
		}
		return true
	})
	if err != nil {
		d.setBad(err)
	} else if !hasT {
		d.setBad(missing("sel.t"))
	}
	return s
}

func (d *decoder) positions() map[string]Point {
	if d.r.IsNil() {
		d.fail("map of positions")
		return nil
	}
	n := d.r.MapHeader()
	if d.r.Err() != nil {
		return nil
	}
	ps := make(map[string]Point, n)
	for i := 0; i < n && d.r.Err() == nil && d.bad == nil; i++ {
		id := d.r.String()
		if _, dup := ps[id]; dup {
			d.setBad(&decodeError{kind: ErrDuplicateKey, detail: "pos: a block id twice"})
			return nil
		}
		ps[id] = d.point()
	}
	return ps
}

func (d *decoder) rosterEntries() []RosterEntry {
	n := d.r.ArrayHeader()
	if d.r.Err() != nil {
		return nil
	}
	es := make([]RosterEntry, n)
	for i := 0; i < n && d.r.Err() == nil && d.bad == nil; i++ {
		d.rosterEntry(&es[i])
	}
	return es
}

func (d *decoder) rosterEntry(e *RosterEntry) {
	var hasSID, hasUID, hasRole, hasJoined, hasActive bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "sid":
			e.SessionID, hasSID = d.r.String(), true
		case "tab":
			e.TabSessionID = d.optString()
		case "uid":
			e.UserID, hasUID = d.r.String(), true
		case "name":
			e.Name = d.optString()
		case "avatar":
			e.Avatar = d.optString()
		case "role":
			e.Role, hasRole = Role(d.r.String()), true
		case "joined":
			e.JoinedAtMs, hasJoined = d.r.Int(), true
		case "active":
			e.LastActivityMs, hasActive = d.r.Int(), true
		case "cur":
			e.Cursor = d.cursor()
		case "sel":
			e.Selection = d.selection()
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		d.setBad(err)
	case !hasSID:
		d.setBad(missing("sid"))
	case !hasUID:
		d.setBad(missing("uid"))
	case !hasRole:
		d.setBad(missing("role"))
	case !hasJoined:
		d.setBad(missing("joined"))
	case !hasActive:
		d.setBad(missing("active"))
	}
}

// ---- frame bodies --------------------------------------------------------

func (f *Hello) decodeBody(d *decoder) error {
	var hasV, hasTok bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "v":
			f.ProtocolVersion, hasV = d.r.Uint(), true
		case "tok":
			f.Token, hasTok = d.r.String(), true
		case "rid":
			f.ReplicaID = d.optString()
		case "cn":
			f.ClientName = d.optString()
		case "cv":
			f.ClientVersion = d.optString()
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasV:
		return missing("v")
	case !hasTok:
		return missing("tok")
	}
	return nil
}

func (f *Welcome) decodeBody(d *decoder) error {
	var hasV, hasSID, hasUser, hasNow bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "v":
			f.ProtocolVersion, hasV = d.r.Uint(), true
		case "sid":
			f.SessionID, hasSID = d.r.String(), true
		case "user":
			hasUser = true
			var hasID bool
			err := d.fields(func(k []byte) bool {
				switch string(k) {
				case "id":
					f.User.ID, hasID = d.r.String(), true
				case "name":
					f.User.Name = d.optString()
				case "avatar":
					f.User.Avatar = d.optString()
				default:
					return false
				}
				return true
			})
			if err != nil {
				d.setBad(err)
			} else if !hasID {
				d.setBad(missing("user.id"))
			}
		case "sv":
			f.ServerVersion = d.optString()
		case "lim":
			if d.r.IsNil() {
				return true
			}
			l := &f.Limits
			d.setBad(d.fields(func(k []byte) bool {
				switch string(k) {
				case "frame":
					l.MaxFrameBytes = d.r.Uint()
				case "delta":
					l.MaxDeltaBytes = d.r.Uint()
				case "ops":
					l.MaxOpsPerSecond = d.r.Uint()
				case "burst":
					l.OpsBurst = d.r.Uint()
				case "skew":
					l.MaxClockSkewMs = d.r.Uint()
				default:
					return false
				}
				return true
			}))
		case "now":
			f.ServerTimeMs, hasNow = d.r.Int(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasV:
		return missing("v")
	case !hasSID:
		return missing("sid")
	case !hasUser:
		return missing("user")
	case !hasNow:
		return missing("now")
	}
	return nil
}

func (f *Join) decodeBody(d *decoder) error {
	var hasWF bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "ctx":
			f.Context = d.optBin()
		case "tab":
			f.TabSessionID = d.optString()
		default:
			return false
		}
		return true
	})
	if err == nil && !hasWF {
		return missing("wf")
	}
	return err
}

func (f *Joined) decodeBody(d *decoder) error {
	var hasWF, hasRole, hasCtx, hasRoster, hasChunks bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "role":
			f.Role, hasRole = Role(d.r.String()), true
		case "ctx":
			f.Context, hasCtx = d.bin(), true
		case "roster":
			f.Roster, hasRoster = d.rosterEntries(), true
		case "chunks":
			f.CatchUpChunks, hasChunks = d.r.Uint(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasRole:
		return missing("role")
	case !hasCtx:
		return missing("ctx")
	case !hasRoster:
		return missing("roster")
	case !hasChunks:
		return missing("chunks")
	}
	return nil
}

func (f *CatchUp) decodeBody(d *decoder) error {
	var hasWF, hasSeq, hasLast, hasD bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "seq":
			f.Seq, hasSeq = d.r.Uint(), true
		case "last":
			f.Last, hasLast = d.r.Bool(), true
		case "d":
			f.Delta, hasD = d.bin(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasSeq:
		return missing("seq")
	case !hasLast:
		return missing("last")
	case !hasD:
		return missing("d")
	}
	return nil
}

func (f *Leave) decodeBody(d *decoder) error {
	var hasWF bool
	err := d.fields(func(k []byte) bool {
		if string(k) != "wf" {
			return false
		}
		f.WorkflowID, hasWF = d.r.String(), true
		return true
	})
	if err == nil && !hasWF {
		return missing("wf")
	}
	return err
}

func (f *Delta) decodeBody(d *decoder) error {
	var hasWF, hasOp, hasD bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "op":
			f.OpID, hasOp = d.r.String(), true
		case "d":
			f.Delta, hasD = d.bin(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasOp:
		return missing("op")
	case !hasD:
		return missing("d")
	}
	return nil
}

func (f *Operation) decodeBody(d *decoder) error {
	var hasWF, hasOp, hasName, hasTarget, hasPayload bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "op":
			f.OpID, hasOp = d.r.String(), true
		case "name":
			f.Name, hasName = d.r.String(), true
		case "target":
			f.Target, hasTarget = d.r.String(), true
		case "payload":
			hasPayload = true
			f.Payload = d.payload()
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasOp:
		return missing("op")
	case !hasName:
		return missing("name")
	case !hasTarget:
		return missing("target")
	case !hasPayload:
		return missing("payload")
	}
	return nil
}

// payload decodes a JSON-shaped map with msgpackx.Decode (string keys only,
// duplicate keys refused) and widens its numbers, so that callers switch on
// int64, uint64 and float64 only.
func (d *decoder) payload() map[string]any {
	raw := d.r.Raw()
	if d.r.Err() != nil {
		return nil
	}
	if len(raw) == 0 || !(raw[0] >= 0x80 && raw[0] <= 0x8f || raw[0] == 0xde || raw[0] == 0xdf) {
		d.fail("a map")
		return nil
	}
	v, err := m.Decode(raw, m.Limits{MaxBytes: len(raw), MaxDepth: d.lim.MaxDepth})
	if err != nil {
		d.setBad(&decodeError{kind: ErrInvalidValue, detail: `"payload" is not JSON-shaped`, cause: err})
		return nil
	}
	mv, _ := v.(map[string]any) // m.Decode already widened the numbers
	return mv
}

func (f *Applied) decodeBody(d *decoder) error {
	var hasOp bool
	err := d.fields(func(k []byte) bool {
		if string(k) != "op" {
			return false
		}
		f.OpID, hasOp = d.r.String(), true
		return true
	})
	if err == nil && !hasOp {
		return missing("op")
	}
	return err
}

func (f *Durable) decodeBody(d *decoder) error {
	var hasOps bool
	err := d.fields(func(k []byte) bool {
		if string(k) != "ops" {
			return false
		}
		hasOps = true
		n := d.r.ArrayHeader()
		if d.r.Err() != nil {
			return true
		}
		f.OpIDs = make([]string, n)
		for i := 0; i < n && d.r.Err() == nil; i++ {
			f.OpIDs[i] = d.r.String()
		}
		return true
	})
	if err == nil && !hasOps {
		return missing("ops")
	}
	return err
}

func (f *Nack) decodeBody(d *decoder) error {
	var hasOp, hasCode, hasRetry bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "op":
			f.OpID, hasOp = d.r.String(), true
		case "code":
			f.Code, hasCode = d.code(), true
		case "msg":
			f.Message = d.optString()
		case "retry":
			f.Retryable, hasRetry = d.r.Bool(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasOp:
		return missing("op")
	case !hasCode:
		return missing("code")
	case !hasRetry:
		return missing("retry")
	}
	return nil
}

func (d *decoder) code() Code {
	c := d.r.Uint()
	if c > math.MaxUint16 {
		d.fail("a 16-bit code")
		return 0
	}
	return Code(c)
}

func (f *RemoteDelta) decodeBody(d *decoder) error {
	var hasWF, hasD, hasFrom bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "d":
			f.Delta, hasD = d.bin(), true
		case "from":
			hasFrom = true
			o := &f.Origin
			var hasUID, hasSID bool
			err := d.fields(func(k []byte) bool {
				switch string(k) {
				case "uid":
					o.UserID, hasUID = d.r.String(), true
				case "rid":
					o.ReplicaID = d.optString()
				case "sid":
					o.SessionID, hasSID = d.r.String(), true
				default:
					return false
				}
				return true
			})
			switch {
			case err != nil:
				d.setBad(err)
			case !hasUID:
				d.setBad(missing("from.uid"))
			case !hasSID:
				d.setBad(missing("from.sid"))
			}
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasD:
		return missing("d")
	case !hasFrom:
		return missing("from")
	}
	return nil
}

func (f *Presence) decodeBody(d *decoder) error {
	var hasWF bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "cur":
			f.Cursor = d.cursor()
		case "sel":
			f.Selection = d.selection()
		default:
			return false
		}
		return true
	})
	if err == nil && !hasWF {
		return missing("wf")
	}
	return err
}

func (f *PresenceUpdate) decodeBody(d *decoder) error {
	var hasWF, hasSID, hasUID bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "sid":
			f.SessionID, hasSID = d.r.String(), true
		case "uid":
			f.UserID, hasUID = d.r.String(), true
		case "name":
			f.Name = d.optString()
		case "avatar":
			f.Avatar = d.optString()
		case "cur":
			f.Cursor = d.cursor()
		case "sel":
			f.Selection = d.selection()
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasSID:
		return missing("sid")
	case !hasUID:
		return missing("uid")
	}
	return nil
}

func (f *Roster) decodeBody(d *decoder) error {
	var hasWF, hasEntries bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "entries":
			f.Entries, hasEntries = d.rosterEntries(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasEntries:
		return missing("entries")
	}
	return nil
}

func (f *Drag) decodeBody(d *decoder) error {
	var hasWF, hasPos bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "pos":
			f.Positions, hasPos = d.positions(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasPos:
		return missing("pos")
	}
	return nil
}

func (f *DragUpdate) decodeBody(d *decoder) error {
	var hasWF, hasSID, hasUID, hasPos bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "sid":
			f.SessionID, hasSID = d.r.String(), true
		case "uid":
			f.UserID, hasUID = d.r.String(), true
		case "pos":
			f.Positions, hasPos = d.positions(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasSID:
		return missing("sid")
	case !hasUID:
		return missing("uid")
	case !hasPos:
		return missing("pos")
	}
	return nil
}

func (f *Event) decodeBody(d *decoder) error {
	var hasWF, hasKind, hasTS bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "wf":
			f.WorkflowID, hasWF = d.r.String(), true
		case "kind":
			f.Kind, hasKind = EventKind(d.r.String()), true
		case "msg":
			f.Message = d.optString()
		case "ts":
			f.TimestampMs, hasTS = d.r.Int(), true
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasWF:
		return missing("wf")
	case !hasKind:
		return missing("kind")
	case !hasTS:
		return missing("ts")
	}
	return nil
}

func (f *Error) decodeBody(d *decoder) error {
	var hasCode, hasRetry bool
	err := d.fields(func(k []byte) bool {
		switch string(k) {
		case "code":
			f.Code, hasCode = d.code(), true
		case "msg":
			f.Message = d.optString()
		case "retry":
			f.Retryable, hasRetry = d.r.Bool(), true
		case "wf":
			f.WorkflowID = d.optString()
		default:
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case !hasCode:
		return missing("code")
	case !hasRetry:
		return missing("retry")
	}
	return nil
}
