package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// handleRE matches a generated handle's name and version.
var handleRE = regexp.MustCompile(`Name: +"([^"]+)",\n\s+Version: +"([^"]+)"`)

// genVersions returns the versions in a generated file, by function name
// (its last dot-separated element).
func genVersions(src string) map[string]string {
	vs := map[string]string{}
	for _, m := range handleRE.FindAllStringSubmatch(src, -1) {
		vs[m[1][strings.LastIndex(m[1], ".")+1:]] = m[2]
	}
	return vs
}

// TestDeepVersions edits the module of testdata/e2e/deep.txtar between
// runs of go generate and of the program, against one SQLite store: an
// edit of a helper two calls down, in another package, makes the
// entries of the function that reaches it misses; an edit of a comment
// in that helper, or of a function nothing memoized reaches, keeps every
// entry; a new version of a required module in go.mod makes the entries
// of the function that calls into it misses, and only those. -explain
// lists the call through an interface.
func TestDeepVersions(t *testing.T) {
	e := newModule(t, "deep.txtar", "example.com/deep",
		"\nrequire example.com/dep v1.0.0\n\nreplace example.com/dep => ./dep\n")
	var last map[string]string
	// step runs go generate, checks which functions' versions changed
	// since the last step, builds the program and runs it.
	step := func(name string, changed []string, want string) {
		t.Helper()
		e.run(".", "go", "generate", "./...")
		vs := genVersions(e.read("app/picocache_gen.go"))
		if len(vs) != 4 {
			t.Fatalf("%s: versions in the generated file: %v, want 4", name, vs)
		}
		if last != nil {
			var got []string
			for _, f := range []string{"Local", "Price", "Through", "Twice"} {
				if vs[f] != last[f] {
					got = append(got, f)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(changed) {
				t.Errorf("%s: the versions of %v changed, want %v", name, got, changed)
			}
		}
		last = vs
		e.run(".", "go", "build", "-o", "bin/app", "./app")
		if got := e.run(".", "bin/app"); got != want {
			t.Errorf("%s: run:\n%s", name, diffLines(want, got))
		}
	}
	miss := func(f string, v int) string { return fmt.Sprintf("%s: %d hits=0 misses=1\n", f, v) }
	hit := func(f string, v int) string { return fmt.Sprintf("%s: %d hits=1 misses=0\n", f, v) }
	edit := func(file, old, new string) {
		t.Helper()
		src := e.read(file)
		if !strings.Contains(src, old) {
			t.Fatalf("%s does not contain %q", file, old)
		}
		e.write(file, strings.Replace(src, old, new, 1))
	}

	step("first run", nil, miss("Price", 90)+miss("Twice", 200)+miss("Local", 101))
	step("second run", nil, hit("Price", 90)+hit("Twice", 200)+hit("Local", 101))

	edit("lib/lib.go", "return n / 10", "return n / 20")
	step("helper edited", []string{"Price"}, miss("Price", 95)+hit("Twice", 200)+hit("Local", 101))

	edit("lib/lib.go", "// rate is two calls down from Price.", "// rate is two calls down from Price; its comment is edited.")
	edit("lib/lib.go", "return n / 20\n", "return n / 20 // so is its layout\n\n")
	step("helper's comment edited", nil, hit("Price", 95)+hit("Twice", 200)+hit("Local", 101))

	edit("lib/lib.go", "func Unrelated() int { return 1 }", "func Unrelated() int { return 2 }")
	step("unrelated function edited", nil, hit("Price", 95)+hit("Twice", 200)+hit("Local", 101))

	edit("go.mod", "require example.com/dep v1.0.0", "require example.com/dep v1.1.0")
	step("required module upgraded", []string{"Twice"}, hit("Price", 95)+miss("Twice", 200)+hit("Local", 101))

	picogen := filepath.Join(e.dir, "bin", "picogen") // this test binary
	out := e.run(".", picogen, "-explain", "Through", "./app")
	for _, want := range []string{
		"example.com/deep/app.Through\nversion " + last["Through"] + "\n",
		"  func   example.com/deep/lib.Tax ",
		"  type   example.com/deep/lib.Rater ",
		"unresolved calls (not covered):\n  app/funcs.go:39:9: r.Rate: call of interface method (lib.Rater).Rate\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-explain Through: no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Discount") || strings.Contains(out, "Unrelated") || strings.Contains(out, "example.com/dep") {
		t.Errorf("-explain Through covers what it does not reach:\n%s", out)
	}
	out = e.run(".", picogen, "-explain", "main.Twice", "./app")
	if !strings.Contains(out, "  module example.com/dep v1.1.0 => ./dep\n") || !strings.Contains(out, "unresolved calls: none\n") {
		t.Errorf("-explain main.Twice:\n%s", out)
	}

	// go generate ran picogen in each package, which saw lib through its
	// export data (its generated file compiled in); one run on every
	// package at once sees lib's source (its generated file read as
	// empty). Both give the same versions.
	e.run(".", picogen, "-check", "./...")
}
