package memcache_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
	"github.com/picocache/picocache/runtime/memcache"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want memcache.Config
	}{
		{"memcache://127.0.0.1:11211", memcache.Config{Addrs: []string{"127.0.0.1:11211"}}},
		{"memcache://localhost", memcache.Config{Addrs: []string{"localhost:11211"}}},
		{"MEMCACHE://h1/", memcache.Config{Addrs: []string{"h1:11211"}}},
		{"memcache://[::1]", memcache.Config{Addrs: []string{"[::1]:11211"}}},
		{"memcache://[::1]:11300?addr=h2&addr=h3:1", memcache.Config{Addrs: []string{"[::1]:11300", "h2:11211", "h3:1"}}},
		{"memcache://h?timeout=250ms&max_idle=64&item_size=512k&prefix=app:v2:&refresh=3s", memcache.Config{
			Addrs: []string{"h:11211"}, Timeout: 250 * time.Millisecond, MaxIdleConns: 64,
			ItemSize: 512 << 10, Prefix: "app:v2:", Refresh: 3 * time.Second,
		}},
		{"memcache://h?item_size=2097152", memcache.Config{Addrs: []string{"h:11211"}, ItemSize: 2 << 20}},
	} {
		got, err := memcache.ParseURL(c.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.url, err)
			continue
		}
		want := c.want
		if want.Timeout == 0 {
			want.Timeout = memcache.DefaultTimeout
		}
		if want.MaxIdleConns == 0 {
			want.MaxIdleConns = memcache.DefaultMaxIdleConns
		}
		if want.ItemSize == 0 {
			want.ItemSize = memcache.DefaultItemSize
		}
		if want.Prefix == "" {
			want.Prefix = kv.DefaultPrefix
		}
		if want.Refresh == 0 {
			want.Refresh = kv.DefaultRefresh
		}
		if !slices.Equal(got.Addrs, want.Addrs) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", c.url, got, want)
		}
	}
	for _, bad := range []string{
		"redis://localhost:6379",
		"memcache://",
		"memcache://h:0",
		"memcache://h:99999",
		"memcache://h:port",
		"memcache://h/0",
		"memcache://h#frag",
		"memcache://h?timeout=soon",
		"memcache://h?timeout=0s",
		"memcache://h?timeout=1s&timeout=2s",
		"memcache://h?refresh=-1s",
		"memcache://h?max_idle=0",
		"memcache://h?item_size=big",
		"memcache://h?item_size=100",
		"memcache://h?prefix=with%20space",
		"memcache://h?prefix=" + strings.Repeat("p", 65),
		"memcache://h?addr=",
		"memcache://h?addr=a:b:c",
		"memcache://h?unknown=1",
		"memcache://h?x=%zz",
		"memcache://user@h",
	} {
		if _, err := memcache.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q): want an error", bad)
		}
	}
}

// TestURLOptionsApply: what the URL says reaches the Store and its client.
func TestURLOptionsApply(t *testing.T) {
	needServer(t)
	s, err := memcache.Open(ctx, memcachedURL()+"?timeout=1500ms&max_idle=7&item_size=64k&prefix=urltest:&refresh=250ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Bound() != 1500*time.Millisecond || s.Client().Timeout != 300*time.Millisecond || s.Client().MaxIdleConns != 7 {
		t.Errorf("Bound %v, socket timeout %v, max idle %d", s.Bound(), s.Client().Timeout, s.Client().MaxIdleConns)
	}
	p := s.Promises()
	if p.ClearDelay != 250*time.Millisecond || p.MaxEntry != 64<<10-kv.DefaultMaxKeyLen-96-kv.EnvelopeOverhead {
		t.Errorf("Promises %+v", p)
	}
	fn := newFn(t, s)
	mustSet(t, spaceOf(t, s, fn, unbounded), "k", "v")
	raw := rawClient(t)
	if _, err := raw.Get(genKey(fn)); err == nil {
		t.Error("the generation is under the default prefix")
	}
	// Options given to Open override the URL's.
	s2, err := memcache.Open(ctx, memcachedURL()+"?timeout=1500ms", kv.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Bound() != time.Second || s2.Client().Timeout != 200*time.Millisecond {
		t.Errorf("with kv.WithTimeout(1s): Bound %v, socket timeout %v", s2.Bound(), s2.Client().Timeout)
	}
}

// redactSecrets are what no message may show: the password of every URL
// below, whole, escaped or in part.
var redactSecrets = []string{"S3cr3t", "S3%zz3t", "S3%", "zz3t", "3cr3"}

// TestRedactOpenErrors: memcached has no passwords, so a URL carrying
// one is refused, and no message shows it, whatever else is wrong.
func TestRedactOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := "memcache://app:S3cr3t@127.0.0.1:1"
	for name, raw := range map[string]string{
		"password":            base,
		"password only":       "memcache://:S3cr3t@127.0.0.1:1",
		"invalid port":        "memcache://app:S3cr3t@127.0.0.1:99999x",
		"userinfo escape":     "memcache://app:S3%zz3t@127.0.0.1:1",
		"path":                base + "/0",
		"query escape":        base + "?x=%zz",
		"unknown parameter":   base + "?no_such_option=1",
		"unclosed bracket":    "memcache://app:S3cr3t@[::1",
		"control character":   base + "\x7f",
		"newline in password": "memcache://app:S3cr3t\n@127.0.0.1:1",
		"at in password":      "memcache://app:S3cr3t@x@127.0.0.1:1",
		"fragment":            base + "#frag",
		"upper-case scheme":   "MEMCACHE://app:S3cr3t@127.0.0.1:1",
		"no scheme":           "//app:S3cr3t@127.0.0.1:1",
	} {
		t.Run(name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s(%q): no error", what, raw)
					return
				}
				for _, s := range redactSecrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("%s's error shows the password (%q): %v", what, s, err)
					}
				}
			}
			s, err := runtime.OpenURL(ctx, raw)
			if err == nil {
				s.Close()
			}
			check("runtime.OpenURL", err)
			ms, err := memcache.Open(ctx, raw)
			if err == nil {
				ms.Close()
			}
			check("memcache.Open", err)
			_, err = memcache.ParseURL(raw)
			check("memcache.ParseURL", err)
		})
	}
	// A refused connection: the error names the URL (no password there).
	if _, err := memcache.Open(ctx, "memcache://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open of a closed port: %v, want an error naming it", err)
	}
}
