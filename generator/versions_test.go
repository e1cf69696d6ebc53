package generator_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/picocache/picocache/generator"
	"golang.org/x/tools/txtar"
)

// explainAll describes what every function's version covers, without the
// hashes, with positions relative to dir.
func explainAll(dir string, funcs []generator.Func) string {
	var b strings.Builder
	for _, f := range funcs {
		fmt.Fprintf(&b, "%s.%s\n", f.Package, f.Name)
		for _, c := range f.Covers {
			switch c.Kind {
			case "module", "go":
				fmt.Fprintf(&b, "\t%s %s %s\n", c.Kind, c.Name, c.Hash)
			default:
				fmt.Fprintf(&b, "\t%s %s\n", c.Kind, c.Name)
			}
		}
		for _, u := range f.Unresolved {
			file := u.File
			if r, err := filepath.Rel(dir, file); err == nil {
				file = filepath.ToSlash(r)
			}
			fmt.Fprintf(&b, "\tunresolved %s:%d:%d: %s\n", file, u.Line, u.Col, u.What)
		}
	}
	return b.String()
}

// TestVersions runs picogen on each testdata/versions/*.txtar module and
// compares what each function's version covers with the archive's "want"
// file. With -update it rewrites the archive instead.
func TestVersions(t *testing.T) {
	for _, file := range cases(t, "versions") {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := extract(t, ar, name, "want")
			res, err := generator.Generate(generator.Config{Dir: dir, Patterns: []string{"."}})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range res.Diagnostics {
				t.Errorf("unexpected diagnostic: %s", d)
			}
			got := explainAll(dir, res.Funcs)
			idx := -1
			for i, f := range ar.Files {
				if f.Name == "want" {
					idx = i
				}
			}
			if idx < 0 {
				t.Fatal("no want file")
			}
			if want := string(ar.Files[idx].Data); got != want {
				if *update {
					ar.Files[idx].Data = []byte(got)
					if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("updated %s", file)
					return
				}
				t.Errorf("covered items differ (go test ./generator -update rewrites them):\n%s", unifiedDiff("want", "got", want, got))
			}
		})
	}
}

// versionsModule extracts testdata/versions/deep.txtar into a new
// directory.
func versionsModule(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("loads modules with the go command")
	}
	ar, err := txtar.ParseFile(filepath.Join("testdata", "versions", "deep.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	return extract(t, ar, "deep", "want")
}

// versions generates dir's root package and returns each function's
// version, by name.
func versions(t *testing.T, dir string) map[string]string {
	t.Helper()
	res, err := generator.Generate(generator.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Diagnostics {
		t.Fatalf("unexpected diagnostic: %s", d)
	}
	vs := map[string]string{}
	for _, f := range res.Funcs {
		vs[f.Name] = f.Version
	}
	// The generated file carries the same versions.
	src := string(res.Files[filepath.Join(dir, generator.FileName)])
	for name, v := range vs {
		if !strings.Contains(src, fmt.Sprintf("Version: %q", v)) {
			t.Errorf("%s: version %s is not in the generated file", name, v)
		}
	}
	return vs
}

// TestVersionsStable checks that versions do not depend on where the
// module is: the same module in two directories has the same versions.
func TestVersionsStable(t *testing.T) {
	a, b := versions(t, versionsModule(t)), versions(t, versionsModule(t))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("versions differ between two copies of one module:\n%v\n%v", a, b)
	}
}

// TestVersionEdits edits the module of testdata/versions/deep.txtar, one
// edit at a time, and checks which functions' versions change: those
// that reach the edited code, and only those.
func TestVersionEdits(t *testing.T) {
	dir := versionsModule(t)
	base := versions(t, dir)
	for _, name := range []string{"Price", "Twice", "Fib", "Through", "(*Calc).Sum", "Lookup"} {
		if base[name] == "" {
			t.Fatalf("no version for %s: %v", name, base)
		}
	}
	edits := []struct {
		name, file, old, new string
		changed              []string
	}{
		{"a helper two calls down, in another package", "lib/lib.go",
			"return table[n%2] * int(High)", "return table[n%2]*int(High) + 0", []string{"Price", "Through"}},
		{"a comment in that helper", "lib/lib.go",
			"// rate is two calls down", "// rate, two calls down, is edited only here", nil},
		{"the helper's layout", "lib/lib.go",
			"func rate(n int) int { return table[n%2] * int(High) }", "func rate(n int) int {\n\treturn table[n%2] * int(High) // a comment\n}", nil},
		{"a function nothing memoized reaches", "lib/lib.go",
			"func Unrelated() int { return 4 }", "func Unrelated() int { return 5 }", nil},
		{"the required module's version", "go.mod",
			"require example.com/dep v1.0.0", "require example.com/dep v1.1.0", []string{"Twice"}},
		{"a constant's value, through iota", "lib/lib.go",
			"Low Kind = iota + 1", "Low Kind = iota + 2", []string{"Price", "Through"}},
		{"a constant's spelling, not its value", "lib/lib.go",
			"Low Kind = iota + 1", "Low Kind = 1 + iota", nil},
		{"the function initialising a variable", "lib/lib.go",
			"return []int{1, 2}", "return []int{1, 3}", []string{"Price", "Through"}},
		{"a variable's initialiser in the annotated package", "app.go",
			"var bonus = lib.Base() * 2", "var bonus = lib.Base() * 3", []string{"Price", "Through"}},
		{"a promoted method", "lib/lib.go",
			"func (i Inner) Get() int { return i.N }", "func (i Inner) Get() int { return i.N + 1 }", []string{"(*Calc).Sum"}},
		{"a struct type the method reads a field of", "lib/lib.go",
			"\tName string\n", "\tName string `json:\"name\"`\n", []string{"(*Calc).Sum"}},
		{"a generic function", "lib/lib.go",
			"out := make([]U, 0, len(xs))", "out := make([]U, 0, len(xs)+1)", []string{"(*Calc).Sum"}},
		{"what a key method calls", "lib/lib.go",
			"return []byte(strconv.Quote(s))", "return []byte(strconv.QuoteToASCII(s))", []string{"Lookup"}},
		{"an annotated function that another calls through its wrapper", "app.go",
			"return lib.Discount(n) + bonus", "return lib.Discount(n) + bonus + 1", []string{"Price", "Through"}},
		{"the go version", "go.mod",
			"go 1.26\n", "go 1.26.0\n", []string{"Price", "Twice", "Fib", "Through", "(*Calc).Sum", "Lookup"}},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			name := filepath.Join(dir, filepath.FromSlash(e.file))
			orig, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(orig), e.old) {
				t.Fatalf("%s does not contain %q", e.file, e.old)
			}
			writeFile(t, name, strings.Replace(string(orig), e.old, e.new, 1))
			defer writeFile(t, name, string(orig))
			got := versions(t, dir)
			var changed []string
			for n, v := range base {
				if got[n] != v {
					changed = append(changed, n)
				}
			}
			sort.Strings(changed)
			want := append([]string(nil), e.changed...)
			sort.Strings(want)
			if strings.Join(changed, ",") != strings.Join(want, ",") {
				t.Errorf("versions changed: %v, want %v", changed, want)
			}
		})
	}
}
