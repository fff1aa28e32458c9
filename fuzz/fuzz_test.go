package fuzz

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// byteSource turns fuzz input into the simulator's random choices, so the
// fuzzer's mutations steer operations and delivery order directly. When the
// input runs out it continues with a PCG seeded from the input's length.
type byteSource struct {
	data []byte
	tail *rand.PCG
}

func (s *byteSource) Uint64() uint64 {
	if len(s.data) >= 8 {
		v := binary.LittleEndian.Uint64(s.data)
		s.data = s.data[8:]
		return v
	}
	if s.tail == nil {
		var buf [8]byte
		copy(buf[:], s.data)
		s.tail = rand.NewPCG(binary.LittleEndian.Uint64(buf[:]), 0x5eed)
	}
	return s.tail.Uint64()
}

// FuzzConvergence derives a whole simulation (operations, delivery order,
// losses, duplicates, anti-entropy) from the fuzz input and requires every
// replica to converge.
func FuzzConvergence(f *testing.F) {
	for _, seed := range []string{"", "a", "convergence", "\x00\x01\x02\x03\x04\x05\x06\x07\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"} {
		f.Add([]byte(seed), uint8(40))
	}
	f.Fuzz(func(t *testing.T, data []byte, steps uint8) {
		rep, err := Run(Config{Steps: 1 + int(steps), Replicas: 3, Source: &byteSource{data: data}})
		if err != nil {
			t.Fatalf("%v (%v)", err, rep)
		}
	})
}
