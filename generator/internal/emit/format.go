package emit

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"sort"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
)

// A generated file is built in pieces, each a jennifer file of the
// package with the same import names (emitter.newFile): the head
// (header, imports, the guard), then groups of functions, then groups of
// helpers. Each piece but the head is rendered and formatted on its own
// goroutine as soon as it is built, while the next one is built; the
// head's imports are then made the union of every piece's, and the
// formatted pieces are joined with one blank line, which is where gofmt
// of the whole file puts one: emission writes a blank line before every
// function's and helper's declarations, and so at the start of every
// piece. The result is the bytes gofmt gives for the whole file
// (TestFormatInPieces, and the goldens).

// funcPieces and helperPieces are how many pieces the functions and the
// helpers are built in.
const (
	funcPieces   = 4
	helperPieces = 2
)

// pipeline renders and formats pieces concurrently.
type pipeline struct {
	pieces []*piece
}

type piece struct {
	done    chan struct{}
	imports map[string]string // import path -> its line in an import block
	decls   []byte            // formatted, without surrounding space
	err     error
}

// add starts rendering and formatting f, a piece of declarations.
func (pl *pipeline) add(f *jen.File) {
	pc := &piece{done: make(chan struct{})}
	pl.pieces = append(pl.pieces, pc)
	go func() {
		defer close(pc.done)
		var raw bytes.Buffer
		f.NoFormat = true
		if pc.err = f.Render(&raw); pc.err != nil {
			return
		}
		var decls []byte
		if pc.imports, _, decls, pc.err = splitImports(raw.Bytes()); pc.err != nil {
			return
		}
		pc.decls, pc.err = formatDecls(decls)
	}()
}

// finish renders head with the imports of every piece, formats it, and
// joins the formatted pieces after it.
func (pl *pipeline) finish(head *jen.File) ([]byte, error) {
	var raw bytes.Buffer
	head.NoFormat = true
	if err := head.Render(&raw); err != nil {
		return nil, err
	}
	imports, pre, rest, err := splitImports(raw.Bytes())
	if err != nil {
		return nil, err
	}
	var decls [][]byte
	for _, pc := range pl.pieces {
		<-pc.done
		if pc.err != nil {
			return nil, pc.err
		}
		for path, line := range pc.imports {
			imports[path] = line
		}
		decls = append(decls, pc.decls)
	}
	var src bytes.Buffer
	src.Write(pre)
	writeImports(&src, imports)
	src.Write(rest)
	formatted, err := format.Source(src.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting the generated file: %w", err)
	}
	return join(formatted, decls), nil
}

// join appends formatted pieces of declarations to a formatted file, one
// blank line before each.
func join(file []byte, pieces [][]byte) []byte {
	file = bytes.TrimRight(file, "\n")
	n := len(file) + 1
	for _, p := range pieces {
		n += len(p) + 2
	}
	out := make([]byte, 0, n)
	out = append(out, file...)
	out = append(out, '\n')
	for _, p := range pieces {
		out = append(out, '\n')
		out = append(out, p...)
		out = append(out, '\n')
	}
	return out
}

// formatDecls formats a list of declarations as gofmt formats them in a
// file, without the space around them.
func formatDecls(src []byte) ([]byte, error) {
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("formatting the generated file: %w", err)
	}
	return bytes.TrimSpace(out), nil
}

// splitImports reads the imports of a jennifer file rendered without
// formatting ("import "p"", "import n "p"" or a block of such lines,
// after the package clause) and returns them by path, with what comes
// before them (the header comments and the package clause, with the blank
// line after it) and what comes after them (the declarations).
func splitImports(raw []byte) (imports map[string]string, pre, decls []byte, err error) {
	i := bytes.Index(raw, []byte("package "))
	if i < 0 {
		return nil, nil, nil, errors.New("no package clause in a piece of the file")
	}
	j := bytes.IndexByte(raw[i:], '\n')
	if j < 0 {
		return nil, nil, nil, errors.New("nothing after the package clause in a piece of the file")
	}
	pre = append(raw[:i+j+1:i+j+1], '\n')
	after := bytes.TrimLeft(raw[i+j+1:], "\n")
	imports = map[string]string{}
	add := func(line string) error {
		line = strings.TrimSpace(line)
		path, err := strconv.Unquote(line[strings.LastIndex(line, " ")+1:])
		if err != nil {
			return fmt.Errorf("bad import line %q: %v", line, err)
		}
		imports[path] = line
		return nil
	}
	switch {
	case bytes.HasPrefix(after, []byte("import (\n")):
		block, tail, ok := bytes.Cut(after[len("import (\n"):], []byte("\n)\n"))
		if !ok {
			return nil, nil, nil, errors.New("unterminated import block in a piece of the file")
		}
		for _, line := range strings.Split(string(block), "\n") {
			if err := add(line); err != nil {
				return nil, nil, nil, err
			}
		}
		after = tail
	case bytes.HasPrefix(after, []byte("import ")):
		line, tail, _ := bytes.Cut(after[len("import "):], []byte("\n"))
		if err := add(string(line)); err != nil {
			return nil, nil, nil, err
		}
		after = tail
	}
	return imports, pre, bytes.TrimLeft(after, "\n"), nil
}

// writeImports writes imports as jennifer does: one import on its own
// line, several in a block, sorted by path.
func writeImports(b *bytes.Buffer, imports map[string]string) {
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	switch len(paths) {
	case 0:
		return
	case 1:
		fmt.Fprintf(b, "import %s\n\n", imports[paths[0]])
		return
	}
	b.WriteString("import (\n")
	for _, p := range paths {
		b.WriteString(imports[p] + "\n")
	}
	b.WriteString(")\n\n")
}
