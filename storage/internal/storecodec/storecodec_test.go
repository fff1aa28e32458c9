package storecodec_test

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
	"github.com/flowsync/flowsync/storage/storagetest"
)

func TestSnapshotFormats(t *testing.T) {
	doc, _ := storagetest.Edits(t, "r1", 20)
	for _, f := range []byte{storecodec.FormatRaw, storecodec.FormatFlate} {
		frame := storecodec.EncodeSnapshotFormat(doc, f)
		got, err := storecodec.DecodeSnapshot(frame)
		if err != nil || !got.Equal(doc) {
			t.Fatalf("format %#x: round trip failed: %v", f, err)
		}
		for i := range frame {
			bad := append([]byte(nil), frame...)
			bad[i] ^= 0x10
			if _, err := storecodec.DecodeSnapshot(bad); !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("format %#x: flipping byte %d: err = %v, want ErrCorrupt", f, i, err)
			}
		}
		if _, err := storecodec.DecodeSnapshot(frame[:len(frame)-1]); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("format %#x: truncated frame accepted", f)
		}
	}
	if _, err := storecodec.DecodeSnapshot(nil); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatal("empty frame accepted")
	}
}
