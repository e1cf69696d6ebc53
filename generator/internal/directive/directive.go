// Package directive parses picocache annotations: comment lines of the form
//
//	//picocache:maxsize=256,typed,ttl=1h
//
// It uses only the standard library and never panics, whatever the input.
// Errors carry the byte offset of the offending option inside the comment
// text, so callers can report file:line:col.
package directive

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Prefix starts every directive comment. It keeps Go's directive form
// (no space after //), which gofmt leaves untouched.
const Prefix = "//picocache:"

// Unbounded is the MaxSize of a function without a size limit.
const Unbounded = -1

// Options are a function's annotation options, merged over all its
// directive lines.
type Options struct {
	MaxSize int64         // Unbounded, 0 (store nothing) or N
	Typed   bool          // interface arguments keep their dynamic type in the key
	TTL     time.Duration // 0: never expires
	Ignore  []Ignore      // parameters left out of the key, in order written
	Version string        // manual version, added to the automatic one
	Name    string        // stable namespace replacing the function's identity
}

// Ignore names a parameter left out of the key; Line and Offset locate it.
type Ignore struct {
	Name   string
	Line   int // index of the directive line
	Offset int // byte offset of the option in that line
}

// Error is a problem at byte Offset of directive line Line (an index into
// the lines given to Parse).
type Error struct {
	Line   int
	Offset int
	Msg    string
}

func (e Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Offset, e.Msg) }

// IsDirective reports whether a comment's text (with its // or /*) is a
// picocache directive.
func IsDirective(comment string) bool { return strings.HasPrefix(comment, Prefix) }

// NearMiss returns the message for a comment that looks like a picocache
// directive but is not one: what is wrong and how to write it. It returns
// "" for a directive and for a comment that looks like none. It catches "// picocache:" (a space after
// //), "//PicoCache:" (not lower case), "//picocache :" (a space before
// the colon), "/*picocache:...*/" (a block comment) and their mixtures;
// gofmt would turn each into prose.
func NearMiss(comment string) string {
	if IsDirective(comment) {
		return ""
	}
	var body string
	block := false
	switch {
	case strings.HasPrefix(comment, "//"):
		body = comment[2:]
	case strings.HasPrefix(comment, "/*"):
		body, block = strings.TrimSuffix(comment[2:], "*/"), true
	default:
		return ""
	}
	word := strings.TrimLeft(body, " \t")
	spaceAfter := len(word) < len(body)
	const name = "picocache"
	if len(word) < len(name) || !strings.EqualFold(word[:len(name)], name) {
		return ""
	}
	rest := word[len(name):]
	colon := strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(colon, ":") {
		return ""
	}
	var problems []string
	switch {
	case block:
		problems = append(problems, "it is a /* */ comment")
	case spaceAfter:
		problems = append(problems, "there is a space after //")
	}
	if w := word[:len(name)]; w != name {
		problems = append(problems, fmt.Sprintf("%q is not lower case", w))
	}
	if len(colon) < len(rest) {
		problems = append(problems, "there is a space before ':'")
	}
	fixed := Prefix + strings.TrimSpace(colon[1:])
	return fmt.Sprintf("%q is not a picocache directive: %s; write %q (gofmt keeps that form)",
		clip(comment), strings.Join(problems, "; "), clip(fixed))
}

// clip shortens a line quoted in a message to its first line and at
// most 60 bytes.
func clip(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// option is one lexical option: key[=value] at byte offset off.
type option struct {
	key, value string
	hasValue   bool
	off        int
	valOff     int
}

// Parse parses directive lines (comment texts starting with Prefix) and
// merges their options. It returns every problem found, never a partial
// panic; with errors the returned Options are best effort.
func Parse(lines []string) (Options, []Error) {
	o := Options{MaxSize: Unbounded}
	var errs []Error
	seen := map[string]bool{}
	ignored := map[string]bool{}
	for li, line := range lines {
		opts, lexErrs := lex(line)
		for _, e := range lexErrs {
			e.Line = li
			errs = append(errs, e)
		}
		for _, op := range opts {
			fail := func(off int, format string, args ...any) {
				errs = append(errs, Error{Line: li, Offset: off, Msg: fmt.Sprintf(format, args...)})
			}
			if op.key != "ignore" {
				if seen[op.key] {
					fail(op.off, "duplicate option %q", op.key)
					continue
				}
				seen[op.key] = true
			}
			switch op.key {
			case "maxsize":
				if !op.hasValue {
					fail(op.off, "option maxsize needs a value: maxsize=N or maxsize=none")
					continue
				}
				if op.value == "none" {
					o.MaxSize = Unbounded
					continue
				}
				n, err := strconv.ParseInt(op.value, 10, 64)
				if err != nil || n < 0 || op.value[0] == '+' {
					fail(op.valOff, "bad maxsize %q: want a count (0 or more) or none", op.value)
					continue
				}
				o.MaxSize = n
			case "typed":
				if !op.hasValue {
					o.Typed = true
					continue
				}
				switch op.value {
				case "true":
					o.Typed = true
				case "false":
					o.Typed = false
				default:
					fail(op.valOff, "bad typed %q: want typed, typed=true or typed=false", op.value)
				}
			case "ttl":
				if !op.hasValue {
					fail(op.off, "option ttl needs a value: a duration such as ttl=90s or ttl=1h")
					continue
				}
				d, err := time.ParseDuration(op.value)
				if err != nil || d <= 0 {
					fail(op.valOff, "bad ttl %q: want a positive Go duration such as 90s or 1h", op.value)
					continue
				}
				o.TTL = d
			case "ignore":
				if !op.hasValue {
					fail(op.off, "option ignore needs a parameter name: ignore=NAME (repeat the option for several)")
					continue
				}
				if !isIdent(op.value) {
					fail(op.valOff, "bad ignore %q: want a parameter name (repeat the option for several)", op.value)
					continue
				}
				if ignored[op.value] {
					fail(op.off, "parameter %q is ignored twice", op.value)
					continue
				}
				ignored[op.value] = true
				o.Ignore = append(o.Ignore, Ignore{Name: op.value, Line: li, Offset: op.off})
			case "version", "name":
				if !op.hasValue || op.value == "" {
					fail(op.off, "option %s needs a value: %s=STRING", op.key, op.key)
					continue
				}
				if i := strings.IndexFunc(op.value, badStringRune); i >= 0 {
					fail(op.valOff+i, "bad %s %q: want printable characters other than '@'", op.key, op.value)
					continue
				}
				if op.key == "version" {
					o.Version = op.value
				} else {
					o.Name = op.value
				}
			default:
				fail(op.off, "unknown option %q (want maxsize, typed, ttl, ignore, version or name)", op.key)
			}
		}
	}
	return o, errs
}

func badStringRune(r rune) bool {
	return r == '@' || r <= ' ' || r == 0x7f || r == '\uFFFD'
}

func isIdent(s string) bool {
	if s == "" || s == "_" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f && r != '\uFFFD' && isLetterOrDigit(r)
		if i > 0 && r >= '0' && r <= '9' {
			ok = true
		}
		if !ok {
			return false
		}
	}
	return true
}

