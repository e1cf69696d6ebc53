package generator_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/picocache/picocache/generator"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden with the current output")

// goModule is the go.mod written beside each test package.
const goModule = "module example.com/%s\n\ngo 1.26\n"

// extract writes the archive's files (except skip) into a new directory
// holding a module named after the test, and returns it.
func extract(t *testing.T, ar *txtar.Archive, name string, skip ...string) string {
	t.Helper()
	dir := t.TempDir()
	hasMod := false
	for _, f := range ar.Files {
		if contains(skip, f.Name) {
			continue
		}
		if f.Name == "go.mod" {
			hasMod = true
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !hasMod {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), fmt.Appendf(nil, goModule, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cases returns the archives of testdata/dir, sorted by name.
func cases(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no cases in testdata/%s", dir)
	}
	sort.Strings(files)
	return files
}

// TestGolden runs picogen on each testdata/golden/*.txtar package and
// compares the result with the archive's picocache_gen.go. With -update it
// rewrites the archive instead.
func TestGolden(t *testing.T) {
	for _, file := range cases(t, "golden") {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := extract(t, ar, name, generator.FileName)
			res, err := generator.Generate(generator.Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range res.Diagnostics {
				t.Errorf("unexpected diagnostic: %s", d)
			}
			got := res.Files[filepath.Join(dir, generator.FileName)]
			if got == nil {
				t.Fatalf("no %s generated; files: %v", generator.FileName, keys(res.Files))
			}
			var want []byte
			idx := -1
			for i, f := range ar.Files {
				if f.Name == generator.FileName {
					want, idx = f.Data, i
				}
			}
			if bytes.Equal(got, want) {
				return
			}
			if *update {
				if idx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: generator.FileName})
					idx = len(ar.Files) - 1
				}
				ar.Files[idx].Data = got
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("updated %s", file)
				return
			}
			t.Errorf("%s differs from the golden output (go test ./generator -update rewrites it):\n%s", generator.FileName, unifiedDiff("want", "got", string(want), string(got)))
		})
	}
}

// TestErrors runs picogen on each testdata/errors/*.txtar package and
// compares its diagnostics, one per line with paths relative to the
// package directory, with the archive's "stderr" file.
func TestErrors(t *testing.T) {
	for _, file := range cases(t, "errors") {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want string
			for _, f := range ar.Files {
				if f.Name == "stderr" {
					want = string(f.Data)
				}
			}
			dir := extract(t, ar, name, "stderr")
			res, err := generator.Generate(generator.Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, d := range res.Diagnostics {
				if r, err := filepath.Rel(dir, d.File); err == nil && d.File != "" {
					d.File = filepath.ToSlash(r)
				}
				b.WriteString(d.String() + "\n")
			}
			got := b.String()
			if len(res.Diagnostics) == 0 {
				t.Fatalf("no diagnostics; want:\n%s", want)
			}
			if len(res.Files) != 0 {
				t.Errorf("files generated despite diagnostics: %v", keys(res.Files))
			}
			if got != want {
				if *update {
					for i, f := range ar.Files {
						if f.Name == "stderr" {
							ar.Files[i].Data = []byte(got)
						}
					}
					if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("updated %s", file)
					return
				}
				t.Errorf("diagnostics differ (go test ./generator -update rewrites them):\n%s", unifiedDiff("want", "got", want, got))
			}
		})
	}
}

// TestGoldenOutputsBuild puts every golden package, with its generated
// file, into one module that requires this repository, and runs go vet on
// it: generated code must compile and pass vet. A golden package may
// carry tests of its wrappers' behaviour (a _test.go file, which picogen
// does not load): they run too.
func TestGoldenOutputsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := fmt.Sprintf("module example.com/goldens\n\ngo 1.26\n\nrequire github.com/picocache/picocache v0.0.0\n\nreplace github.com/picocache/picocache => %s\n", repo)
	writeFile(t, filepath.Join(dir, "go.mod"), mod)
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "go.sum"), string(sum))
	for _, file := range cases(t, "golden") {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name == "go.mod" {
				continue
			}
			writeFile(t, filepath.Join(dir, name, filepath.FromSlash(f.Name)), string(f.Data))
		}
	}
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "PICOCACHE_URL=memory:")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s of the golden outputs: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// unifiedDiff returns a line diff of a and b in unified form (3 lines of
// context), from a longest common subsequence.
func unifiedDiff(nameA, nameB, a, b string) string {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ops []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, line{' ', x[i]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, line{'+', y[j]})
			j++
		default:
			ops = append(ops, line{'-', x[i]})
			i++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].op == ' ' {
			k++
			continue
		}
		start := max(0, k-ctx)
		end := k
		for end < len(ops) {
			if ops[end].op != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].op == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(len(ops), end+ctx)
				break
			}
			end = run
		}
		aLine, bLine := 1, 1
		for _, o := range ops[:start] {
			if o.op != '+' {
				aLine++
			}
			if o.op != '-' {
				bLine++
			}
		}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.op != '+' {
				na++
			}
			if o.op != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", aLine, na, bLine, nb)
		for _, o := range ops[start:end] {
			t := o.text
			if !strings.HasSuffix(t, "\n") {
				t += "\n\\ No newline at end of file\n"
			}
			out.WriteString(string(o.op) + t)
		}
		k = end
	}
	return out.String()
}

// TestFixturesUpToDate regenerates the committed generated code of the
// fixture packages in memory and compares: a change of the generator must
// be followed by go generate.
func TestFixturesUpToDate(t *testing.T) {
	for _, dir := range []string{filepath.Join("..", "internal", "keytest")} {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		res, err := generator.Generate(generator.Config{Dir: abs, NoSQLite: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Diagnostics {
			t.Errorf("%s: %s", dir, d)
		}
		name := filepath.Join(abs, generator.FileName)
		old, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Files[name]; !bytes.Equal(got, old) {
			t.Errorf("%s is stale: run go generate ./generator/...\n%s", name, unifiedDiff("committed", "generated", string(old), string(got)))
		}
	}
}
