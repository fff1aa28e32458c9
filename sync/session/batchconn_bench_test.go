package session

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkBatchedWrites measures what the writer pays per frame to put
// 300-byte frames on a loopback websocket: gorilla's framing plus the
// write(2), which batchConn makes one per batch. frames=1 is one write per
// frame, the cost of a writer that flushes each frame on its own (and of the
// bare relay); the larger batches are what FlushInterval gathers on a busy
// connection. A client goroutine reads and discards everything.
func BenchmarkBatchedWrites(b *testing.B) {
	for _, k := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("frames=%d", k), func(b *testing.B) {
			up := websocket.Upgrader{ReadBufferSize: readBufferSize, WriteBufferSize: writeBufferSize, WriteBufferPool: &sync.Pool{}}
			type served struct {
				ws *websocket.Conn
				nc *batchConn
			}
			conns := make(chan served, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hw := &hijacker{ResponseWriter: w}
				ws, err := up.Upgrade(hw, r, nil)
				if err != nil {
					return
				}
				conns <- served{ws, hw.conn}
			}))
			defer srv.Close()
			cli, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				b.Fatal(err)
			}
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				for {
					_, r, err := cli.NextReader()
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						return
					}
				}
			}()
			s := <-conns
			frame := make([]byte, 300)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += k {
				_ = s.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				s.nc.hold()
				for j := 0; j < k && i+j < b.N; j++ {
					if err := s.ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.nc.release(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			s.ws.Close()
			cli.Close()
			<-readDone
		})
	}
}
