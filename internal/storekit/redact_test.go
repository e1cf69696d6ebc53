package storekit

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://app:S3cr3t@127.0.0.1:5432/db", "postgres://app:xxxxx@127.0.0.1:5432/db"},
		{"postgres://app:S3cr3t@127.0.0.1:99999x/db", "postgres://app:xxxxx@127.0.0.1:99999x/db"},
		{"mysql://app:S3%zz3t@127.0.0.1/db", "mysql://app:xxxxx@127.0.0.1/db"},
		{"redis://app:S3cr3t@[::1/0", "redis://app:xxxxx@[::1/0"},
		{"redis://:S3cr3t@host", "redis://:xxxxx@host"},
		{"redis://app:p@ss@host/0?x=1", "redis://app:xxxxx@host/0?x=1"},
		{"//app:S3cr3t@127.0.0.1:1/db", "//app:xxxxx@127.0.0.1:1/db"},
		{"postgres://app:S3/cr3t@h/db", "postgres://app:xxxxx@h/db"},
		{"mysql://app:12/cr3t@host/db", "mysql://app:xxxxx@host/db"},
		{"postgres://app:a?b#c@h/db", "postgres://app:xxxxx@h/db"},
		{"postgres://h/db?sslmode=disable&password=S3cr3t", "postgres://h/db?sslmode=disable&password=xxxxx"},
		{"postgres://h/db?sslpassword=S3cr3t#f", "postgres://h/db?sslpassword=xxxxx#f"},
		{"redis://app@host", "redis://app@host"},
		{"redis://host/0?password=x", "redis://host/0?password=xxxxx"},
		{"sqlite:picocache.db", "sqlite:picocache.db"},
		{"garbage", "garbage"},
		{"", ""},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"postgres://app:S3cr3t@127.0.0.1:99999x/db",
		"mysql://app:S3cr3t@127.0.0.1:3306/d%zzb",
		"redis://app:S3cr3t@[::1:6379/0",
		"postgres://app:S3cr3t@host/db\x7f",
		"postgres://app:S3cr3t/x@127.0.0.1/db",
		"postgres://app:S3cr3t#x@127.0.0.1/db",
		"postgres://app:S3cr3t?x@127.0.0.1/db",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Errorf("ParseURL(%q): no error", raw)
			continue
		}
		if strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "cr3t") {
			t.Errorf("ParseURL(%q) error shows the password: %v", raw, err)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("postgres://app:S3cr3t@127.0.0.1:99999x/db")
	f.Add("redis://u:p@[::1")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil || u.User == nil {
			return
		}
		pass, ok := u.User.Password()
		if !ok || len(pass) < 4 || strings.Contains(u.Scheme+u.Host+u.User.Username(), pass) {
			return
		}
		if strings.Contains(Redact(raw), pass) && !strings.Contains(raw[strings.Index(raw, "@")+1:], pass) {
			t.Errorf("Redact(%q) = %q keeps the password %q", raw, Redact(raw), pass)
		}
	})
}
