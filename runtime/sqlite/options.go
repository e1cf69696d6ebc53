package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
)

// Defaults of the options.
const (
	// DefaultTable is the name of the table that holds the entries.
	DefaultTable = "picocache"
	// DefaultBusyTimeout is how long an operation waits, for this
	// process's writer connection and another process's write lock
	// together, before it fails (with SQLITE_BUSY): the store's Bound.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultReaders is the number of connections that serve reads in
	// parallel, besides the single writer connection.
	DefaultReaders = 4
)

// An Option changes how Open opens a store.
type Option func(*options) error

type options struct {
	table       string
	busyTimeout time.Duration
	readers     int
	recovery    bool
	flushDelay  time.Duration
	prune       time.Duration // WithPrune's; 0 for none
}

func defaultOptions() options {
	return options{table: DefaultTable, busyTimeout: DefaultBusyTimeout, readers: DefaultReaders, recovery: true, flushDelay: storekit.DefaultFlushDelay}
}

// WithTable keeps the entries in the named table (DefaultTable if not
// given), so that several independent caches can share one file. The
// store also creates the table name+"_ns" (the namespaces: one row per
// function, with its id and entry count), and indexes and triggers named
// with the table's name as prefix; in a file where a table of that name
// has another shape (an earlier release's), it uses name+"_v2" instead
// (see the package documentation). name must be a plain identifier: a
// letter or underscore, then up to 47 letters, digits or underscores.
func WithTable(name string) Option {
	return func(o *options) error {
		if err := storekit.CheckTable(name); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		o.table = name
		return nil
	}
}

// WithFlushDelay sets how long the recency of a hit of a bounded function
// may stay in the process before the store applies it to the file, when
// no Set of that function from this process applies it sooner (default
// storekit's DefaultFlushDelay, 1 s; zero or less means the default).
// Until then other processes' evictions do not see the hit. The URL
// parameter flush=DURATION sets it too.
func WithFlushDelay(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			d = storekit.DefaultFlushDelay
		}
		o.flushDelay = d
		return nil
	}
}

// WithPrune makes the store delete, by itself, the namespaces (functions
// and versions) that no process used for unusedFor: about a minute after
// opening, then once a day, in the background, as runtime.Prune does; it
// stops when the store closes. Off by default. 720h (30 days) suits most
// programs: every deploy that changes a function starts a new version,
// and the old one's entries go a month after the last process that used
// it. The URL parameter prune=DURATION sets it too.
func WithPrune(unusedFor time.Duration) Option {
	return func(o *options) error {
		if unusedFor < 0 {
			return fmt.Errorf("sqlite: WithPrune(%v): the duration is negative", unusedFor)
		}
		o.prune = unusedFor
		return nil
	}
}

// pruneInterval is how often a store told to prune does so.
const pruneInterval = 24 * time.Hour

// WithBusyTimeout sets how long an operation waits before it fails, for
// a lock held by another process and for this process's writer
// connection together (DefaultBusyTimeout if not given; SQLite's
// busy_timeout, millisecond resolution). It is the store's Bound. Zero
// fails at once.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("sqlite: negative busy timeout %v", d)
		}
		o.busyTimeout = d
		return nil
	}
}

// WithReaders sets the number of connections that serve reads in
// parallel (DefaultReaders if not given). Writes always go through one
// connection: SQLite admits one writer at a time.
func WithReaders(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 256 {
			return fmt.Errorf("sqlite: readers %d: want 1 to 256", n)
		}
		o.readers = n
		return nil
	}
}

// WithRecovery sets whether the store moves a file that is not a SQLite
// database, or is damaged, aside and starts a fresh one (true, the
// default). With false, Open of such a file fails with an error that
// names it and says what to do, and so does every operation on a file
// that turns out damaged later. See the package documentation.
func WithRecovery(on bool) Option {
	return func(o *options) error {
		o.recovery = on
		return nil
	}
}

func init() {
	runtime.RegisterScheme("sqlite", openURL)
}

// openURL is the runtime.Opener of the "sqlite" scheme.
func openURL(ctx context.Context, rawURL string) (runtime.Store, error) {
	path, opts, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return OpenContext(ctx, path, opts...)
}

