package session

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// recConn is a net.Conn that records every Write and the write deadline in
// force at the time.
type recConn struct {
	net.Conn // nil: only the methods below are used
	mu       sync.Mutex
	writes   [][]byte
	wdl      []time.Time
	deadline time.Time
	fail     error
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	c.wdl = append(c.wdl, c.deadline)
	return len(p), nil
}

func (c *recConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

func TestBatchConnGathersHeldWritesIntoOneWrite(t *testing.T) {
	rc := &recConn{}
	c := newBatchConn(rc)
	d1 := time.Now().Add(time.Second)
	d2 := d1.Add(time.Second)

	c.hold()
	if err := c.SetWriteDeadline(d1); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"frame-1|", "frame-2|"} {
		if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	_ = c.SetWriteDeadline(d2)
	if _, err := c.Write([]byte("frame-3")); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 0 {
		t.Fatalf("%d writes reached the socket while held", len(rc.writes))
	}
	if err := c.release(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 1 || string(rc.writes[0]) != "frame-1|frame-2|frame-3" {
		t.Fatalf("socket writes = %q, want one with the three frames in order", rc.writes)
	}
	if !rc.wdl[0].Equal(d2) {
		t.Fatalf("flushed under deadline %v, want the last one set while held (%v)", rc.wdl[0], d2)
	}
	if c.buf != nil {
		t.Fatal("the batch buffer is still held after release")
	}

	// Released with nothing buffered: no write.
	c.hold()
	if err := c.release(); err != nil || len(rc.writes) != 1 {
		t.Fatalf("empty release: err %v, %d writes", err, len(rc.writes))
	}
}

func TestBatchConnWritesThroughWhenNotHeld(t *testing.T) {
	rc := &recConn{}
	c := newBatchConn(rc)
	d := time.Now().Add(time.Minute)
	_ = c.SetWriteDeadline(d)
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 1 || string(rc.writes[0]) != "pong" || !rc.wdl[0].Equal(d) {
		t.Fatalf("writes %q under %v, want \"pong\" at once under %v", rc.writes, rc.wdl, d)
	}
}

func TestBatchConnBoundsTheBatch(t *testing.T) {
	rc := &recConn{}
	c := newBatchConn(rc)
	chunk := bytes.Repeat([]byte{'a'}, maxBatchBytes/4+1)
	big := bytes.Repeat([]byte{'b'}, maxBatchBytes+1)

	c.hold()
	for range 4 { // the fourth does not fit: the first three go out first
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if len(rc.writes) != 1 || len(rc.writes[0]) != 3*len(chunk) {
		t.Fatalf("after overflowing: %d writes", len(rc.writes))
	}
	// Larger than a whole batch: what is buffered first, then it, alone.
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := c.release(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i, w := range rc.writes {
		if len(w) > maxBatchBytes && !bytes.Equal(w, big) {
			t.Fatalf("write %d is %d bytes, over the bound", i, len(w))
		}
		got = append(got, w...)
	}
	want := append(bytes.Repeat(chunk, 4), big...)
	if !bytes.Equal(got, want) || len(rc.writes) != 3 {
		t.Fatalf("%d writes, %d bytes; want 3 writes of the bytes in order", len(rc.writes), len(got))
	}
}

func TestBatchConnFailureIsFinal(t *testing.T) {
	boom := errors.New("connection reset")
	rc := &recConn{fail: boom}
	c := newBatchConn(rc)
	c.hold()
	if _, err := c.Write([]byte("frame")); err != nil {
		t.Fatalf("buffered write failed: %v", err)
	}
	if err := c.release(); !errors.Is(err, boom) {
		t.Fatalf("release = %v, want %v", err, boom)
	}
	rc.fail = nil
	// Part of a batch may have reached the peer: nothing may follow it.
	if _, err := c.Write([]byte("close")); !errors.Is(err, boom) {
		t.Fatalf("write after a failure = %v, want %v", err, boom)
	}
	if len(rc.writes) != 0 {
		t.Fatalf("%d writes after the failure", len(rc.writes))
	}
}
