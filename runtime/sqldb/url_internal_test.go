package sqldb

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		dialect Dialect
		dsn     string
		params  urlParams
	}{
		{"postgres://u:p@h:5432/db?sslmode=disable", Postgres, "postgres://u:p@h:5432/db?sslmode=disable", urlParams{}},
		{"postgresql://h/db?table=memo&sslmode=disable", Postgres, "postgresql://h/db?sslmode=disable", urlParams{table: "memo"}},
		{"postgres://h/db?flush=250ms&sslmode=disable&table=t", Postgres, "postgres://h/db?sslmode=disable", urlParams{table: "t", flush: 250 * time.Millisecond}},
		{"POSTGRES://h/db?flush=2s", Postgres, "postgres://h/db", urlParams{flush: 2 * time.Second}},
		{"postgres://h/db?prune=720h&sslmode=disable", Postgres, "postgres://h/db?sslmode=disable", urlParams{prune: 720 * time.Hour}},
		{"mysql://root@127.0.0.1:3306/test", MySQL, "root@tcp(127.0.0.1:3306)/test", urlParams{}},
		{"mysql://root@127.0.0.1/test", MySQL, "root@tcp(127.0.0.1:3306)/test", urlParams{}},
		{"mysql://u:p%40ss%2Fw%3Ard@db.internal:3307/app?tls=true&table=t1&timeout=5s&flush=1m", MySQL, "u:p@ss/w:rd@tcp(db.internal:3307)/app?tls=true&timeout=5s", urlParams{table: "t1", flush: time.Minute}},
		{"mysql://u@[::1]:3306/app", MySQL, "u@tcp([::1]:3306)/app", urlParams{}},
		{"mysql://u@/app?socket=/run/mysqld/mysqld.sock&charset=utf8mb4", MySQL, "u@unix(/run/mysqld/mysqld.sock)/app?charset=utf8mb4", urlParams{}},
		{"mysql:///app", MySQL, "/app", urlParams{}},
		{"mysql://h/my%20db", MySQL, "tcp(h:3306)/my%20db", urlParams{}},
	}
	for _, tt := range tests {
		d, dsn, params, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if d != tt.dialect || dsn != tt.dsn || params != tt.params {
			t.Errorf("parseURL(%q) = %v, %q, %+v; want %v, %q, %+v", tt.url, d, dsn, params, tt.dialect, tt.dsn, tt.params)
		}
	}
	for _, bad := range []string{
		"ftp://x", "nohost", "mysql://a:b@h/x/y", "mysql://h/db?socket=/s", "mysql://a%3Ab@h/db", "postgres://h/db?table=%zz",
		"postgres://h/db?flush=soon", "postgres://h/db?flush=0", "postgres://h/db?flush=-1s", "mysql://h/db?flush=", "postgres://h/db?flush",
		"postgres://h/db?prune=soon", "postgres://h/db?prune=0s",
	} {
		if _, _, _, err := parseURL(bad); err == nil {
			t.Errorf("parseURL(%q): no error", bad)
		}
	}
}

// TestParseURLSQLite checks that sqlite URLs, which runtime/sqlite serves,
// fail with an error that says so.
func TestParseURLSQLite(t *testing.T) {
	for _, raw := range []string{"sqlite:cache.db", "sqlite:/abs.db", "sqlite:///abs.db", "SQLite:x.db", "sqlite:", "sqlite://h/x.db", "sqlite:%zz", "sqlite:x.db?table=t"} {
		_, _, _, err := parseURL(raw)
		if err == nil || !strings.Contains(err.Error(), "runtime/sqlite") || !strings.Contains(err.Error(), "sqlite.Open") {
			t.Errorf("parseURL(%q) = %v, want an error that points to runtime/sqlite", raw, err)
		}
	}
}

func TestDriverMissingMessage(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		if !strings.Contains(d.driverImport(), ".") || d.driverName() == "" {
			t.Errorf("%v: driver %q import %q", d, d.driverName(), d.driverImport())
		}
	}
}

// TestParseURLErrorsHidePassword checks that no error of parseURL shows
// the password, of the URL or of the DSN built from it.
func TestParseURLErrorsHidePassword(t *testing.T) {
	for _, bad := range []string{
		"postgres://app:S3cr3t@h:99999x/db",
		"postgres://app:S3cr3t@h/db?table=%zz",
		"postgres://app:S3cr3t@h/db?flush=soon",
		"mysql://app:S3cr3t@h/x/y",
		"mysql://app:S3cr3t@h/db?x=%zz",
		"mysql://app:S3cr3t@h/db?socket=/s",
		"mysql://app:S3cr3t@/db?socket=/s(1)",
		"mysql://a%3Ab:S3cr3t@h/db",
		"mysql://app:S3%zz3t@h/db",
		"mysql://app:S3cr3t@[::1/db",
		"sqlite://app:S3cr3t@h/x.db",
		"sqlite://app:S3%zz3t@h/x.db",
		"ftp://app:S3cr3t@h/db",
		"//app:S3cr3t@h/db",
	} {
		_, _, _, err := parseURL(bad)
		if err == nil {
			t.Errorf("parseURL(%q): no error", bad)
			continue
		}
		for _, secret := range []string{"S3cr3t", "S3%zz3t", "zz3t"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("parseURL(%q) error shows the password: %v", bad, err)
			}
		}
	}
}

func TestPGArray(t *testing.T) {
	if got := pgArray(nil); got != "{}" {
		t.Errorf("pgArray(nil) = %q, want {}", got)
	}
	khs := keyHashes([][]byte{{}, []byte("a")})
	want := `{"\\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","\\xca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}`
	if got := pgArray(khs); got != want {
		t.Errorf("pgArray = %s, want %s", got, want)
	}
}

func TestBumpsMySQL(t *testing.T) {
	want := "UPDATE `t` SET used = UUID_SHORT() WHERE fh = ? AND kh IN (?, ?, ?) ORDER BY FIELD(kh, ?, ?, ?)"
	if got := bumpsMySQL("t", 3); got != want {
		t.Errorf("bumpsMySQL = %s, want %s", got, want)
	}
}
