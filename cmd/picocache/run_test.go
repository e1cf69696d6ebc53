package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqlite"
)

// fixture makes a SQLite store with three namespaces (F in two versions,
// G in one), F@v1 last used 60 days ago, and returns its path.
func fixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "picocache.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for ns, n := range map[string]int{"example.com/app.F@v1": 1200, "example.com/app.F@v2": 3, "example.com/app.G@v1": 2} {
		sp, err := s.Space(ctx, runtime.Namespace{Name: ns, Limits: runtime.Limits{MaxSize: runtime.Unbounded}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := sp.Set(ctx, []byte{byte(i), byte(i >> 8)}, []byte("value")); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close()
	// Age F@v1 directly in the file, as 60 days without use would.
	old := time.Now().Add(-60 * 24 * time.Hour).UnixMilli()
	db, err := sql.Open("sqlite", path) // modernc's driver, which runtime/sqlite links
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE picocache_ns SET used = ? WHERE name = 'example.com/app.F@v1'`, old); err != nil {
		t.Fatal(err)
	}
	return path
}

func picocache(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestLs(t *testing.T) {
	path := fixture(t)
	code, out, errOut := picocache(t, "ls", path)
	if code != 0 {
		t.Fatalf("ls: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"FUNCTION", "example.com/app.F", "v1", "1200", "60 days ago", "example.com/app.G", "total (3 namespaces)", "1205"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = picocache(t, "ls", "-json", "sqlite:"+path)
	if code != 0 {
		t.Fatalf("ls -json: exit %d: %s", code, errOut)
	}
	var rows []row
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("ls -json is not JSON: %v\n%s", err, out)
	}
	if len(rows) != 3 || rows[0].Namespace != "example.com/app.F@v1" || rows[0].Function != "example.com/app.F" || rows[0].Entries != 1200 || rows[0].LastUsed == nil || rows[0].Bytes < 1200*5 {
		t.Errorf("ls -json rows: %+v", rows)
	}
}

func TestClear(t *testing.T) {
	path := fixture(t)
	if code, out, errOut := picocache(t, "clear", path, "example.com/app.F@v2"); code != 0 || !strings.Contains(out, "1 namespaces, 3 entries") {
		t.Fatalf("clear F@v2: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := picocache(t, "clear", path, "example.com/app.F"); code != 0 || !strings.Contains(out, "2 namespaces, 1200 entries") {
		t.Fatalf("clear F: exit %d: %s%s", code, out, errOut)
	}
	_, out, _ := picocache(t, "ls", "-json", path)
	var rows []row
	json.Unmarshal([]byte(out), &rows)
	for _, r := range rows {
		if want := map[string]int64{"example.com/app.G": 2}[r.Function]; r.Entries != want {
			t.Errorf("after clear, %s has %d entries, want %d", r.Namespace, r.Entries, want)
		}
	}
	if code, _, errOut := picocache(t, "clear", path, "example.com/app.Nope"); code != 1 || !strings.Contains(errOut, "no namespace of") {
		t.Errorf("clear of an unknown function: exit %d: %s", code, errOut)
	}
}

func TestPrune(t *testing.T) {
	path := fixture(t)
	code, out, errOut := picocache(t, "prune", "-unused-for", "720h", "-dry-run", path)
	if code != 0 || !strings.Contains(out, "would prune example.com/app.F@v1 (1200 entries") || !strings.Contains(out, "would prune 1 namespaces") {
		t.Fatalf("prune -dry-run: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = picocache(t, "prune", "-unused-for", "720h", path)
	if code != 0 || !strings.Contains(out, "pruned 1 namespaces unused for 720h0m0s: 1200 entries") {
		t.Fatalf("prune: exit %d:\n%s%s", code, out, errOut)
	}
	if errOut != "" {
		t.Errorf("prune wrote to a stderr that is no terminal: %q", errOut)
	}
	_, out, _ = picocache(t, "ls", "-json", path)
	var rows []row
	json.Unmarshal([]byte(out), &rows)
	for _, r := range rows {
		if want := map[string]int64{"example.com/app.F@v1": 0, "example.com/app.F@v2": 3, "example.com/app.G@v1": 2}[r.Namespace]; r.Entries != want {
			t.Errorf("after prune, %s has %d entries, want %d", r.Namespace, r.Entries, want)
		}
	}
}

func TestErrors(t *testing.T) {
	path := fixture(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"frobnicate", path}, 2, `unknown command "frobnicate"`},
		{[]string{"ls"}, 2, "wrong number of arguments"},
		{[]string{"ls", "-yaml", path}, 2, "flag provided but not defined"},
		{[]string{"prune", path}, 2, "-unused-for"},
		{[]string{"clear", path}, 2, "wrong number of arguments"},
		{[]string{"ls", filepath.Join(t.TempDir(), "missing.db")}, 1, "no such file"},
		{[]string{"ls", "memory:"}, 1, "cannot list its namespaces"},
		{[]string{"ls", "redis://user:s3cret@127.0.0.1:1/0?timeout=200ms"}, 1, "redis://user:xxxxx@127.0.0.1:1/0"},
		{[]string{"ls", "postgres://user:s3cret@127.0.0.1:1/db?connect_timeout=1"}, 1, "postgres://user:xxxxx@127.0.0.1:1"},
	} {
		code, _, errOut := picocache(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("picocache %q: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
		if strings.Contains(errOut, "s3cret") {
			t.Errorf("picocache %q printed the password: %q", c.args, errOut)
		}
	}
}
