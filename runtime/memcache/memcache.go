package memcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
)

func init() { runtime.RegisterScheme("memcache", openURL) }

func openURL(ctx context.Context, rawURL string) (runtime.Store, error) {
	return Open(ctx, rawURL)
}

// ErrClosed is wrapped by the error of every call on a Store after Close:
// errors.Is(err, ErrClosed) and errors.Is(err, runtime.ErrClosed) hold.
var ErrClosed = kv.ErrClosed

// Defaults that Open and ParseURL apply where the URL does not say
// otherwise.
const (
	// DefaultTimeout bounds each operation of a Store from Open, and
	// its opening: the Store's runtime.Bounder bound (URL: timeout).
	// Open gives the client a fifth of it as its socket timeout.
	DefaultTimeout = 2 * time.Second
	// DefaultPort is the port of an address given without one.
	DefaultPort = 11211
	// DefaultItemSize is memcached's default largest item (its -I
	// option), 1 MiB (URL: item_size).
	DefaultItemSize = 1 << 20
	// DefaultMaxIdleConns is how many idle connections per server the
	// client of a Store from Open keeps (URL: max_idle): gomemcache's own
	// default of 2 would make goroutines beyond two dial for each call.
	DefaultMaxIdleConns = 16
)

// itemOverhead is what an item of memcached holds besides its value: the
// key (at most kv.DefaultMaxKeyLen bytes) and a header of 48 to 64 bytes
// (memcached 1.6, with CAS). 96 leaves a margin.
const itemOverhead = kv.DefaultMaxKeyLen + 96

// socketShare is the part of a Store's bound that Open gives the client
// as its socket timeout; see Adapt for why a call can take four.
const socketShare = 5

// Store is a runtime.Store on memcached: a kv.Store over a gomemcache
// client, whose methods it has (Space, Bound, Promises, Stats). It is safe
// for concurrent use by multiple goroutines, and several processes may
// share the servers; see the package documentation for what the promises
// of runtime.Store become there.
type Store struct {
	*kv.Store
	c   *gomemcache.Client
	a   *adapter
	own bool // Close closes c
}

// New returns a Store on the servers of an existing client. The caller
// keeps the client: Close does not close it.
//
// The Store's bound is five times the client's Timeout (2.5s for
// gomemcache's default of 500ms) unless kv.WithTimeout says otherwise;
// see Adapt for what a shorter one costs. Options are kv's, after the
// Store's own defaults: the name "memcache", items of DefaultItemSize
// (WithItemSize for a server run with another -I).
func New(c *gomemcache.Client, opts ...kv.Option) *Store {
	a := &adapter{c: c, worst: worstCase(c)}
	defaults := []kv.Option{
		kv.WithName("memcache"),
		kv.WithTimeout(socketShare * socketTimeout(c)),
		WithItemSize(DefaultItemSize),
	}
	return &Store{Store: kv.New(a, append(defaults, opts...)...), c: c, a: a}
}

// WithItemSize is the kv option for a server whose largest item (its -I
// option) is n bytes, DefaultItemSize if not given: the Store writes no
// larger item (a key of up to 250 bytes, a value and its header). A larger
// value is not stored, counted in Stats and logged once per function (see
// kv.ErrTooLarge). URL: item_size=N (bytes, or with a suffix k or m).
func WithItemSize(n int) kv.Option { return kv.WithMaxValueLen(max(n-itemOverhead, 1)) }

// Client returns the gomemcache client the Store uses.
func (s *Store) Client() *gomemcache.Client { return s.c }

// Close implements runtime.Store: later calls fail with ErrClosed and, for
// a Store from Open, the client's idle connections are closed. Closing
// twice is a no-op.
func (s *Store) Close() error {
	if err := s.Store.Close(); err != nil {
		return err
	}
	if s.own {
		s.c.Close()
	}
	return nil
}

var (
	_ runtime.Store    = (*Store)(nil)
	_ runtime.Bounder  = (*Store)(nil)
	_ runtime.Promiser = (*Store)(nil)
)

