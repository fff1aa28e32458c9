package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256>" (see Sign).
	HeaderSignature = "Flowsync-Signature"
	// HeaderEventID is the event's id, the same on every attempt and for
	// every URL: the receiver's idempotency key.
	HeaderEventID = "Flowsync-Event-Id"
	// HeaderEventType is the event's type, e.g. "workflow.changed".
	HeaderEventType = "Flowsync-Event-Type"
)

// DefaultTolerance is how old a signature Verify accepts by default: long
// enough for clock skew and a slow hop, short enough that a captured
// request cannot be replayed much later.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: missing or malformed " + HeaderSignature + " header")
	ErrBadSignature = errors.New("webhook: signature does not match the body")
	ErrTooOld       = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the HeaderSignature value for body sent at t: the
// timestamp is signed with the body, so a receiver that checks its age
// refuses replays of old requests.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header (a HeaderSignature value) against body and secret,
// and that its timestamp is within tolerance of now (either side; zero
// tolerance means DefaultTolerance). Several v1 entries are allowed (one
// matching is enough), so a sender may sign with an old and a new secret
// while they rotate. It returns nil, ErrNoSignature, ErrTooOld or
// ErrBadSignature.
func Verify(secret, body []byte, header string, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrNoSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil {
				return ErrNoSignature
			}
			sigs = append(sigs, b)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
