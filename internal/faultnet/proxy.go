package faultnet

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// dialTimeout bounds a connection attempt to the target.
const dialTimeout = 10 * time.Second

// mode is what a Proxy does with new connections.
type mode int

const (
	modeForward mode = iota // dial the target and forward, after delay if set
	modeSilent              // read and drop, never dial the target
	modeCut                 // close at once
)

// A Proxy is safe for concurrent use: its methods may be called from any
// goroutine, also while connections are being forwarded. It forwards every
// TCP connection accepted on a loopback listener to a target address, and
// can be told to misbehave ([Proxy.Silent], [Proxy.Delay], [Proxy.Cut]).
//
// A mode set by a method applies to new connections and, as each method
// documents, to the connections already open. The zero value is not usable;
// a Proxy is made by [Start].
type Proxy struct {
	target string
	ln     net.Listener
	cancel context.CancelFunc // cancels dials in progress
	ctx    context.Context    // done when the Proxy is closed
	wg     sync.WaitGroup     // every goroutine the Proxy started

	mu     sync.Mutex // protects the fields below
	mode   mode
	delay  time.Duration // in modeForward, how long a chunk from the target is held
	links  map[*link]struct{}
	closed bool
}

// A link is one client connection and, once dialed, its connection to the
// target.
type link struct {
	client net.Conn
	server net.Conn // nil until dialed; set once, before the pipes start

	// Guarded by Proxy.mu.
	silent bool          // bytes are read and dropped in both directions
	halves int           // directions that ended with EOF
	closed bool          // both connections closed, done closed
	done   chan struct{} // closed when the link is dropped
}

// Start starts a Proxy listening on 127.0.0.1 (on a port the system picks)
// that forwards to target, and registers its [Proxy.Close] with tb.Cleanup.
// It calls tb.Fatal if it cannot listen, so it must be called from the
// goroutine running the test. The target need not be up yet: it is dialed
// for each connection.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultnet: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		links:  make(map[*link]struct{}),
	}
	p.wg.Go(p.acceptLoop)
	tb.Cleanup(func() { p.Close() })
	return p
}

// Addr returns the address clients should dial instead of the target, as
// "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Forward sets the normal mode, the one a Proxy starts in: new connections
// are forwarded to the target, bytes flow both ways as they come, and a
// delay set by [Proxy.Delay] ends for every connection. A connection made
// silent by [Proxy.Silent] stays silent: the bytes it dropped are lost, so
// resuming would hand its peers a corrupted stream. A healed partition is
// modelled by the connections opened after Forward.
func (p *Proxy) Forward() { p.setForward(0) }

// Delay forwards as [Proxy.Forward] does, but holds each chunk of bytes
// read from the target for at least d before passing it on to the client,
// which adds d (or more) to every reply. Chunks are held one after another,
// on new connections and on every forwarding connection already open; bytes
// from the client to the target are not delayed. Delay(0) is Forward.
func (p *Proxy) Delay(d time.Duration) { p.setForward(max(d, 0)) }

func (p *Proxy) setForward(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.delay = modeForward, d
}

// Silent makes the Proxy a server that accepts and never answers, or a
// network partition: new connections are accepted and read from, the bytes
// dropped, the target never dialed; every connection already open stops
// forwarding in both directions (bytes are read and dropped, both sides stay
// open). A connection opened while silent, or open when Silent is called,
// stays silent until it is closed (by its client, [Proxy.Cut] or
// [Proxy.Close]), even if another mode is set.
func (p *Proxy) Silent() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeSilent
	for l := range p.links {
		l.silent = true
	}
}

// Cut closes every open connection now, on both sides, and until another
// mode is set closes each new connection as soon as it is accepted, so that
// its client sees it closed or reset right after connecting (the listener
// stays open, so the port is not released).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeCut
	for l := range p.links {
		p.dropLocked(l)
	}
}

// Close stops the Proxy: it closes the listener and every connection, and
// returns once every goroutine the Proxy started has ended, which is
// promptly even for connections parked by [Proxy.Silent] or [Proxy.Delay].
// The first call returns the error from closing the listener; later calls
// do nothing and return nil. The cleanup registered by [Start] calls Close.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	p.cancel()
	for l := range p.links {
		p.dropLocked(l)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// acceptLoop accepts connections until the listener is closed.
func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (such as too many open files): wait a
			// little, as net/http's Server does, unless closed meanwhile.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.admit(c)
	}
}

// admit registers c and starts the goroutine that serves it, or closes it
// when the Proxy is cut or closed.
func (p *Proxy) admit(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == modeCut {
		c.Close()
		return
	}
	l := &link{client: c, done: make(chan struct{}), silent: p.mode == modeSilent}
	p.links[l] = struct{}{}
	if l.silent {
		p.wg.Go(func() { p.drain(l) })
	} else {
		p.wg.Go(func() { p.serve(l) })
	}
}

// drain reads and drops what the client of a link accepted in silent mode
// sends, until the client closes it or the link is dropped.
func (p *Proxy) drain(l *link) {
	defer p.drop(l)
	io.Copy(io.Discard, l.client)
}

// serve dials the target for l and forwards both ways.
func (p *Proxy) serve(l *link) {
	d := net.Dialer{Timeout: dialTimeout}
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		// The target is down: the client sees its connection closed.
		p.drop(l)
		return
	}
	p.mu.Lock()
	if l.closed { // cut or closed while dialing
		p.mu.Unlock()
		server.Close()
		return
	}
	l.server = server
	p.mu.Unlock()
	p.wg.Go(func() { p.pipe(l, l.client, server, true) })
	p.pipe(l, server, l.client, false)
}

// pipe copies from src to dst, one chunk at a time, checking for each chunk
// whether l is silent and, when fromTarget, how long to hold it. At EOF it
// half-closes dst (unless silent); the link is dropped when both directions
// have ended, or at once on any other error.
func (p *Proxy) pipe(l *link, dst, src net.Conn, fromTarget bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			silent, delay := p.chunkMode(l, fromTarget)
			if !silent {
				if delay > 0 && !hold(l, delay) {
					return // dropped while holding
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					p.drop(l)
					return
				}
			}
		}
		if err == io.EOF {
			p.endHalf(l, dst)
			return
		}
		if err != nil {
			p.drop(l)
			return
		}
	}
}

// chunkMode reports whether l is silent and, for a chunk from the target,
// how long to hold it.
func (p *Proxy) chunkMode(l *link, fromTarget bool) (silent bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.silent {
		return true, 0
	}
	if fromTarget && p.mode == modeForward {
		delay = p.delay
	}
	return false, delay
}

// hold waits for d, and reports false if l was dropped meanwhile.
func hold(l *link, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

// endHalf passes an EOF on to dst, unless l is silent (a partition passes
// nothing on), and drops l once both directions have ended.
func (p *Proxy) endHalf(l *link, dst net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.closed {
		return
	}
	if !l.silent {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	l.halves++
	if l.halves == 2 {
		p.dropLocked(l)
	}
}

// drop closes both connections of l and forgets it.
func (p *Proxy) drop(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(l)
}

// dropLocked is drop with p.mu held. It does nothing if l is already
// dropped.
func (p *Proxy) dropLocked(l *link) {
	if l.closed {
		return
	}
	l.closed = true
	close(l.done)
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
	delete(p.links, l)
}
