package webhook

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The queue file (Config.QueuePath) has three buckets:
//
//   - records: one delivery (an event for one URL) per key, the key a
//     big-endian uint64 from the bucket's sequence, so keys never repeat;
//   - windows: the open debounce windows, by workflow id, so that edits
//     gathered when the process dies are still reported after a restart;
//   - sequence: the last event sequence number per workflow.
var (
	bucketRecords  = []byte("records")
	bucketWindows  = []byte("windows")
	bucketSequence = []byte("sequence")
)

// record is one queued delivery.
type record struct {
	EventID  string    `json:"id"`
	Type     string    `json:"type"`
	URL      string    `json:"url"`
	Body     []byte    `json:"body"`
	Created  time.Time `json:"created"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next"`
}

// storedWindow is an open debounce window as written to the file.
type storedWindow struct {
	Opened time.Time `json:"opened"`
	Users  []string  `json:"users"`
}

// queue is the bbolt file. Its methods are safe for concurrent use (bbolt
// serializes writers).
type queue struct {
	db *bolt.DB
}

func openQueue(path string) (*queue, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("webhook: open queue %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketWindows, bucketSequence} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("webhook: init queue %s: %w", path, err)
	}
	return &queue{db: db}, nil
}

func (q *queue) close() error { return q.db.Close() }

func key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// loadAll returns every queued record's key and next attempt time, and
// every open window.
func (q *queue) loadAll() (map[uint64]time.Time, map[string]storedWindow, error) {
	recs := map[uint64]time.Time{}
	wins := map[string]storedWindow{}
	err := q.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil || len(k) != 8 {
				return fmt.Errorf("webhook: queue record %x unreadable: %v", k, err)
			}
			recs[binary.BigEndian.Uint64(k)] = r.Next
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketWindows).ForEach(func(k, v []byte) error {
			var w storedWindow
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("webhook: queue window %q unreadable: %v", k, err)
			}
			wins[string(k)] = w
			return nil
		})
	})
	return recs, wins, err
}

// putWindows writes open windows.
func (q *queue) putWindows(ws map[string]storedWindow) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWindows)
		for id, w := range ws {
			v, _ := json.Marshal(w)
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// errFull is returned by enqueue when the records would pass the bound.
var errFull = errors.New("webhook: queue full")

// enqueue adds one record per URL for an event of workflowID (empty for
// none) built by build from the workflow's next sequence number, and
// closes the workflow's window if closeWindow, all in one transaction.
// With full, it only closes the window and returns errFull: the event is
// dropped rather than kept to grow the file.
func (q *queue) enqueue(workflowID string, closeWindow, full bool, urls []string, build func(seq uint64) (record, error)) (keys []uint64, err error) {
	// Batch: concurrent callers (admin requests, the debounce loop) share
	// one commit, and one fsync. The function may run again if another in
	// the batch fails, so it starts from nothing each time.
	err = q.db.Batch(func(tx *bolt.Tx) error {
		keys = nil
		if closeWindow {
			if err := tx.Bucket(bucketWindows).Delete([]byte(workflowID)); err != nil {
				return err
			}
		}
		if full {
			return nil
		}
		var seq uint64
		if workflowID != "" {
			sb := tx.Bucket(bucketSequence)
			if v := sb.Get([]byte(workflowID)); len(v) == 8 {
				seq = binary.BigEndian.Uint64(v)
			}
			seq++
			if err := sb.Put([]byte(workflowID), key(seq)); err != nil {
				return err
			}
		}
		r, err := build(seq)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketRecords)
		for _, u := range urls {
			n, err := b.NextSequence()
			if err != nil {
				return err
			}
			r.URL = u
			v, _ := json.Marshal(r)
			if err := b.Put(key(n), v); err != nil {
				return err
			}
			keys = append(keys, n)
		}
		return nil
	})
	if err == nil && keys == nil {
		err = errFull
	}
	return keys, err
}

// get reads one record.
func (q *queue) get(k uint64) (record, error) {
	var r record
	err := q.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get(key(k))
		if v == nil {
			return fmt.Errorf("webhook: queue record %d missing", k)
		}
		return json.Unmarshal(v, &r)
	})
	return r, err
}

// put rewrites one record (after a failed attempt).
func (q *queue) put(k uint64, r record) error {
	v, _ := json.Marshal(r)
	return q.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Put(key(k), v) })
}

// remove deletes one record (delivered or given up). The workers' removes
// share commits (Batch): a delivered record found again after a crash is
// only sent again, under its id.
func (q *queue) remove(k uint64) error {
	return q.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Delete(key(k)) })
}
