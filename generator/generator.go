package generator

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/picocache/picocache/generator/internal/analyze"
	"github.com/picocache/picocache/generator/internal/emit"
	"github.com/picocache/picocache/generator/internal/load"
	"github.com/picocache/picocache/generator/internal/model"
)

// FileName is the file picogen writes in each package with annotations.
const FileName = load.GeneratedFile

// Config says which packages to generate for.
type Config struct {
	Dir      string   // working directory for loading; "" for the current one
	Patterns []string // package patterns; none means "."
	Tags     []string // build tags
	Env      []string // environment for the go command; nil for os.Environ()
	// NoSQLite leaves out the blank import of runtime/sqlite, the embedded
	// default store: use it when every function is bound to another store
	// or a process default is set, to keep modernc.org/sqlite out of the
	// binary.
	NoSQLite bool
}

// Diagnostic is a problem in the user's code.
type Diagnostic struct {
	File      string // as loaded (absolute)
	Line, Col int
	Msg       string
}

// String formats d as file:line:col: message.
func (d Diagnostic) String() string {
	if d.Line == 0 {
		if d.File == "" {
			return d.Msg
		}
		return fmt.Sprintf("%s: %s", d.File, d.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Msg)
}

// Result is what a run produced.
type Result struct {
	// Files maps the absolute name of each file to write to its contents.
	Files map[string][]byte
	// Stale lists generated files of packages that no longer have any
	// annotated function; the caller should remove them.
	Stale []string
	// Diagnostics are every problem found, sorted by file and position.
	// When there are any, Files is empty: nothing should be written.
	Diagnostics []Diagnostic
	// Funcs describes every memoized function analyzed without problems,
	// by package (sorted by import path) and position: its version and
	// what the version covers (what picogen -explain prints).
	Funcs []Func
}

// Func is a memoized function and what its automatic version covers.
type Func struct {
	Package     string // import path
	PackageName string
	Name        string // F, T.M or (*T).M
	Version     string // as its generated handle carries it
	// Covers is everything the version covers beyond the function's own
	// normalised source and signature (and the encoding's format), sorted
	// by kind (func, method, type, const, var, module, go), then name.
	Covers []Covered
	// Unresolved lists the calls on the way that cannot be resolved
	// statically: not covered, sorted by position.
	Unresolved []Unresolved
}

// Covered is one thing a version covers.
type Covered struct {
	// Kind is func, method, type, const or var (a declaration of the
	// function's module), module (another module) or go (go.mod's go
	// version: the language and the standard library).
	Kind string
	// Name is package-qualified by import path (example.com/m/rates.Discount,
	// example.com/m.(*Repo).Path), a module path, or "go".
	Name string
	// Hash is the SHA-256 of a declaration's normalised source (of a
	// constant's type and value), a module's version as go.mod selects
	// it (with its replacement), or the go version.
	Hash string
}

// Unresolved is a call that cannot be resolved statically, such as one
// of an interface method or of a func value.
type Unresolved struct {
	File      string // as loaded (absolute)
	Line, Col int
	What      string // the call and why
}

// Generate loads the packages, analyzes their annotated functions and
// renders one file per package. The error is for a failure to load at
// all (the go command missing, a bad pattern); problems in the user's code
// are Diagnostics.
func Generate(cfg Config) (*Result, error) {
	lr, err := load.Load(load.Config{Dir: cfg.Dir, Patterns: cfg.Patterns, Tags: cfg.Tags, Env: cfg.Env})
	if err != nil {
		return nil, err
	}
	res := &Result{Files: map[string][]byte{}}
	var models []*model.Package
	an := analyze.New(lr)
	for _, pkg := range lr.Packages {
		mp, diags := an.Package(pkg)
		for _, d := range diags {
			res.Diagnostics = append(res.Diagnostics, Diagnostic(d))
		}
		if mp == nil {
			// No annotations: a generated file left from earlier is stale.
			for _, f := range pkg.GoFiles {
				if filepath.Base(f) == FileName {
					res.Stale = append(res.Stale, f)
				}
			}
			continue
		}
		mp.NoSQLite = cfg.NoSQLite
		models = append(models, mp)
	}
	sort.Slice(models, func(i, j int) bool { return models[i].Path < models[j].Path })
	for _, mp := range models {
		for i := range mp.Funcs {
			res.Funcs = append(res.Funcs, describe(mp, &mp.Funcs[i]))
		}
	}
	sortDiagnostics(res.Diagnostics)
	if len(res.Diagnostics) > 0 {
		res.Stale = nil
		return res, nil
	}
	for _, mp := range models {
		files, err := emit.Package(mp)
		if err != nil {
			return nil, err
		}
		for name, src := range files {
			res.Files[filepath.Join(mp.Dir, name)] = src
		}
	}
	return res, nil
}

func sortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Msg < b.Msg
	})
}

// describe says what fn's version covers.
func describe(mp *model.Package, fn *model.Func) Func {
	f := Func{Package: mp.Path, PackageName: mp.Name, Name: fn.Name, Version: emit.Version(fn)}
	if fn.Recv != nil {
		if fn.Recv.Type.Kind == model.Pointer {
			f.Name = "(*" + fn.RecvName + ")." + fn.Name
		} else {
			f.Name = fn.RecvName + "." + fn.Name
		}
	}
	for _, c := range fn.Covers {
		f.Covers = append(f.Covers, Covered{Kind: c.Kind.String(), Name: c.Name, Hash: c.Hash})
	}
	for _, u := range fn.Unresolved {
		f.Unresolved = append(f.Unresolved, Unresolved(u))
	}
	return f
}
