package faultnet_test

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/faultnet"
)

// wait bounds every read a test expects to succeed or fail, so that a bug
// fails the test instead of hanging it.
const wait = 3 * time.Second

// echo is an echo server on loopback that counts the connections it accepts.
type echo struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup

	mu    sync.Mutex // protects conns
	conns map[net.Conn]struct{}
}

// startEcho starts an echo server; tb.Cleanup closes it.
func startEcho(tb testing.TB) *echo {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e := &echo{ln: ln, conns: make(map[net.Conn]struct{})}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			e.mu.Lock()
			e.conns[c] = struct{}{}
			e.mu.Unlock()
			e.wg.Go(func() {
				io.Copy(c, c)
				c.Close()
				e.mu.Lock()
				delete(e.conns, c)
				e.mu.Unlock()
			})
		}
	})
	tb.Cleanup(e.close)
	return e
}

// close closes the listener and every connection, and waits for the
// server's goroutines. It may be called more than once.
func (e *echo) close() {
	e.ln.Close()
	e.mu.Lock()
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

func (e *echo) addr() string { return e.ln.Addr().String() }

// dial connects to the proxy; tb.Cleanup closes the connection.
func dial(tb testing.TB, p *faultnet.Proxy) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg to c and reads it back.
func roundTrip(tb testing.TB, c net.Conn, msg string) {
	tb.Helper()
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		tb.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		tb.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		tb.Fatalf("read %q, want %q", got, msg)
	}
}

// expectSilence writes msg to c and checks that nothing comes back within
// 300ms and that the connection stays open.
func expectSilence(tb testing.TB, c net.Conn, msg string) {
	tb.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		tb.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	n, err := c.Read(make([]byte, 64))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		tb.Fatalf("read = %d bytes, %v; want 0 bytes and a timeout", n, err)
	}
}

// expectClosed checks that a read from c fails at once with an error that is
// not a timeout (EOF, or the connection reset).
func expectClosed(tb testing.TB, c net.Conn) {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(make([]byte, 64))
	var ne net.Error
	if n != 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("read = %d bytes, %v; want 0 bytes and EOF or a reset", n, err)
	}
}

func TestForward(t *testing.T) {
	e := startEcho(t)
	p := faultnet.Start(t, e.addr())
	c := dial(t, p)
	roundTrip(t, c, "hello")
	roundTrip(t, c, "again")
	roundTrip(t, dial(t, p), "second connection")
}

func TestForwardHalfClose(t *testing.T) {
	e := startEcho(t)
	p := faultnet.Start(t, e.addr())
	c := dial(t, p)
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, "last words")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c) // the echo server sees EOF and closes, which reaches c
	if err != nil || string(got) != "last words" {
		t.Fatalf("ReadAll = %q, %v; want %q, nil", got, err, "last words")
	}
}

func TestSilent(t *testing.T) {
	e := startEcho(t)
	p := faultnet.Start(t, e.addr())
	before := dial(t, p)
	roundTrip(t, before, "before")

	p.Silent()
	accepted := e.accepted.Load()
	expectSilence(t, before, "ping")
	during := dial(t, p)
	expectSilence(t, during, "ping")
	if n := e.accepted.Load(); n != accepted {
		t.Errorf("target accepted %d connections while silent, want 0", n-accepted)
	}

	// Forward again: new connections work, silent ones stay silent.
	p.Forward()
	roundTrip(t, dial(t, p), "after")
	expectSilence(t, before, "still there?")
	expectSilence(t, during, "still there?")
}

func TestDelay(t *testing.T) {
	const d = 200 * time.Millisecond
	e := startEcho(t)
	p := faultnet.Start(t, e.addr())
	before := dial(t, p)
	roundTrip(t, before, "warm up")

	p.Delay(d)
	for name, c := range map[string]net.Conn{"existing": before, "new": dial(t, p)} {
		start := time.Now()
		roundTrip(t, c, "slow")
		// A lower bound only (the proxy holds the reply at least d); no
		// upper bound, which a loaded machine could break.
		if took := time.Since(start); took < d*3/4 {
			t.Errorf("%s connection: round trip took %v, want at least %v", name, took, d)
		}
	}

	p.Forward()
	start := time.Now()
	roundTrip(t, before, "fast again")
	t.Logf("round trip after Forward: %v", time.Since(start)) // informative only
}

func TestCut(t *testing.T) {
	e := startEcho(t)
	p := faultnet.Start(t, e.addr())
	before := dial(t, p)
	roundTrip(t, before, "before")

	p.Cut()
	expectClosed(t, before)
	// The listener stays open, so a dial may succeed; the connection is
	// then closed at once.
	if c, err := net.DialTimeout("tcp", p.Addr(), wait); err == nil {
		defer c.Close()
		expectClosed(t, c)
	}

	p.Forward()
	roundTrip(t, dial(t, p), "after")
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens on addr now
	p := faultnet.Start(t, addr)
	expectClosed(t, dial(t, p))
}

// TestCloseParked closes a Proxy with connections parked in every way one can
// be (reading in silence, forwarding made silent, holding a delayed reply)
// and checks that Close returns promptly and that every
// goroutine ends.
func TestCloseParked(t *testing.T) {
	base := runtime.NumGoroutine()

	e := startEcho(t)
	p := faultnet.Start(t, e.addr())
	var conns []net.Conn
	open := func() net.Conn {
		c := dial(t, p)
		conns = append(conns, c)
		return c
	}
	held := open()
	roundTrip(t, held, "x")
	roundTrip(t, open(), "y") // forwarding, made silent below
	p.Delay(time.Hour)
	io.WriteString(held, "held for an hour") // the reply is held by the proxy
	time.Sleep(50 * time.Millisecond)        // let the reply reach the proxy
	p.Silent()
	expectSilence(t, open(), "never answered")
	expectSilence(t, open(), "never answered")

	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	for _, c := range conns {
		expectClosed(t, c)
	}
	e.close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
