package sqldb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// redactSecrets are what no message may show: the password of every URL
// below, whole, escaped or in part.
var redactSecrets = []string{"S3cr3t", "S3%zz3t", "S3%", "zz3t", "3cr3", "S3cr3t%2F", "S3cr3t%40x"}

// redactURLs returns, for a scheme, URLs carrying a password that no
// store can open: malformed ones, well-formed ones that the store or its
// driver rejects, and ones whose server (127.0.0.1:1) refuses connections.
func redactURLs(scheme string) map[string]string {
	base := scheme + "://app:S3cr3t@127.0.0.1:1/db"
	urls := map[string]string{
		"invalid port":        scheme + "://app:S3cr3t@127.0.0.1:99999x/db",
		"port out of range":   scheme + "://app:S3cr3t@127.0.0.1:99999/db",
		"userinfo escape":     scheme + "://app:S3%zz3t@127.0.0.1:1/db",
		"userinfo escape end": scheme + "://app:S3cr3t%z@127.0.0.1:1/db",
		"path escape":         scheme + "://app:S3cr3t@127.0.0.1:1/d%zzb",
		"query escape":        base + "?x=%zz",
		"query semicolon":     base + "?a=1;b=2",
		"table escape":        base + "?table=%zz",
		"bad table":           base + "?table=no-such%20table",
		"unclosed bracket":    scheme + "://app:S3cr3t@[::1/db",
		"bad bracket":         scheme + "://app:S3cr3t@[zz]:1/db",
		"control character":   base + "\x7f",
		"newline in password": scheme + "://app:S3cr3t\n@127.0.0.1:1/db",
		"space in host":       scheme + "://app:S3cr3t@127.0.0.1 :1/db",
		"percent in host":     scheme + "://app:S3cr3t@127.0.0.1%zz:1/db",
		"unknown parameter":   base + "?no_such_option=1",
		"fragment":            base + "#frag",
		"refused":             base,
		"at in password":      scheme + "://app:S3cr3t@x@127.0.0.1:1/db",
		"escaped password":    scheme + "://app:S3cr3t%2F@127.0.0.1:1/db",
		"escaped at":          scheme + "://app:S3cr3t%40x@127.0.0.1:1/db",
		"two slashes in db":   base + "/x",
	}
	switch scheme {
	case "mysql":
		urls["bad timeout"] = base + "?timeout=soon"
		urls["bad bool"] = base + "?parseTime=maybe"
		urls["unknown tls"] = base + "?tls=no-such-config"
		urls["unknown collation"] = base + "?collation=nope"
		urls["bad max_allowed_packet"] = base + "?maxAllowedPacket=x"
		urls["host and socket"] = base + "?socket=/run/mysqld/mysqld.sock"
		urls["socket with parens"] = scheme + "://app:S3cr3t@/db?socket=/run/(x)"
		urls["socket refused"] = scheme + "://app:S3cr3t@/db?socket=/nonexistent/mysqld.sock"
		urls["colon in user"] = scheme + "://a%3Ab:S3cr3t@127.0.0.1:1/db"
		urls["unescaped slash in query"] = base + "?loc=Europe/Paris"
		urls["at and slash in query"] = base + "?x=a@b/c"
	default:
		urls["bad sslmode"] = base + "?sslmode=bogus"
		urls["bad connect_timeout"] = base + "?connect_timeout=soon"
		urls["bad target_session_attrs"] = base + "?target_session_attrs=bogus"
		urls["bad protocol version"] = base + "?min_protocol_version=9"
		urls["missing sslkey"] = base + "?sslcert=/nonexistent.crt"
		urls["unreadable sslrootcert"] = base + "?sslmode=verify-full&sslrootcert=/nonexistent.pem"
		urls["query without value"] = base + "?sslmode"
		urls["query with two ="] = base + "?sslmode=a=b"
		urls["query NUL"] = base + "?application_name=%00"
		urls["ports and hosts"] = scheme + "://app:S3cr3t@127.0.0.1:1,127.0.0.2:1,127.0.0.3:1/db"
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
	for _, scheme := range []string{"postgres", "postgresql", "mysql", "POSTGRES", "MySQL"} {
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
				if s, err := sqldb.Open(ctx, raw); err == nil {
					s.Close()
					t.Errorf("sqldb.Open(%q): no error", raw)
				} else {
					checkNoSecret(t, "sqldb.Open's error", err.Error())
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%q took %v to fail", raw, d)
				}
			})
		}
	}
}

// TestRedactURLSchemes checks URLs without a scheme, or with one that is
// not a PostgreSQL or MySQL one.
func TestRedactURLSchemes(t *testing.T) {
	for _, raw := range []string{
		"//app:S3cr3t@127.0.0.1:1/db",
		"ftp://app:S3cr3t@127.0.0.1:1/db",
		"sqlite://app:S3cr3t@h/x.db",
		"app:S3cr3t@127.0.0.1:1/db",
	} {
		if s, err := sqldb.Open(context.Background(), raw); err == nil {
			s.Close()
			t.Errorf("sqldb.Open(%q): no error", raw)
		} else {
			checkNoSecret(t, "sqldb.Open's error", err.Error())
		}
		if s, err := runtime.OpenURL(context.Background(), raw); err == nil {
			s.Close()
			t.Errorf("runtime.OpenURL(%q): no error", raw)
		} else {
			checkNoSecret(t, "runtime.OpenURL's error", err.Error())
		}
	}
}
