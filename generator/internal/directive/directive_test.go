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
		{"//picocache: typed", 12, "empty directive"},
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

func TestNearMiss(t *testing.T) {
	for _, s := range []string{"// picocache:maxsize=1", "//PicoCache:typed", "//picocache :typed", "/* picocache:typed */", "//\tpicocache:x"} {
		if !IsNearMiss(s) {
			t.Errorf("%q is not a near miss", s)
		}
	}
	for _, s := range []string{"//picocache:typed", "// picocache is great", "// see picocache: docs", "//go:generate x"} {
		if IsNearMiss(s) {
			t.Errorf("%q is a near miss", s)
		}
	}
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
