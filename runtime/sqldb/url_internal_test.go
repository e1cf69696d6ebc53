package sqldb

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		dialect Dialect
		dsn     string
		table   string
	}{
		{"postgres://u:p@h:5432/db?sslmode=disable", Postgres, "postgres://u:p@h:5432/db?sslmode=disable", ""},
		{"postgresql://h/db?table=memo&sslmode=disable", Postgres, "postgresql://h/db?sslmode=disable", "memo"},
		{"mysql://root@127.0.0.1:3306/test", MySQL, "root@tcp(127.0.0.1:3306)/test", ""},
		{"mysql://root@127.0.0.1/test", MySQL, "root@tcp(127.0.0.1:3306)/test", ""},
		{"mysql://u:p%40ss%2Fw%3Ard@db.internal:3307/app?tls=true&table=t1&timeout=5s", MySQL, "u:p@ss/w:rd@tcp(db.internal:3307)/app?tls=true&timeout=5s", "t1"},
		{"mysql://u@[::1]:3306/app", MySQL, "u@tcp([::1]:3306)/app", ""},
		{"mysql://u@/app?socket=/run/mysqld/mysqld.sock&charset=utf8mb4", MySQL, "u@unix(/run/mysqld/mysqld.sock)/app?charset=utf8mb4", ""},
		{"mysql:///app", MySQL, "/app", ""},
		{"mysql://h/my%20db", MySQL, "tcp(h:3306)/my%20db", ""},
		{"sqlite:cache.db", SQLite, "cache.db?_pragma=busy_timeout%2810000%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate", ""},
		{"sqlite:/var/cache/app.db?table=x", SQLite, "/var/cache/app.db?_pragma=busy_timeout%2810000%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate", "x"},
		{"sqlite:///var/cache/app.db", SQLite, "/var/cache/app.db?_pragma=busy_timeout%2810000%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate", ""},
		{"sqlite:dir/c.db?_pragma=busy_timeout(50)&_txlock=deferred&_pragma=journal_mode(DELETE)", SQLite, "dir/c.db?_pragma=busy_timeout(50)&_txlock=deferred&_pragma=journal_mode(DELETE)&_pragma=synchronous%28NORMAL%29", ""},
	}
	for _, tt := range tests {
		d, dsn, table, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if d != tt.dialect || dsn != tt.dsn || table != tt.table {
			t.Errorf("parseURL(%q) = %v, %q, %q; want %v, %q, %q", tt.url, d, dsn, table, tt.dialect, tt.dsn, tt.table)
		}
	}
	for _, bad := range []string{"ftp://x", "nohost", "sqlite:", "sqlite://h/x.db", "mysql://a:b@h/x/y", "mysql://h/db?socket=/s", "mysql://a%3Ab@h/db", "postgres://h/db?table=%zz"} {
		if _, _, _, err := parseURL(bad); err == nil {
			t.Errorf("parseURL(%q): no error", bad)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{pgErr("40P01"), true},
		{pgErr("40001"), true},
		{pgErr("23505"), false},
		{liteErr(5), true},
		{liteErr(5 | 2<<8), true}, // SQLITE_BUSY_SNAPSHOT
		{liteErr(19), false},
		{strErr("Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction"), true},
		{strErr("Error 1205 (HY000): Lock wait timeout exceeded"), true},
		{strErr("Error 1062 (23000): Duplicate entry"), false},
	} {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type pgErr string

func (e pgErr) Error() string    { return "pg " + string(e) }
func (e pgErr) SQLState() string { return string(e) }

type liteErr int

func (e liteErr) Error() string { return "sqlite" }
func (e liteErr) Code() int     { return int(e) }

type strErr string

func (e strErr) Error() string { return string(e) }

func TestDriverMissingMessage(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL, SQLite} {
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
		"mysql://app:S3cr3t@h/x/y",
		"mysql://app:S3cr3t@h/db?x=%zz",
		"mysql://app:S3cr3t@h/db?socket=/s",
		"mysql://app:S3cr3t@/db?socket=/s(1)",
		"mysql://a%3Ab:S3cr3t@h/db",
		"mysql://app:S3%zz3t@h/db",
		"mysql://app:S3cr3t@[::1/db",
		"sqlite://app:S3cr3t@h/x.db",
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
