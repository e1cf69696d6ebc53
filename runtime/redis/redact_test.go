package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/redis"
)

// redactSecrets are what no message may show: the password of every URL
// below, whole, escaped or in part.
var redactSecrets = []string{"S3cr3t", "S3%zz3t", "S3%", "zz3t", "3cr3", "S3cr3t%2F", "S3cr3t%40x"}

// redactURLs returns, for a scheme, URLs carrying a password that no
// store can open: malformed ones, well-formed ones that the store or
// rueidis rejects, and ones whose server (127.0.0.1:1) refuses connections.
func redactURLs(scheme string) map[string]string {
	base := scheme + "://app:S3cr3t@127.0.0.1:1/0"
	urls := map[string]string{
		"invalid port":         scheme + "://app:S3cr3t@127.0.0.1:99999x/0",
		"port out of range":    scheme + "://app:S3cr3t@127.0.0.1:99999/0",
		"userinfo escape":      scheme + "://app:S3%zz3t@127.0.0.1:1/0",
		"userinfo escape end":  scheme + "://app:S3cr3t%z@127.0.0.1:1/0",
		"path escape":          scheme + "://app:S3cr3t@127.0.0.1:1/0%zz",
		"query escape":         base + "?x=%zz",
		"query semicolon":      base + "?db=1;x=2",
		"unclosed bracket":     scheme + "://app:S3cr3t@[::1/0",
		"bad bracket":          scheme + "://app:S3cr3t@[zz]:1/0",
		"control character":    base + "\x7f",
		"newline in password":  scheme + "://app:S3cr3t\n@127.0.0.1:1/0",
		"space in host":        scheme + "://app:S3cr3t@127.0.0.1 :1/0",
		"percent in host":      scheme + "://app:S3cr3t@127.0.0.1%zz:1/0",
		"unknown parameter":    base + "?no_such_option=1",
		"fragment":             base + "#frag",
		"refused":              base,
		"password only":        scheme + "://:S3cr3t@127.0.0.1:1/0",
		"at in password":       scheme + "://app:S3cr3t@x@127.0.0.1:1/0",
		"escaped password":     scheme + "://app:S3cr3t%2F@127.0.0.1:1/0",
		"escaped at":           scheme + "://app:S3cr3t%40x@127.0.0.1:1/0",
		"bad db path":          scheme + "://app:S3cr3t@127.0.0.1:1/zero",
		"long path":            scheme + "://app:S3cr3t@127.0.0.1:1/0/1",
		"bad db":               base + "?db=zero",
		"bad dial_timeout":     base + "?dial_timeout=soon",
		"bad write_timeout":    base + "?write_timeout=soon",
		"bad max_retries":      base + "?max_retries=x",
		"negative max_retries": base + "?max_retries=-1",
		"bad skip_verify":      base + "?skip_verify=maybe",
		"bad addr":             base + "?addr=[::1",
		"more addrs":           base + "?addr=127.0.0.2:1&addr=127.0.0.3",
		"sentinel":             base + "?master_set=mymaster",
		"resp2":                base + "?protocol=2&client_name=x",
	}
	return urls
}

// checkNoSecret fails t if msg shows any of redactSecrets.
func checkNoSecret(t *testing.T, what, msg string) {
	t.Helper()
	for _, s := range redactSecrets {
		if strings.Contains(msg, s) {
			t.Errorf("%s shows the password (%q): %s", what, s, msg)
			return
		}
	}
}

func TestRedactOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, scheme := range []string{"redis", "rediss", "REDIS"} {
		for name, raw := range redactURLs(scheme) {
			t.Run(scheme+"/"+name, func(t *testing.T) {
				start := time.Now()
				if s, err := runtime.OpenURL(ctx, raw); err == nil {
					s.Close()
					t.Errorf("runtime.OpenURL(%q): no error", raw)
				} else {
					checkNoSecret(t, "runtime.OpenURL's error", err.Error())
					checkNoSecret(t, "runtime.OpenURL's error (%+v)", fmt.Sprintf("%+v", err))
				}
				if s, err := redis.Open(ctx, raw); err == nil {
					s.Close()
					t.Errorf("redis.Open(%q): no error", raw)
				} else {
					checkNoSecret(t, "redis.Open's error", err.Error())
				}
				if opt, err := redis.ParseURL(raw); err != nil {
					checkNoSecret(t, "redis.ParseURL's error", err.Error())
					if opt.Password != "" || opt.Username != "" {
						t.Errorf("redis.ParseURL(%q) returns the credentials with its error %v", raw, err)
					}
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%q took %v to fail", raw, d)
				}
			})
		}
	}
}

// TestRedactURLSchemes checks URLs without a scheme, or with one that is
// not a Redis one.
func TestRedactURLSchemes(t *testing.T) {
	for _, raw := range []string{
		"//app:S3cr3t@127.0.0.1:1/0",
		"unix://app:S3cr3t@/tmp/nonexistent.sock",
		"valkey://app:S3cr3t@127.0.0.1:1/0",
		"app:S3cr3t@127.0.0.1:1/0",
	} {
		if _, err := redis.ParseURL(raw); err == nil {
			t.Errorf("redis.ParseURL(%q): no error", raw)
		} else {
			checkNoSecret(t, "redis.ParseURL's error", err.Error())
		}
		if s, err := runtime.OpenURL(context.Background(), raw); err == nil {
			s.Close()
			t.Errorf("runtime.OpenURL(%q): no error", raw)
		} else {
			checkNoSecret(t, "runtime.OpenURL's error", err.Error())
		}
	}
}
