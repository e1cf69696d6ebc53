package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/picocache/picocache/generator"
)

// run is picogen: it returns the exit code (0 done, 1 problems in the
// code, 2 bad usage).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("picogen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tags := fs.String("tags", "", "comma-separated build tags to load the packages with")
	noSQLite := fs.Bool("nosqlite", false, "do not link the embedded SQLite store (runtime/sqlite) into the package")
	check := fs.Bool("check", false, "write nothing; exit 1 if a generated file is missing or out of date")
	verbose := fs.Bool("v", false, "print the files written")
	explainFunc := fs.String("explain", "", "write nothing; print what the version of the memoized function `FUNC` covers (F, T.M, pkg.F, ...)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: picogen [flags] [packages]\n\n")
		fmt.Fprintf(stderr, "picogen writes %s with memoized wrappers for the functions\nannotated //picocache: in each package (default \".\").\n\nFlags:\n", generator.FileName)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := generator.Config{Patterns: fs.Args(), NoSQLite: *noSQLite}
	if *tags != "" {
		cfg.Tags = strings.Split(*tags, ",")
	}
	res, err := generator.Generate(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "picogen: %v\n", err)
		return 1
	}
	cwd, _ := os.Getwd()
	rel := func(name string) string {
		if cwd == "" || !filepath.IsAbs(name) {
			return name
		}
		if r, err := filepath.Rel(cwd, name); err == nil {
			return r
		}
		return name
	}
	if len(res.Diagnostics) > 0 {
		for _, d := range res.Diagnostics {
			d.File = rel(d.File)
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	if *explainFunc != "" {
		return explain(stdout, stderr, res.Funcs, *explainFunc, rel)
	}
	names := make([]string, 0, len(res.Files))
	for name := range res.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	code := 0
	for _, name := range names {
		src := res.Files[name]
		old, err := os.ReadFile(name)
		if err == nil && bytes.Equal(old, src) {
			continue
		}
		if *check {
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(stderr, "%s: missing: run go generate\n", rel(name))
			} else {
				fmt.Fprintf(stderr, "%s: out of date: run go generate\n", rel(name))
			}
			code = 1
			continue
		}
		if err := os.WriteFile(name, src, 0o644); err != nil {
			fmt.Fprintf(stderr, "picogen: %v\n", err)
			return 1
		}
		if *verbose {
			fmt.Fprintln(stdout, rel(name))
		}
	}
	for _, name := range res.Stale {
		if *check {
			fmt.Fprintf(stderr, "%s: stale: no annotated functions remain; run go generate\n", rel(name))
			code = 1
			continue
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "picogen: %v\n", err)
			return 1
		}
		if *verbose {
			fmt.Fprintln(stdout, "removed", rel(name))
		}
	}
	return code
}
