package emit

import (
	"bytes"
	"go/format"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestFormatInPieces checks that formatting a file's head and pieces of
// its declarations apart, and joining them, gives what go/format gives
// for the whole file: for every golden output, cut before each top-level
// declaration (or its doc comment) that follows a blank line, a little
// unformatted, as jennifer's raw output is.
func TestFormatInPieces(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatal("no goldens", err)
	}
	const chunkMark = "//cut here"
	declStart := regexp.MustCompile(`\n\n((//[^\n]*\n)*(func|var|const|type) )`)
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name != FileName {
				continue
			}
			src := string(f.Data)
			i := strings.Index(src, "\nconst _ =")
			if i < 0 {
				t.Fatalf("%s: no guard constant", file)
			}
			i += strings.Index(src[i+1:], "\n") + 2
			head, body := src[:i], src[i:]
			body = strings.ReplaceAll(body, "\n\n", "\n\n\n")
			body = strings.ReplaceAll(body, " = ", "  =  ")
			marked := declStart.ReplaceAllString("\n\n"+body, "\n\n"+chunkMark+"\n$1")
			var pieces [][]byte
			for n, p := range strings.Split(marked, "\n"+chunkMark+"\n") {
				if n == 0 {
					continue // the blank lines before the first mark
				}
				d, err := formatDecls([]byte(p))
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				pieces = append(pieces, d)
			}
			if len(pieces) < 3 {
				t.Fatalf("%s: %d pieces", file, len(pieces))
			}
			fhead, err := format.Source([]byte(head))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			want, err := format.Source([]byte(head + body))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if got := join(fhead, pieces); !bytes.Equal(got, want) {
				t.Errorf("%s: formatting in pieces differs from formatting the whole", file)
			}
		}
	}
}

// TestImportsRoundTrip checks that splitImports reads what jennifer
// writes, and writeImports writes it back.
func TestImportsRoundTrip(t *testing.T) {
	for _, imports := range []string{
		"",
		"import \"context\"\n\n",
		"import picocodec \"example.com/codec\"\n\n",
		"import (\n\"context\"\npicocodec \"example.com/codec\"\n_ \"example.com/sqlite\"\n)\n\n",
	} {
		raw := "// Code generated.\n\npackage p\n\n" + imports + "const _ = 1\n"
		got, pre, rest, err := splitImports([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if want := "// Code generated.\n\npackage p\n\n"; string(pre) != want {
			t.Errorf("before the imports %q, want %q", pre, want)
		}
		if want := "const _ = 1\n"; string(rest) != want {
			t.Errorf("after the imports %q, want %q", rest, want)
		}
		var b bytes.Buffer
		writeImports(&b, got)
		if b.String() != imports {
			t.Errorf("imports written back:\n%q\nwant:\n%q", b.String(), imports)
		}
	}
}
