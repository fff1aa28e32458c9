package faults

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards every TCP connection it accepts to its current target.
// The test cuts the link (every open connection is closed and new ones are
// refused until Restore), delays it (each chunk is held for the delay in
// both directions, order kept), or retargets it (as a load balancer sending
// the clients to another node). An optional Tap sees the bytes of both
// directions.
type Proxy struct {
	// Static after NewProxy.
	Name string
	ln   net.Listener

	target atomic.Pointer[string]
	down   atomic.Bool
	delay  atomic.Int64 // one way, nanoseconds
	tap    atomic.Pointer[Tap]
	cuts   atomic.Int64

	mu     sync.Mutex // guards links and closed
	links  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup
	nextID atomic.Uint64
}

// link is one proxied connection pair.
type link struct {
	id             uint64
	client, server net.Conn
}

func (l *link) close() {
	_ = l.client.Close()
	_ = l.server.Close()
}

// NewProxy listens on a free loopback port and forwards to target. It is
// closed when the test ends.
func NewProxy(t testing.TB, name, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Name: name, ln: ln, links: make(map[*link]struct{})}
	p.target.Store(&target)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's listen address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is where new connections go.
func (p *Proxy) Target() string { return *p.target.Load() }

// Cut closes every open connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.down.Store(true)
	p.cuts.Add(1)
	p.dropAll()
}

// Restore accepts connections again.
func (p *Proxy) Restore() { p.down.Store(false) }

// IsCut reports whether the link is cut.
func (p *Proxy) IsCut() bool { return p.down.Load() }

// Cuts counts the cuts so far.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// Drop closes the open connections without refusing new ones: the peers
// see a broken connection and reconnect at once.
func (p *Proxy) Drop() { p.dropAll() }

// SetDelay holds every chunk for d in each direction (0: none).
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Retarget sends new connections to target and drops the open ones, as a
// load balancer does when a node leaves it.
func (p *Proxy) Retarget(target string) {
	p.target.Store(&target)
	p.dropAll()
}

// SetTap makes tap see every connection opened from now on.
func (p *Proxy) SetTap(tap *Tap) { p.tap.Store(tap) }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.down.Store(true)
	p.dropAll()
	p.wg.Wait()
}

func (p *Proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.Target(), 2*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	l := &link{id: p.nextID.Add(1), client: c, server: up}
	p.mu.Lock()
	if p.down.Load() || p.closed { // cut while dialing
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var toServer, toClient func([]byte)
	if tap := p.tap.Load(); tap != nil {
		toServer, toClient = tap.open(p.Name, l.id)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(up, c, toServer) }()
	go func() { defer wg.Done(); p.pipe(c, up, toClient) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// chunk is bytes read at a time, written after the delay.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst until either fails, through a queue so that a
// delay holds each chunk without slowing the reads behind it.
func (p *Proxy) pipe(dst, src net.Conn, observe func([]byte)) {
	defer func() {
		_ = dst.Close()
		_ = src.Close()
	}()
	q := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range q {
			if wait := time.Until(ch.at); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := dst.Write(ch.b); err != nil {
				_ = src.Close()
				for range q { // drain so the reader never blocks
				}
				return
			}
		}
	}()
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			if observe != nil {
				observe(buf[:n])
			}
			q <- chunk{b: buf[:n], at: time.Now().Add(time.Duration(p.delay.Load()))}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
}