// Open connects to the servers named by a memcache:// URL, in the form
// that ParseURL describes, and returns a Store that owns its client:
// Close closes it. Opening resolves the addresses and asks each server
// for its version, within the Store's bound and ctx; it fails when no
// server answers (one that does not is logged, and its keys fail until it
// answers). Options given here override the URL's.
func Open(ctx context.Context, rawURL string, opts ...kv.Option) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	servers := new(gomemcache.ServerList) // filled by connect
	c := gomemcache.NewFromSelector(servers)
	s := New(c, append(cfg.Options(), opts...)...)
	s.own = true
	// The socket timeout follows the Store's final bound, so that a call
	// never needs a goroutine to keep within it.
	c.Timeout = s.Bound() / socketShare
	c.MaxIdleConns = cfg.MaxIdleConns
	s.a.worst = worstCase(c)
	if err := connect(ctx, servers, c.Timeout, cfg.Addrs, s.Bound()); err != nil {
		s.Close()
		return nil, fmt.Errorf("memcache: connecting to %s: %w", storekit.Redact(rawURL), err)
	}
	return s, nil
}

// connect resolves addrs into servers and pings each server, within
// bound and ctx, and fails unless one answers.
func connect(ctx context.Context, servers *gomemcache.ServerList, timeout time.Duration, addrs []string, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- resolveAndPing(servers, timeout, addrs) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %v", bound)
		}
		return ctx.Err()
	}
}

func resolveAndPing(servers *gomemcache.ServerList, timeout time.Duration, addrs []string) error {
	if err := servers.SetServers(addrs...); err != nil {
		return err
	}
	var resolved []net.Addr
	servers.Each(func(a net.Addr) error { resolved = append(resolved, a); return nil })
	errs := make([]error, len(resolved))
	var wg sync.WaitGroup
	for i, a := range resolved {
		wg.Go(func() {
			one := gomemcache.NewFromSelector(oneServer{a})
			one.Timeout = timeout
			errs[i] = one.Ping()
			one.Close()
		})
	}
	wg.Wait()
	up := 0
	for i, err := range errs {
		if err == nil {
			up++
		} else {
			slog.Warn("picocache: memcached server does not answer; its keys fail until it does", "addr", addrs[i], "err", err)
		}
	}
	if up == 0 {
		return errors.Join(errs...)
	}
	return nil
}

// oneServer is a ServerSelector of one resolved address, to ping it.
type oneServer struct{ a net.Addr }

func (o oneServer) PickServer(string) (net.Addr, error) { return o.a, nil }
func (o oneServer) Each(f func(net.Addr) error) error   { return f(o.a) }

// Config is what a memcache:// URL says, as ParseURL reads it.
type Config struct {
	// Addrs are the servers, host:port each, in the URL's order: the
	// URL's host, then each addr= parameter. Keys are spread over them
	// by gomemcache's ServerList (CRC-32 of the key, modulo their number).
	Addrs []string
	// Timeout is the Store's bound (timeout=DURATION, default
	// DefaultTimeout); the client's socket timeout is a fifth of it.
	Timeout time.Duration
	// MaxIdleConns is the client's idle connections per server
	// (max_idle=N, default DefaultMaxIdleConns).
	MaxIdleConns int
	// ItemSize is the servers' largest item (item_size=N, bytes or
	// with a suffix k or m, default DefaultItemSize); see WithItemSize.
	ItemSize int
	// Prefix begins every key (prefix=STR, default kv.DefaultPrefix).
	Prefix string
	// Refresh is how long a generation is used before it is read again
	// (refresh=DURATION, default kv.DefaultRefresh); see kv.WithRefresh.
	Refresh time.Duration
}

// Options returns the kv options that Open uses for c.
func (c Config) Options() []kv.Option {
	return []kv.Option{
		kv.WithTimeout(c.Timeout),
		WithItemSize(c.ItemSize),
		kv.WithPrefix(c.Prefix),
		kv.WithRefresh(c.Refresh),
	}
}

// urlParams are the parameters ParseURL knows.
var urlParams = []string{"addr", "item_size", "max_idle", "prefix", "refresh", "timeout"}

