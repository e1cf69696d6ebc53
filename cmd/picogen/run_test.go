package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// chdir changes the working directory for the test.
func chdir(t *testing.T, dir string) {
	t.Helper()
	t.Chdir(dir)
}

func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/m\n\ngo 1.26\n"
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUsageExits2(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-nosuchflag"}, &out, &errb); code != 2 {
		t.Errorf("exit %d, want 2; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "usage: picogen") {
		t.Errorf("no usage message:\n%s", errb.String())
	}
}

// TestDiagnosticsRelativeSorted checks the command's output form: every
// problem at once, file:line:col with paths relative to the working
// directory, sorted, exit 1, nothing written.
func TestDiagnosticsRelativeSorted(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"b/b.go": "package b\n\n//picocache:bogus\nfunc B(x int) int { return x }\n",
		"a/a.go": "package a\n\n//picocache:maxsize=x\nfunc A(x int) int { return x }\n\n// picocache:maxsize=1\nfunc C(c chan int) int { return 0 }\n",
	})
	chdir(t, dir)
	var out, errb bytes.Buffer
	code := run([]string{"./..."}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
	}
	want := `a/a.go:3:21: bad maxsize "x": want a count (0 or more) or none
a/a.go:6:1: "// picocache:maxsize=1" is not a picocache directive: there is a space after //; write "//picocache:maxsize=1" (gofmt keeps that form)
b/b.go:3:13: unknown option "bogus" (want maxsize, typed, ttl, ignore, version or name)
`
	if errb.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "picocache_gen.go")); err == nil {
		t.Errorf("a file was written despite errors")
	}
}

// TestWriteCheckStale covers writing, -check, and the removal of a
// generated file whose package has no annotations left.
func TestWriteCheckStale(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"p.go": "package p\n\n//picocache:maxsize=none\nfunc F(x int) int { return x }\n\nfunc use() int { return FCached(1) }\n",
	})
	chdir(t, dir)
	var out, errb bytes.Buffer
	if code := run([]string{"-check"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "picocache_gen.go: missing: run go generate") {
		t.Fatalf("-check on a missing file: exit %d, %q; want 1 and a report of the missing file", code, errb.String())
	}
	if code := run([]string{"-v"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	gen := filepath.Join(dir, "picocache_gen.go")
	if _, err := os.Stat(gen); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"-check"}, &out, &errb); code != 0 {
		t.Fatalf("-check after generating: exit %d: %s", code, errb.String())
	}
	// An edit makes it out of date.
	os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\n//picocache:maxsize=2\nfunc F(x int) int { return x }\n\nfunc use() int { return FCached(1) }\n"), 0o644)
	errb.Reset()
	if code := run([]string{"-check"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "picocache_gen.go: out of date: run go generate") {
		t.Fatalf("-check after an edit: exit %d, %q; want 1 and out of date", code, errb.String())
	}
	// A stale generated file (its function renamed) does not block a re-run.
	os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\n//picocache:maxsize=none\nfunc G(x int) int { return x }\n"), 0o644)
	if code := run(nil, &out, &errb); code != 0 {
		t.Fatalf("re-run over a stale file: exit %d: %s", code, errb.String())
	}
	b, _ := os.ReadFile(gen)
	if !strings.Contains(string(b), "func GCached(") || strings.Contains(string(b), "FCached") {
		t.Errorf("re-run did not regenerate for G:\n%s", b)
	}
	// No annotations left: the generated file goes.
	os.WriteFile(filepath.Join(dir, "p.go"), []byte("package p\n\nfunc G(x int) int { return x }\n"), 0o644)
	if code := run(nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(gen); err == nil {
		t.Errorf("stale generated file was not removed")
	}
}

// TestExplain covers -explain: what it prints, the names it accepts, its
// error for a name that matches nothing, and that it writes nothing.
func TestExplain(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"p/p.go": `package p

import "example.com/m/q"

type Repo struct{ root string }

//picocache:maxsize=none,ignore=r
func Price(r q.Rater, n int) float64 { return r.Rate() * float64(q.Discount(n)) }

//picocache:maxsize=none
func (r *Repo) Path(name string) string { return r.root + name }
`,
		"q/q.go": `package q

type Rater interface{ Rate() float64 }

func Discount(n int) int { return n - rate(n) }

func rate(n int) int { return n / 10 }

func Unrelated() int { return 0 }
`,
	})
	chdir(t, dir)
	var out, errb bytes.Buffer
	if code := run([]string{"-explain", "Price", "./p"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{
		"example.com/m/p.Price\nversion ",
		"\ncovers its own source and signature, the encoding, and:\n",
		"\n  func   example.com/m/q.Discount ",
		"\n  func   example.com/m/q.rate     ",
		"\n  type   example.com/m/q.Rater    ",
		"\n  go     1.26 (the language and the standard library)\n",
		"\nunresolved calls (not covered):\n  p/p.go:8:47: r.Rate: call of interface method (q.Rater).Rate\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Unrelated") {
		t.Errorf("-explain lists a function nothing reaches:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "p", "picocache_gen.go")); err == nil {
		t.Errorf("-explain wrote a file")
	}
	for _, name := range []string{"p.Price", "example.com/m/p.Price", "Repo.Path", "(*Repo).Path", "p.Repo.Path", "example.com/m/p.(*Repo).Path"} {
		out.Reset()
		if code := run([]string{"-explain", name, "./p"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "version ") {
			t.Errorf("-explain %s: exit %d, %s%s", name, code, out.String(), errb.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-explain", "Nope", "./p"}, &out, &errb); code != 1 {
		t.Errorf("-explain Nope: exit %d, want 1", code)
	}
	if want := `picogen: -explain "Nope" matches no memoized function of the packages loaded (p.Price, p.(*Repo).Path)` + "\n"; errb.String() != want {
		t.Errorf("-explain Nope:\n%s\nwant:\n%s", errb.String(), want)
	}
}
