package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/picocache/picocache/generator"
)

// matches reports whether name designates f: F or T.M (a method also as
// (*T).M), alone or after the package's name or import path and a dot.
func matches(f generator.Func, name string) bool {
	forms := []string{f.Name}
	if short, ok := strings.CutPrefix(f.Name, "(*"); ok {
		forms = append(forms, strings.Replace(short, ")", "", 1))
	}
	for _, form := range forms {
		if name == form || name == f.PackageName+"."+form || name == f.Package+"."+form {
			return true
		}
	}
	return false
}

// explain prints what the version of each function matching name covers,
// with positions as rel makes them, and returns the exit code.
func explain(stdout, stderr io.Writer, funcs []generator.Func, name string, rel func(string) string) int {
	var found []generator.Func
	for _, f := range funcs {
		if matches(f, name) {
			found = append(found, f)
		}
	}
	if len(found) == 0 {
		var names []string
		for _, f := range funcs {
			names = append(names, f.PackageName+"."+f.Name)
		}
		if len(names) == 0 {
			fmt.Fprintf(stderr, "picogen: -explain %q: no memoized function in the packages loaded\n", name)
		} else {
			fmt.Fprintf(stderr, "picogen: -explain %q matches no memoized function of the packages loaded (%s)\n", name, strings.Join(names, ", "))
		}
		return 1
	}
	for i, f := range found {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s.%s\n", f.Package, f.Name)
		fmt.Fprintf(stdout, "version %s\n", f.Version)
		fmt.Fprintf(stdout, "covers its own source and signature, the encoding, and:\n")
		width := 0
		for _, c := range f.Covers {
			width = max(width, len(c.Name))
		}
		for _, c := range f.Covers {
			switch c.Kind {
			case "module":
				fmt.Fprintf(stdout, "  %-6s %s %s\n", c.Kind, c.Name, c.Hash)
			case "go":
				fmt.Fprintf(stdout, "  %-6s %s (the language and the standard library)\n", c.Kind, c.Hash)
			default:
				fmt.Fprintf(stdout, "  %-6s %-*s %s\n", c.Kind, width, c.Name, c.Hash[:min(12, len(c.Hash))])
			}
		}
		if len(f.Unresolved) == 0 {
			fmt.Fprintf(stdout, "unresolved calls: none\n")
			continue
		}
		fmt.Fprintf(stdout, "unresolved calls (not covered):\n")
		for _, u := range f.Unresolved {
			fmt.Fprintf(stdout, "  %s:%d:%d: %s\n", rel(u.File), u.Line, u.Col, u.What)
		}
	}
	return 0
}