// ParseURL returns what Open makes of rawURL:
//
//	memcache://host[:port][?option=value&...]
//	memcache://h1:11211?addr=h2:11211&addr=h3   several servers
//
// Options: addr=HOST[:PORT] (repeatable), timeout=DURATION,
// max_idle=N, item_size=N (bytes, or 512k, 2m), prefix=STR (printable
// ASCII, no spaces, up to 64 bytes), refresh=DURATION. The port defaults
// to DefaultPort. memcached's text protocol has no passwords, so a URL
// with user information is an error, as are an unknown option, a path and
// a fragment; Unix sockets are not named by URL (give New a client).
// Errors name the URL without its password.
func ParseURL(rawURL string) (Config, error) {
	// storekit.ParseURL, not url.Parse: url.Parse's error repeats the
	// whole URL, password included.
	u, err := storekit.ParseURL(rawURL)
	if err != nil {
		return Config{}, fmt.Errorf("memcache: bad URL: %w", err)
	}
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("memcache: bad URL %s: %s", storekit.Redact(rawURL), fmt.Sprintf(format, args...))
	}
	if !strings.EqualFold(u.Scheme, "memcache") {
		return Config{}, fmt.Errorf("memcache: URL scheme %q is not memcache", u.Scheme)
	}
	if u.User != nil {
		return bad("memcached's text protocol has no user or password")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return bad("a path is not allowed")
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return bad("a fragment is not allowed")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("bad query")
	}
	for k := range q {
		if !slices.Contains(urlParams, k) {
			return bad("unknown parameter %q (known: %s)", k, strings.Join(urlParams, ", "))
		}
		if k != "addr" && len(q[k]) > 1 {
			return bad("parameter %q given twice", k)
		}
	}
	cfg := Config{
		Timeout:      DefaultTimeout,
		MaxIdleConns: DefaultMaxIdleConns,
		ItemSize:     DefaultItemSize,
		Prefix:       kv.DefaultPrefix,
		Refresh:      kv.DefaultRefresh,
	}
	for _, h := range append([]string{u.Host}, q["addr"]...) {
		a, err := hostPort(h)
		if err != nil {
			return bad("%v", err)
		}
		cfg.Addrs = append(cfg.Addrs, a)
	}
	for name, dst := range map[string]*time.Duration{"timeout": &cfg.Timeout, "refresh": &cfg.Refresh} {
		if q.Has(name) {
			d, err := time.ParseDuration(q.Get(name))
			if err != nil || d <= 0 {
				return bad("%s %q is not a positive duration such as 2s", name, q.Get(name))
			}
			*dst = d
		}
	}
	if q.Has("max_idle") {
		n, err := strconv.Atoi(q.Get("max_idle"))
		if err != nil || n < 1 {
			return bad("max_idle %q is not a positive count", q.Get("max_idle"))
		}
		cfg.MaxIdleConns = n
	}
	if q.Has("item_size") {
		n, ok := parseSize(q.Get("item_size"))
		if !ok || n <= itemOverhead+kv.EnvelopeOverhead {
			return bad("item_size %q is not a size such as 1048576, 1024k or 1m (more than %d bytes)", q.Get("item_size"), itemOverhead+kv.EnvelopeOverhead)
		}
		cfg.ItemSize = n
	}
	if q.Has("prefix") {
		p := q.Get("prefix")
		if len(p) > 64 || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return bad("prefix %q is not up to 64 bytes of printable ASCII without spaces", p)
		}
		cfg.Prefix = p
	}
	return cfg, nil
}

// hostPort returns h, a host with or without a port, as host:port.
func hostPort(h string) (string, error) {
	if h == "" {
		return "", errors.New("no host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port (or a bare IPv6 address in brackets).
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), strconv.Itoa(DefaultPort)
		if strings.ContainsAny(host, "[]/ ") || (strings.Contains(host, ":") && !strings.HasPrefix(h, "[")) {
			return "", fmt.Errorf("address %q is not host or host:port", h)
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
		return "", fmt.Errorf("address %q is not host or host:port", h)
	}
	return net.JoinHostPort(host, port), nil
}

// parseSize parses a byte count: digits, optionally followed by k or m
// (KiB, MiB), as memcached's -I takes it.
func parseSize(v string) (int, bool) {
	mult := 1
	switch {
	case strings.HasSuffix(v, "k"), strings.HasSuffix(v, "K"):
		mult, v = 1<<10, v[:len(v)-1]
	case strings.HasSuffix(v, "m"), strings.HasSuffix(v, "M"):
		mult, v = 1<<20, v[:len(v)-1]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > math.MaxInt32/mult {
		return 0, false
	}
	return n * mult, true
}
