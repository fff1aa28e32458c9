package storecodec

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/flowsync/flowsync/storage"
)

// Checkpoint record layout (the bbolt store's value; Postgres keeps the
// metadata in columns and the frame in its own):
//
//	bytes 0..3  length of the metadata, big-endian
//	bytes 4..   metadata: JSON of storage.CheckpointMeta without ID
//	then        the document's snapshot frame (EncodeSnapshot)
//
// The frame carries its own checksum; the metadata is small JSON, so a
// damaged one fails to parse rather than read wrong.

// checkpointMeta is what a record keeps of storage.CheckpointMeta (the id
// is the record's key).
type checkpointMeta struct {
	AtMs    int64                     `json:"atMs"`
	Name    string                    `json:"name,omitempty"`
	Authors []string                  `json:"authors"`
	Summary storage.CheckpointSummary `json:"summary"`
}

// EncodeCheckpointMeta returns the JSON metadata of cp.
func EncodeCheckpointMeta(cp storage.NewCheckpoint) []byte {
	b, err := json.Marshal(checkpointMeta{AtMs: cp.AtMs, Name: cp.Name, Authors: cp.Authors, Summary: cp.Summary})
	if err != nil {
		panic(err) // plain fields only: cannot fail
	}
	return b
}

// DecodeCheckpointMeta parses metadata written by EncodeCheckpointMeta
// into m (ID and Bytes are left as they are). An error wraps
// storage.ErrCorrupt.
func DecodeCheckpointMeta(b []byte, m *storage.CheckpointMeta) error {
	var cm checkpointMeta
	if err := json.Unmarshal(b, &cm); err != nil {
		return fmt.Errorf("%w: checkpoint metadata: %w", storage.ErrCorrupt, err)
	}
	m.AtMs, m.Name, m.Authors, m.Summary = cm.AtMs, cm.Name, cm.Authors, cm.Summary
	if m.Authors == nil {
		m.Authors = []string{}
	}
	return nil
}

// EncodeCheckpoint returns the record of cp: its metadata and its
// document's frame; frameLen is the frame's size (CheckpointMeta.Bytes).
func EncodeCheckpoint(cp storage.NewCheckpoint) (record []byte, frameLen int) {
	meta := EncodeCheckpointMeta(cp)
	frame := EncodeSnapshot(cp.Doc)
	out := make([]byte, 0, 4+len(meta)+len(frame))
	out = binary.BigEndian.AppendUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	return append(out, frame...), len(frame)
}

// SplitCheckpoint returns the metadata (with Bytes set, not ID) and the
// frame of a record. An error wraps storage.ErrCorrupt.
func SplitCheckpoint(record []byte) (storage.CheckpointMeta, []byte, error) {
	var m storage.CheckpointMeta
	if len(record) < 4 {
		return m, nil, fmt.Errorf("%w: checkpoint record of %d bytes", storage.ErrCorrupt, len(record))
	}
	n := int(binary.BigEndian.Uint32(record))
	if n > len(record)-4 {
		return m, nil, fmt.Errorf("%w: checkpoint metadata of %d bytes in a record of %d", storage.ErrCorrupt, n, len(record))
	}
	if err := DecodeCheckpointMeta(record[4:4+n], &m); err != nil {
		return m, nil, err
	}
	frame := record[4+n:]
	m.Bytes = len(frame)
	return m, frame, nil
}
