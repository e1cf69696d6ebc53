package sqlite

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// with returns the default options changed by change.
func with(change func(o *options)) options {
	o := defaultOptions()
	change(&o)
	return o
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url, path string
		want      options
	}{
		{"sqlite:picocache.db", "picocache.db", defaultOptions()},
		{"sqlite:relative/path.db", "relative/path.db", defaultOptions()},
		{"sqlite:./x.db", "./x.db", defaultOptions()},
		{"sqlite:/abs/path.db", "/abs/path.db", defaultOptions()},
		{"sqlite:///abs/path.db", "/abs/path.db", defaultOptions()},
		{"sqlite://localhost/abs/path.db", "/abs/path.db", defaultOptions()},
		{"SQLite://LOCALHOST/abs/path.db", "/abs/path.db", defaultOptions()},
		{"sqlite:///abs/with%20space%3F.db", "/abs/with space?.db", defaultOptions()},
		{"sqlite:rel%23hash.db", "rel#hash.db", defaultOptions()},
		{"sqlite:c.db?table=memo", "c.db", with(func(o *options) { o.table = "memo" })},
		{"sqlite:///c.db?busy_timeout=250", "/c.db", with(func(o *options) { o.busyTimeout = 250 * time.Millisecond })},
		{"sqlite:c.db?busy_timeout=1m&readers=9&table=_t1", "c.db", with(func(o *options) { o.busyTimeout, o.readers, o.table = time.Minute, 9, "_t1" })},
		{"sqlite:c.db?recovery=false", "c.db", with(func(o *options) { o.recovery = false })},
		{"sqlite:c.db?recovery=1", "c.db", defaultOptions()},
		{"sqlite:c.db?flush=250ms", "c.db", with(func(o *options) { o.flushDelay = 250 * time.Millisecond })},
		{"sqlite:c.db?flush=5000", "c.db", with(func(o *options) { o.flushDelay = 5 * time.Second })},
	} {
		path, opts, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		o := defaultOptions()
		for _, opt := range opts {
			if err := opt(&o); err != nil {
				t.Fatal(err)
			}
		}
		if path != tc.path || o != tc.want {
			t.Errorf("ParseURL(%q) = %q, %+v; want %q, %+v", tc.url, path, o, tc.path, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"sqlite://example.com/x.db", `host "example.com"`},
		{"sqlite://127.0.0.1/x.db", `host "127.0.0.1"`},
		{"sqlite://localhost:99/x.db", "local file"},
		{"sqlite://x.db", `host "x.db"`},
		{"sqlite://user:secret@localhost/x.db", "no user"},
		{"sqlite:", "names no file"},
		{"sqlite://", "names no file"},
		{"sqlite:x.db?tabel=t", `unknown parameter "tabel"`},
		{"sqlite:x.db?table=a-b", "table name"},
		{"sqlite:x.db?table=a&table=b", "given 2 times"},
		{"sqlite:x.db?busy_timeout=soon", "busy_timeout"},
		{"sqlite:x.db?busy_timeout=-5", "busy_timeout"},
		{"sqlite:x.db?readers=0", "readers"},
		{"sqlite:x.db?recovery=maybe", "recovery"},
		{"sqlite:x.db?flush=soon", "flush"},
		{"sqlite:x.db?flush=0", "flush"},
		{"sqlite:x.db?flush=-1s", "flush"},
		{"sqlite:x.db#frag", "fragment"},
		{"redis://localhost/0", "not sqlite"},
		{"sqlite:bad%zz.db", "invalid URL escape"},
	} {
		_, _, err := ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q): nil error, want one mentioning %q", tc.url, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q): %v; want it to mention %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q): %v shows the password", tc.url, err)
		}
	}
}

// TestDefaultURL opens the runtime's default store URL through the
// registered scheme: ./picocache.db in the working directory.
func TestDefaultURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := runtime.OpenURL(ctx, runtime.DefaultURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*Store); !ok {
		t.Fatalf("OpenURL(%q) returned a %T", runtime.DefaultURL, s)
	}
	lim := runtime.Limits{MaxSize: runtime.Unbounded}
	if err := spaceOf(t, s, "f", lim).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "picocache.db")); err != nil {
		t.Errorf("default store is not ./picocache.db: %v", err)
	}
	// A relative path is resolved when the store is opened.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(dir, "sub"))
	if v, ok, err := spaceOf(t, s, "f", lim).Get(ctx, []byte("k")); !ok || err != nil || string(v) != "v" {
		t.Errorf("Get after chdir = %q, %v, %v", v, ok, err)
	}
}

func TestOpenURLOddPaths(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"with space.db", "q?mark.db", "hash#.db", "pct%41.db", "ünï.db"} {
		path := filepath.Join(dir, name)
		raw := (&url.URL{Scheme: "sqlite", Path: path}).String()
		s, err := runtime.OpenURL(ctx, raw)
		if err != nil {
			t.Errorf("OpenURL(%q): %v", raw, err)
			continue
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("OpenURL(%q) did not create %q: %v", raw, path, err)
		}
	}
	if _, err := runtime.OpenURL(ctx, "sqlite://db.example.com/x.db"); err == nil || !strings.Contains(err.Error(), "local file") {
		t.Errorf("OpenURL with a remote host: %v", err)
	}
}
