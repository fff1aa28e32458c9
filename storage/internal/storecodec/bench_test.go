package storecodec_test

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	"github.com/flowsync/flowsync/storage/internal/storecodec"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// Snapshot compression: is it worth it? Size and time of the frame of a
// 10,000-block document, raw and through compress/flate, both ways.
func BenchmarkSnapshotCodec(b *testing.B) {
	doc, _ := storagetest.BigDoc(b, 10_000, 0)
	raw := storecodec.EncodeSnapshotFormat(doc, storecodec.FormatRaw)
	b.Run("encode/raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			storecodec.EncodeSnapshotFormat(doc, storecodec.FormatRaw)
		}
		b.ReportMetric(float64(len(raw)), "bytes")
	})
	b.Run("decode/raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := storecodec.DecodeSnapshot(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	comp := storecodec.EncodeSnapshot(doc)
	b.Run("encode/flate-frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			storecodec.EncodeSnapshot(doc)
		}
		b.ReportMetric(float64(len(comp)), "bytes")
	})
	b.Run("decode/flate-frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := storecodec.DecodeSnapshot(comp); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, level := range []int{flate.BestSpeed, flate.DefaultCompression} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		w.Write(raw)
		w.Close()
		comp := buf.Bytes()
		b.Run("compress/flate-"+map[int]string{1: "1", -1: "default"}[level], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var out bytes.Buffer
				w, _ := flate.NewWriter(&out, level)
				w.Write(raw)
				w.Close()
			}
			b.ReportMetric(float64(len(comp)), "bytes")
		})
		b.Run("decompress/flate-"+map[int]string{1: "1", -1: "default"}[level], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := io.ReadAll(flate.NewReader(bytes.NewReader(comp))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
