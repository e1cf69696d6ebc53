package load

import (
	"os"
	"path/filepath"
	"testing"
)

func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
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

// TestSyntaxOfImports checks what deep versions rely on: one load of a
// package keeps, for the module's packages it imports, their files,
// module and export data (go/packages documents placeholders there,
// without NeedDeps), and Syntax type-checks one of them from source on
// demand, reading a stale generated file of it as empty; a package with
// errors, which go/packages checks from source itself, is returned as it
// checked it.
func TestSyntaxOfImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	dir := writeModule(t, map[string]string{
		"go.mod":             "module example.com/m\n\ngo 1.26\n",
		"a/a.go":             "package a\n\nimport (\n\t\"example.com/m/b\"\n\t\"example.com/m/c\"\n)\n\nfunc A() int { return b.B() + c.C() }\n",
		"c/c.go":             "package c\n\nfunc C() int { return d() }\n\nfunc d() string { return 1 }\n",
		"b/b.go":             "package b\n\nimport \"strings\"\n\nfunc B() int { return len(strings.Repeat(\"x\", c())) }\n\nfunc c() int { return 2 }\n",
		"b/" + GeneratedFile: Header + "\n\npackage b\n\nfunc Stale() int { return 1 }\n",
	})
	lr, err := Load(Config{Dir: filepath.Join(dir, "a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Packages) != 1 {
		t.Fatalf("packages %v", lr.Packages)
	}
	p := lr.Package("example.com/m/b")
	if p == nil || p.Module == nil || p.Module.Path != "example.com/m" || len(p.GoFiles) == 0 || p.ExportFile == "" {
		t.Fatalf("example.com/m/b in the graph: %+v", p)
	}
	if s := lr.Package("strings"); s == nil || s.Module != nil {
		t.Errorf("strings in the graph: %+v (want no module)", s)
	}
	syn, err := lr.Syntax("example.com/m/b")
	if err != nil {
		t.Fatal(err)
	}
	if syn.Types == nil || syn.Types.Scope().Lookup("c") == nil {
		t.Fatalf("b's types lack c")
	}
	if syn.Types.Scope().Lookup("Stale") != nil {
		t.Errorf("the stale generated file was read")
	}
	uses := 0
	for id, obj := range syn.Info.Uses {
		if id.Name == "Repeat" && obj.Pkg() != nil && obj.Pkg().Path() == "strings" {
			uses++
		}
	}
	if uses != 1 {
		t.Errorf("strings.Repeat is used %d times in b's type information, want 1", uses)
	}
	if again, _ := lr.Syntax("example.com/m/b"); again != syn {
		t.Errorf("Syntax checked b twice")
	}
	// c does not compile: go/packages checked it from source, and
	// Syntax returns that.
	if c, err := lr.Syntax("example.com/m/c"); err != nil || c.Types.Scope().Lookup("d") == nil || len(c.Files) != 1 {
		t.Errorf("Syntax of a package with type errors: %v", err)
	}
	if _, err := lr.Syntax("example.com/m/nosuch"); err == nil {
		t.Errorf("Syntax of a package not in the graph: no error")
	}
}