// ParseURL splits a sqlite: store URL into the database file path and
// the options its query sets. The forms are:
//
//	sqlite:relative/path.db          relative to the working directory
//	sqlite:/abs/path.db              absolute
//	sqlite:///abs/path.db            absolute, empty host
//	sqlite://localhost/abs/path.db   absolute, host localhost
//
// Percent-escapes in the path are decoded. Query parameters:
//
//	table=NAME            WithTable
//	busy_timeout=DUR      WithBusyTimeout; a Go duration ("10s") or milliseconds ("10000")
//	readers=N             WithReaders
//	recovery=BOOL         WithRecovery; true or false (also 1, 0, t, f)
//	flush=DUR             WithFlushDelay; a Go duration ("250ms") or milliseconds
//	prune=DUR             WithPrune; a Go duration ("720h")
//
// Any other parameter, or a host other than localhost, is an error.
func ParseURL(rawURL string) (path string, opts []Option, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: bad store URL: %w", err)
	}
	if !strings.EqualFold(u.Scheme, "sqlite") {
		return "", nil, fmt.Errorf("sqlite: store URL %q: scheme is not sqlite", u.Redacted())
	}
	if u.User != nil {
		return "", nil, fmt.Errorf("sqlite: store URL %q: a SQLite file takes no user or password", u.Redacted())
	}
	if u.Fragment != "" {
		return "", nil, fmt.Errorf("sqlite: store URL %q: unexpected fragment #%s (escape # in a path as %%23)", u.Redacted(), u.Fragment)
	}
	switch {
	case u.Opaque != "":
		// sqlite:relative/path.db
		path, err = url.PathUnescape(u.Opaque)
		if err != nil {
			return "", nil, fmt.Errorf("sqlite: store URL %q: %w", rawURL, err)
		}
	default:
		host := u.Hostname()
		if host != "" && !strings.EqualFold(host, "localhost") || u.Port() != "" {
			return "", nil, fmt.Errorf("sqlite: store URL %q: host %q: a SQLite store is a local file; write sqlite:relative/path.db, sqlite:/abs/path.db or sqlite:///abs/path.db", rawURL, u.Host)
		}
		path = u.Path
	}
	if path == "" {
		return "", nil, fmt.Errorf("sqlite: store URL %q names no file; write for example sqlite:picocache.db", rawURL)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: store URL %q: bad query: %w", rawURL, err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return "", nil, fmt.Errorf("sqlite: store URL %q: parameter %q given %d times", rawURL, name, len(vals))
		}
		v := vals[0]
		switch name {
		case "table":
			opts = append(opts, WithTable(v))
		case "busy_timeout":
			d, err := parseTimeout(v)
			if err != nil {
				return "", nil, fmt.Errorf("sqlite: store URL %q: busy_timeout=%q: want a duration such as 5s, or milliseconds", rawURL, v)
			}
			opts = append(opts, WithBusyTimeout(d))
		case "readers":
			n, err := strconv.Atoi(v)
			if err != nil {
				return "", nil, fmt.Errorf("sqlite: store URL %q: readers=%q: want a number", rawURL, v)
			}
			opts = append(opts, WithReaders(n))
		case "recovery":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return "", nil, fmt.Errorf("sqlite: store URL %q: recovery=%q: want true or false", rawURL, v)
			}
			opts = append(opts, WithRecovery(on))
		case "flush":
			d, err := parseTimeout(v)
			if err != nil || d <= 0 {
				return "", nil, fmt.Errorf("sqlite: store URL %q: flush=%q: want a positive duration such as 1s, or milliseconds", rawURL, v)
			}
			opts = append(opts, WithFlushDelay(d))
		case "prune":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return "", nil, fmt.Errorf("sqlite: store URL %q: prune=%q: want a positive duration such as 720h", rawURL, v)
			}
			opts = append(opts, WithPrune(d))
		default:
			return "", nil, fmt.Errorf("sqlite: store URL %q: unknown parameter %q (known: table, busy_timeout, readers, recovery, flush, prune)", rawURL, name)
		}
	}
	// Check the options now, so a bad URL fails before any file is touched.
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return "", nil, err
		}
	}
	return path, opts, nil
}

func parseTimeout(s string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > int64(24*time.Hour/time.Millisecond) {
			return 0, errors.New("out of range")
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return time.ParseDuration(s)
}

// dsn returns the modernc.org/sqlite data source name for the file at
// abs, an absolute path: a file: URI (so that any byte of the path is
// escaped, not taken for a query) with the busy timeout, which modernc
// sets on every new connection (applyQueryParams in
// modernc.org/sqlite@v1.60.1/sqlite.go). synchronous is set by
// connector.Connect, since it reads the file; the journal mode is
// persistent and set once by Open.
func dsn(abs string, o options) string {
	var b strings.Builder
	b.WriteString("file:")
	for i := 0; i < len(abs); i++ {
		c := abs[i]
		switch {
		case c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	fmt.Fprintf(&b, "?_pragma=busy_timeout(%d)", o.busyTimeout.Milliseconds())
	return b.String()
}
