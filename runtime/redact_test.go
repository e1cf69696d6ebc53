package runtime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/picocache/picocache/runtime"
	_ "github.com/picocache/picocache/runtime/redis" // redis://, rediss://
	_ "github.com/picocache/picocache/runtime/sqldb" // postgres://, postgresql://, mysql://
)

// redactPasswords are what no message may show: the passwords of
// redactCases, whole or in part.
var redactPasswords = []string{"S3cr3t", "S3%zz3t", "S3%", "zz3t", "3cr3"}

// redactCases are store URLs carrying a password that cannot be opened,
// each with a word of the failure that the default store's error must
// come to show.
var redactCases = []struct{ name, url, reason string }{
	{"postgres invalid port", "postgres://app:S3cr3t@127.0.0.1:99999x/db", "invalid port"},
	{"postgresql userinfo escape", "postgresql://app:S3%zz3t@127.0.0.1:1/db", "escape"},
	{"mysql path escape", "mysql://app:S3cr3t@127.0.0.1:1/d%zzb", "escape"},
	{"mysql query escape", "mysql://app:S3cr3t@127.0.0.1:1/db?x=%zz", "escape"},
	{"redis unclosed bracket", "redis://app:S3cr3t@[::1/0", "]"},
	{"rediss control character", "rediss://app:S3cr3t@127.0.0.1:1/0\x7f", "control character"},
	{"postgres bad option", "postgres://app:S3cr3t@127.0.0.1:1/db?sslmode=bogus", "sslmode"},
	{"mysql bad option", "mysql://app:S3cr3t@127.0.0.1:1/db?timeout=soon", "soon"},
	{"redis bad option", "redis://app:S3cr3t@127.0.0.1:1/0?dial_timeout=soon", "soon"},
	{"postgres refused", "postgres://app:S3cr3t@127.0.0.1:1/db", "refused"},
	{"mysql refused", "mysql://app:S3cr3t@127.0.0.1:1/db?no_such_option=1", "refused"},
	{"rediss refused", "rediss://app:S3cr3t@127.0.0.1:1/0", "refused"},
	{"no scheme", "//app:S3cr3t@127.0.0.1:1/db", "scheme"},
}

func redactCheck(t *testing.T, what, msg string) {
	t.Helper()
	for _, p := range redactPasswords {
		if strings.Contains(msg, p) {
			t.Errorf("%s shows the password (%q): %s", what, p, msg)
			return
		}
	}
}

func TestRedactOpenURL(t *testing.T) {
	for _, tc := range redactCases {
		s, err := runtime.OpenURL(context.Background(), tc.url)
		if err == nil {
			s.Close()
			t.Errorf("OpenURL(%q): no error", tc.url)
			continue
		}
		redactCheck(t, "OpenURL's error", err.Error())
		if !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("OpenURL(%q) = %v, want an error saying %q", tc.url, err, tc.reason)
		}
		if n := strings.Count(err.Error(), "picocache:"); n > 1 {
			t.Errorf("OpenURL(%q): %d picocache: prefixes in %v", tc.url, n, err)
		}
	}
}

// redactLogs sends slog's default logger to a buffer for the test.
func redactLogs(t *testing.T) func() string {
	var mu sync.Mutex
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var redactCodec = runtime.Codec[int]{
	Type:   "int",
	Append: func(dst []byte, v int) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) },
	Decode: func(src []byte) (int, error) {
		if len(src) != 8 {
			return 0, errors.New("bad int")
		}
		return int(binary.BigEndian.Uint64(src)), nil
	},
}

// TestRedactDefaultStore opens each URL as PICOCACHE_URL and checks that
// neither a call's log line nor Info's error shows the password. Opening
// the default store may happen in the background, so Info is asked until
// its error shows why the store did not open.
func TestRedactDefaultStore(t *testing.T) {
	t.Cleanup(func() { runtime.CloseDefault() })
	logs := redactLogs(t)
	for i, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PICOCACHE_URL", tc.url)
			runtime.CloseDefault()
			newFunc := func(n int) *runtime.Func[int] {
				return runtime.New(runtime.Config{Name: fmt.Sprintf("%s.%d.%d", t.Name(), i, n), Version: "1", MaxSize: 10}, redactCodec)
			}
			do := func(f *runtime.Func[int]) {
				v, err := f.Do(context.Background(), []byte("k"), func(context.Context) (int, error) { return 42, nil })
				if err != nil || v != 42 {
					t.Fatalf("Do = %v, %v; want 42 computed without the store", v, err)
				}
			}
			f := newFunc(0)
			do(f)
			var err error
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				_, err = f.Info(context.Background())
				if err != nil {
					redactCheck(t, "Info's error", err.Error())
					if strings.Contains(err.Error(), tc.reason) {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("Info's error = %v after 3s, want one saying %q", err, tc.reason)
				}
			}
			// A function whose first call comes once the failure is known
			// logs it.
			do(newFunc(1))
			if !strings.Contains(logs(), tc.reason) {
				t.Errorf("no log line says %q:\n%s", tc.reason, logs())
			}
		})
	}
	for _, line := range strings.Split(logs(), "\n") {
		redactCheck(t, "a log line", line)
	}
}
