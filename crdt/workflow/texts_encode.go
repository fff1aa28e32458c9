package workflow

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/text"
)

// ErrBadText: a text record of a document or delta is malformed (its text
// encoding is refused by text.DecodeDelta, which the error wraps, or the
// record is empty, duplicated or out of order). It wraps ErrMalformed.
var ErrBadText = errors.New("workflow: malformed text record")

// encodedTexts returns the ids of the records the encoding writes (those
// holding anything), sorted, with their encodings.
func (d *Doc) encodedTexts() ([]crdt.Dot, [][]byte) {
	if len(d.texts) == 0 {
		return nil, nil
	}
	ids := d.textIDs()
	out := ids[:0]
	var bs [][]byte
	for _, m := range ids {
		r := d.texts[m]
		if r.isEmpty() {
			continue
		}
		out = append(out, m)
		bs = append(bs, r.encode())
	}
	return out, bs
}

// appendTexts appends the texts element: [[replica, counter, text], ...].
func appendTexts(b []byte, ids []crdt.Dot, bs [][]byte) []byte {
	b = msgpackx.AppendArrayHeader(b, len(ids))
	for i, m := range ids {
		b = msgpackx.AppendArrayHeader(b, 3)
		b = msgpackx.AppendString(b, string(m.Replica))
		b = msgpackx.AppendUint(b, m.Counter)
		b = msgpackx.AppendBytes(b, bs[i])
	}
	return b
}

// decodeTexts reads the texts element into d, whose store and context are
// decoded. values is how many values the caps still allow: a record and
// each of its runs count as one.
func decodeTexts(r *msgpackx.Reader, d *Doc, lim msgpackx.Limits, values int) error {
	n := r.ArrayHeader()
	if r.Err() != nil {
		return r.Err()
	}
	if n == 0 {
		return notCanonical("empty texts element (omitted when empty)")
	}
	if n > values {
		return overCap(ErrTooManyValues, values)
	}
	tlim := text.DeltaLimits
	tlim.MaxBytes = lim.MaxBytes
	d.texts = make(map[crdt.Dot]*textRec, n)
	var prev crdt.Dot
	for i := 0; i < n; i++ {
		if r.ArrayHeader() != 3 {
			if r.Err() != nil {
				return r.Err()
			}
			return fmt.Errorf("%w: record %d is not [replica, counter, text]", ErrBadText, i)
		}
		rb := r.StringBytes()
		c := r.Uint()
		raw := r.Raw()
		if r.Err() != nil {
			return r.Err()
		}
		if len(rb) == 0 || !utf8.Valid(rb) {
			return fmt.Errorf("%w: record %d: replica %q", ErrBadText, i, rb)
		}
		m := crdt.Dot{Replica: crdt.ReplicaID(rb), Counter: c}
		if c == 0 || c > crdt.MaxCounter {
			return fmt.Errorf("%w: record %v: counter out of range", ErrBadText, m)
		}
		if i > 0 && compareDots(prev, m) >= 0 {
			return notCanonical("text record %v does not follow %v", m, prev)
		}
		prev = m
		payload, err := binBytes(raw)
		if err != nil {
			return fmt.Errorf("%w: record %v: %w", ErrBadText, m, err)
		}
		td, err := text.DecodeDelta(payload, tlim)
		if err != nil {
			if errors.Is(err, text.ErrNotCanonical) {
				return notCanonical("text record %v: %v", m, err)
			}
			return fmt.Errorf("%w: record %v: %w", ErrBadText, m, err)
		}
		if values -= 1 + len(td.Runs); values < 0 {
			return overCap(ErrTooManyValues, values)
		}
		if d.textRemoved(m) {
			return notCanonical("text record %v whose marker the context removes", m)
		}
		for j := range td.Runs {
			x := &td.Runs[j]
			if !covers(&d.ctx, x.ID.Replica, x.ID.Counter, x.Last().Counter) {
				return fmt.Errorf("%w: record %v: run %v is not in the context", ErrBadText, m, x.ID)
			}
			if d.store.Has(x.ID) {
				return fmt.Errorf("%w: record %v: run %v reuses a value's dot", ErrBadText, m, x.ID)
			}
		}
		rec := newTextRec()
		rec.add(&td)
		if rec.isEmpty() {
			return notCanonical("empty text record %v", m)
		}
		if !rec.encodesAs(&td, payload) {
			return notCanonical("text record %v is not in the order its runs place in", m)
		}
		d.texts[m] = rec
	}
	return nil
}

// encodesAs reports whether r encodes as payload, the bytes text.DecodeDelta
// read td from, and keeps payload as r's encoding when it does. A delta
// that decodes re-encodes to exactly its bytes (text.DecodeDelta), so when
// r holds td as is — in DeltaSince's form, the runs in the order they
// place in — r's encoding is payload without encoding r: the common case,
// a record in the order it was written. Otherwise r is encoded and
// compared. payload must not be written to after (Decode's own copy of its
// input).
func (r *textRec) encodesAs(td *text.Delta, payload []byte) bool {
	d := r.since(nil)
	if slices.Equal(d.Runs, td.Runs) && slices.Equal(d.Deleted, td.Deleted) {
		r.enc.Store(&payload)
		return true
	}
	return string(r.encode()) == string(payload)
}

// covers reports whether c holds every counter lo..hi of replica.
func covers(c *crdt.Context, replica crdt.ReplicaID, lo, hi uint64) bool {
	for _, rg := range c.Ranges(replica) {
		if rg.Lo <= lo && hi <= rg.Hi {
			return true
		}
		if rg.Lo > lo {
			return false
		}
	}
	return false
}

// binBytes returns the payload of one msgpack bin value in its shortest
// header.
func binBytes(raw []byte) ([]byte, error) {
	if len(raw) == 0 {
		return nil, errors.New("text is not a bin")
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
		return nil, fmt.Errorf("text is not a bin (0x%02x)", raw[0])
	}
	if len(raw) < hdr {
		return nil, errors.New("text is a truncated bin")
	}
	n := len(raw) - hdr
	if (hdr == 3 && n <= 0xff) || (hdr == 5 && n <= 0xffff) {
		return nil, notCanonical("bin of %d bytes with a %d-byte header", n, hdr)
	}
	return raw[hdr:], nil
}