// lex splits one directive line into options. Options are separated by
// commas; spaces or tabs may surround a comma or end the line. Keys are
// lower-case letters, digits and '_', starting with a letter; values run
// to the next comma or space.
func lex(line string) ([]option, []Error) {
	if !strings.HasPrefix(line, Prefix) {
		return nil, []Error{{Offset: 0, Msg: "not a picocache directive"}}
	}
	var opts []option
	var errs []Error
	i := len(Prefix)
	n := len(line)
	skipSpace := func() {
		for i < n && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
	}
	if i < n && (line[i] == ' ' || line[i] == '\t') {
		// Go's directive form has none: gofmt would make the line prose.
		space := i
		skipSpace()
		if i < n {
			errs = append(errs, Error{Offset: space, Msg: fmt.Sprintf("space after %q: write %q (gofmt keeps that form)",
				Prefix, clip(Prefix+strings.TrimRight(line[i:], " \t")))})
		}
	}
	if i == n {
		return nil, append(errs, Error{Offset: len(Prefix), Msg: "empty directive: write an option, such as //picocache:maxsize=none"})
	}
	for {
		start := i
		for i < n && (line[i] >= 'a' && line[i] <= 'z' || line[i] == '_' || i > start && line[i] >= '0' && line[i] <= '9') {
			i++
		}
		op := option{key: line[start:i], off: start}
		if op.key == "" {
			if i < n {
				errs = append(errs, Error{Offset: i, Msg: fmt.Sprintf("unexpected %q: want an option name", rune0(line[i:]))})
			} else {
				errs = append(errs, Error{Offset: i, Msg: "missing option after ','"})
			}
			return opts, errs
		}
		if i < n && line[i] == '=' {
			i++
			op.hasValue = true
			op.valOff = i
			for i < n && line[i] != ',' && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			op.value = line[op.valOff:i]
			if op.value == "" {
				errs = append(errs, Error{Offset: op.off, Msg: fmt.Sprintf("option %s has an empty value", op.key)})
				skipToComma(line, &i)
				op.key = ""
			}
		}
		if op.key != "" {
			opts = append(opts, op)
		}
		skipSpace()
		if i == n {
			return opts, errs
		}
		if line[i] != ',' {
			errs = append(errs, Error{Offset: i, Msg: fmt.Sprintf("unexpected %q after option %s: separate options with ','", rune0(line[i:]), op.key)})
			return opts, errs
		}
		i++
		skipSpace()
		if i == n {
			errs = append(errs, Error{Offset: i - 1, Msg: "trailing ',' in directive"})
			return opts, errs
		}
	}
}

func skipToComma(line string, i *int) {
	for *i < len(line) && line[*i] != ',' {
		*i++
	}
}

func rune0(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// Format writes o back as one directive line, in canonical order.
func Format(o Options) string {
	var parts []string
	if o.MaxSize < 0 {
		parts = append(parts, "maxsize=none")
	} else {
		parts = append(parts, "maxsize="+strconv.FormatInt(o.MaxSize, 10))
	}
	if o.Typed {
		parts = append(parts, "typed")
	}
	if o.TTL > 0 {
		parts = append(parts, "ttl="+o.TTL.String())
	}
	for _, ig := range o.Ignore {
		parts = append(parts, "ignore="+ig.Name)
	}
	if o.Version != "" {
		parts = append(parts, "version="+o.Version)
	}
	if o.Name != "" {
		parts = append(parts, "name="+o.Name)
	}
	return Prefix + strings.Join(parts, ",")
}
