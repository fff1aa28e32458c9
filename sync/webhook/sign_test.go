package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	body := []byte(`{"id":"evt_1","type":"workflow.changed"}`)
	now := time.Unix(1_800_000_000, 0)
	good := Sign(secret, body, now)
	cases := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		now    time.Time
		want   error
	}{
		{"good", secret, body, good, now, nil},
		{"good, 4 min late", secret, body, good, now.Add(4 * time.Minute), nil},
		{"wrong secret", []byte(strings.Repeat("x", 32)), body, good, now, ErrBadSignature},
		{"tampered body", secret, []byte(`{"id":"evt_2","type":"workflow.changed"}`), good, now, ErrBadSignature},
		{"old timestamp", secret, body, good, now.Add(6 * time.Minute), ErrTooOld},
		{"future timestamp", secret, body, good, now.Add(-6 * time.Minute), ErrTooOld},
		{"timestamp changed", secret, body, strings.Replace(good, "t=1800000000", "t=1800000001", 1), now, ErrBadSignature},
		{"missing", secret, body, "", now, ErrNoSignature},
		{"no v1", secret, body, "t=1800000000", now, ErrNoSignature},
		{"not hex", secret, body, "t=1800000000,v1=zz", now, ErrNoSignature},
		{"rotation: second v1 matches", secret, body, "t=1800000000,v1=" + strings.Repeat("00", 32) + "," + good[len("t=1800000000,"):], now, nil},
	}
	for _, c := range cases {
		if err := Verify(c.secret, c.body, c.header, 0, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}
