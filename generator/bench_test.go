package generator_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/generator"
	"golang.org/x/tools/go/packages"
)

// manyFuncs writes a module with one package of n annotated functions of
// assorted signatures, with their generated file in place (a re-run).
// The functions call helpers, in their package and, two calls down, in
// another package of the module (rates), so that their deep versions
// cover functions, types, constants and variables of both.
func manyFuncs(b testing.TB, n int) string {
	b.Helper()
	dir := b.TempDir()
	var src strings.Builder
	src.WriteString("package many\n\nimport (\n\t\"context\"\n\t\"time\"\n\n\t\"example.com/many/rates\"\n)\n\n")
	src.WriteString("type Point struct {\n\tX, Y int\n\tTags []string\n\tMeta map[string]float64\n}\n\n")
	src.WriteString("func scale(n int) int { return rates.Apply(n) + 1 }\n\n")
	sigs := []string{
		"(n int) int { return scale(n) }",
		"(ctx context.Context, s string, b []byte) (string, error) { return s[:rates.Clamp(len(s))], nil }",
		"(p Point, at time.Time) ([]Point, error) { p.X = scale(p.X); return []Point{p}, nil }",
		"(m map[string]int, xs ...float64) (int, bool) { return scale(len(m)), len(xs) > 0 }",
		"(v any, p *Point) string { return rates.Name(p.Y) }",
	}
	opts := []string{"maxsize=none", "maxsize=128,typed", "ttl=1h", "maxsize=10,version=2", "typed,ignore=p"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "//picocache:%s\nfunc F%d%s\n\n", opts[i%len(opts)], i, sigs[i%len(sigs)])
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/many\n\ngo 1.26\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "many.go"), []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rates"), 0o755); err != nil {
		b.Fatal(err)
	}
	rates := `package rates

import "strconv"

type Rate int

const (
	Low Rate = iota + 1
	High
)

var table = map[int]Rate{0: Low, 1: High}

// Apply is one call down from the annotated functions; factor two.
func Apply(n int) int { return n * factor(n) }

func factor(n int) int { return int(table[n%2]) }

func Clamp(n int) int { return min(n, int(High)) }

func Name(n int) string { return "rate" + strconv.Itoa(factor(n)) }

func Unused() int { return 0 }
`
	if err := os.WriteFile(filepath.Join(dir, "rates", "rates.go"), []byte(rates), 0o644); err != nil {
		b.Fatal(err)
	}
	res, err := generator.Generate(generator.Config{Dir: dir})
	if err != nil || len(res.Diagnostics) > 0 {
		b.Fatalf("generate: %v %v", err, res.Diagnostics)
	}
	for name, data := range res.Files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkGenerate compares picogen on a package of 200 annotated
// functions, with deep versions, with loading what it needs with
// go/packages alone: the target is at most 1.5x. What it needs is the
// syntax and types of the package and of the module's package its
// functions reach (rates), the other packages from export data: one load
// of both (load-needed), with the stale generated file read as empty, as
// picogen reads it. load-only loads the generated file too.
func BenchmarkGenerate(b *testing.B) {
	dir := manyFuncs(b, 200)
	b.Run("load-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pkgs, err := packages.Load(&packages.Config{Dir: dir, Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo}, ".", "./rates")
			if err != nil || len(pkgs) != 2 {
				b.Fatal(err)
			}
		}
	})
	loadNeeded := func(b *testing.B) {
		pkgs, err := packages.Load(&packages.Config{
			Dir:  dir,
			Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
			ParseFile: func(fset *token.FileSet, name string, src []byte) (*ast.File, error) {
				if filepath.Base(name) == generator.FileName {
					return parser.ParseFile(fset, name, src, parser.PackageClauseOnly)
				}
				return parser.ParseFile(fset, name, src, parser.AllErrors|parser.ParseComments)
			},
		}, ".", "./rates")
		if err != nil || len(pkgs) != 2 {
			b.Fatal(err)
		}
	}
	picogen := func(b *testing.B) {
		res, err := generator.Generate(generator.Config{Dir: dir})
		if err != nil || len(res.Files) != 1 {
			b.Fatal(err)
		}
	}
	b.Run("load-needed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			loadNeeded(b)
		}
	})
	b.Run("picogen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			picogen(b)
		}
	})
	// ratio runs the two in turn, so that a shared machine's changing
	// load weighs on both alike, and reports picogen's time as a multiple
	// of the load's (x-load).
	b.Run("ratio", func(b *testing.B) {
		var load, gen time.Duration
		for b.Loop() {
			t0 := time.Now()
			loadNeeded(b)
			t1 := time.Now()
			picogen(b)
			load, gen = load+t1.Sub(t0), gen+time.Since(t1)
		}
		b.ReportMetric(float64(gen)/float64(load), "x-load")
		b.ReportMetric(float64(gen)/1e6/float64(b.N), "ms-picogen/op")
		b.ReportMetric(float64(load)/1e6/float64(b.N), "ms-load/op")
	})
}

// TestBenchPackageDeep checks that the benchmark's functions have deep
// versions, so that it measures what it claims to.
func TestBenchPackageDeep(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a module with the go command")
	}
	dir := manyFuncs(t, 200)
	res, err := generator.Generate(generator.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Funcs) != 200 {
		t.Fatalf("%d functions, want 200", len(res.Funcs))
	}
	// The file is formatted in pieces, concurrently (emit's format.go):
	// the whole must be what gofmt makes of it.
	src := res.Files[filepath.Join(dir, generator.FileName)]
	if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
		t.Errorf("the generated file is not gofmt'd (%v)", err)
	}
	var got []string
	for _, c := range res.Funcs[0].Covers {
		got = append(got, c.Kind+" "+c.Name)
	}
	want := []string{
		"func example.com/many.scale",
		"func example.com/many/rates.Apply",
		"func example.com/many/rates.factor",
		"type example.com/many/rates.Rate",
		"const example.com/many/rates.High",
		"const example.com/many/rates.Low",
		"var example.com/many/rates.table",
		"go go",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("F0 covers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
