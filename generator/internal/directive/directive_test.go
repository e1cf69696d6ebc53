package directive

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  Options
	}{
		{[]string{"//picocache:maxsize=none"}, Options{MaxSize: Unbounded}},
		{[]string{"//picocache:maxsize=0"}, Options{MaxSize: 0}},
		{[]string{"//picocache:maxsize=256,typed"}, Options{MaxSize: 256, Typed: true}},
		{[]string{"//picocache:typed=false, ttl=1h30m"}, Options{MaxSize: Unbounded, TTL: 90 * time.Minute}},
		{[]string{"//picocache:ignore=log", "//picocache:ignore=db,version=v2.1,name=app/users.Get"}, Options{
			MaxSize: Unbounded, Version: "v2.1", Name: "app/users.Get",
			Ignore: []Ignore{{Name: "log", Line: 0, Offset: 12}, {Name: "db", Line: 1, Offset: 12}},
		}},
	} {
		got, errs := Parse(c.lines)
		if len(errs) != 0 {
			t.Errorf("%q: errors %v", c.lines, errs)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.lines, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		line string
		off  int
		msg  string
	}{
		{"//picocache:maxsize", 12, "needs a value"},
		{"//picocache:maxsize=+1", 20, "bad maxsize"},
		{"//picocache:maxsize=99999999999999999999", 20, "bad maxsize"},
		{"//picocache:ttl=-1s", 16, "bad ttl"},
		{"//picocache:ttl=1y", 16, "bad ttl"},
		{"//picocache:Typed", 12, "want an option name"},
		{"//picocache:typed;maxsize=1", 17, "separate options with ','"},
		{"//picocache:maxsize=1,,typed", 22, "want an option name"},
		{"//picocache:ignore=a.b", 19, "bad ignore"},
		{"//picocache:ignore=a,ignore=a", 21, "ignored twice"},
		{"//picocache: typed", 12, `space after "//picocache:": write "//picocache:typed"`},
		{"//picocache:\t maxsize=2 ", 12, `space after "//picocache:": write "//picocache:maxsize=2"`},
		{"//picocache:  ", 12, "empty directive"},
		{"//picocache:", 12, "empty directive"},
		{"//picocache:name=a b", 19, "unexpected"},
		{"//picocache:version=é\x00", 22, "bad version"},
	} {
		_, errs := Parse([]string{c.line})
		if len(errs) == 0 {
			t.Errorf("%q: no error", c.line)
			continue
		}
		if errs[0].Offset != c.off || !strings.Contains(errs[0].Msg, c.msg) {
			t.Errorf("%q: %d %q, want offset %d and %q", c.line, errs[0].Offset, errs[0].Msg, c.off, c.msg)
		}
	}
}

// TestParseSpaceThenOptions checks that a space after the colon is
// reported once, and the options after it are still checked.
func TestParseSpaceThenOptions(t *testing.T) {
	_, errs := Parse([]string{"//picocache: maxsize=x"})
	if len(errs) != 2 || errs[0].Offset != 12 || !strings.Contains(errs[0].Msg, "space after") ||
		errs[1].Offset != 21 || !strings.Contains(errs[1].Msg, "bad maxsize") {
		t.Errorf("errors %+v, want a space at 12 and a bad maxsize at 21", errs)
	}
}

func TestNearMiss(t *testing.T) {
	for _, c := range []struct{ comment, want string }{
		{"// picocache:maxsize=1", `"// picocache:maxsize=1" is not a picocache directive: there is a space after //; write "//picocache:maxsize=1" (gofmt keeps that form)`},
		{"//\tpicocache:x", `there is a space after //; write "//picocache:x"`},
		{"//PicoCache:maxsize=2", `"//PicoCache:maxsize=2" is not a picocache directive: "PicoCache" is not lower case; write "//picocache:maxsize=2" (gofmt keeps that form)`},
		{"//PICOCACHE: typed", `"PICOCACHE" is not lower case; write "//picocache:typed"`},
		{"//picocache :typed", `there is a space before ':'; write "//picocache:typed"`},
		{"/* picocache:typed */", `it is a /* */ comment; write "//picocache:typed"`},
		{"// PicoCache :ttl=1h", `there is a space after //; "PicoCache" is not lower case; there is a space before ':'; write "//picocache:ttl=1h"`},
	} {
		got := NearMiss(c.comment)
		if !strings.Contains(got, c.want) {
			t.Errorf("NearMiss(%q) = %q, want it to contain %q", c.comment, got, c.want)
		}
	}
	for _, s := range []string{"//picocache:typed", "//picocache: typed", "// picocache is great", "// see picocache: docs", "//go:generate x", "/* a */", "//picocach:x"} {
		if got := NearMiss(s); got != "" {
			t.Errorf("NearMiss(%q) = %q, want none", s, got)
		}
	}
}

// FuzzNearMiss checks that NearMiss never panics, never calls a directive
// a near miss, and that the line it suggests is a directive.
func FuzzNearMiss(f *testing.F) {
	for _, s := range []string{"// picocache:maxsize=1", "//PicoCache:typed", "//picocache :x", "/* picocache:x */", "//picocache:x", "/*picocache:", "//picocache"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, comment string) {
		msg := NearMiss(comment)
		if msg == "" {
			return
		}
		if IsDirective(comment) {
			t.Fatalf("%q is a directive, but NearMiss says %q", comment, msg)
		}
		_, fix, ok := strings.Cut(msg, "; write ")
		if !ok {
			t.Fatalf("%q: no suggestion in %q", comment, msg)
		}
		if !strings.HasPrefix(fix, `"`+Prefix) {
			t.Fatalf("%q: suggestion %q is not a directive", comment, fix)
		}
	})
}

// FuzzParse checks that Parse never panics, reports offsets inside the
// line, and that what it accepts it accepts again when written back in
// canonical form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"//picocache:maxsize=256,typed",
		"//picocache:maxsize=none",
		"//picocache:ttl=90s, ignore=log ,version=2,name=x/y.Z",
		"//picocache:typed=false",
		"//picocache:maxsize=1,,",
		"//picocache:ignore=é",
		"//picocache:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		o, errs := Parse([]string{line})
		for _, e := range errs {
			if e.Offset < 0 || e.Offset > len(line) || e.Line != 0 || e.Msg == "" {
				t.Fatalf("%q: bad error %+v", line, e)
			}
		}
		if len(errs) > 0 {
			return
		}
		o2, errs := Parse([]string{Format(o)})
		if len(errs) > 0 {
			t.Fatalf("%q: canonical form %q fails: %v", line, Format(o), errs)
		}
		for i := range o.Ignore {
			o.Ignore[i].Offset, o2.Ignore[i].Offset = 0, 0
		}
		if !reflect.DeepEqual(o, o2) {
			t.Fatalf("%q: %+v, canonical form %q gives %+v", line, o, Format(o), o2)
		}
	})
}
