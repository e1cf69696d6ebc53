package emit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/picocache/picocache/generator/internal/model"
)

// CodecFormat names the key and value encodings the generated code
// writes. It is part of every function's version and of every value's
// type description: change it when an encoding changes.
const CodecFormat = "picogen1"

// Version is fn's version as its generated handle carries it: the
// automatic version, a digest of the encoding's format, the signature,
// the key and value layouts, the normalised source and everything else
// it covers (its module's declarations it reaches, the versions of the
// other modules they use, the go version), with the manual version=
// after a '+'.
func Version(fn *model.Func) string {
	var keyParts []string
	if fn.Recv != nil {
		if fn.Recv.Ignored {
			keyParts = append(keyParts, "recv:ignored")
		} else {
			keyParts = append(keyParts, "recv:"+layout(fn.Recv.Type))
		}
	}
	for _, p := range fn.Params {
		if p.Ignored {
			keyParts = append(keyParts, "ignored")
		} else {
			keyParts = append(keyParts, layout(p.Type))
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\nsig %s\n", CodecFormat, fn.Signature)
	fmt.Fprintf(h, "key typed=%t %s\n", fn.Typed, strings.Join(keyParts, "; "))
	fmt.Fprintf(h, "value %s\n", strings.Join(resultLayouts(fn), "; "))
	h.Write(fn.Source)
	for _, c := range fn.Covers {
		fmt.Fprintf(h, "\ncover %s %s %s", c.Kind, c.Name, c.Hash)
	}
	v := hex.EncodeToString(h.Sum(nil))[:16]
	if fn.ManualVersion != "" {
		v += "+" + fn.ManualVersion
	}
	return v
}

// valueType describes the stored value's layout (runtime.Codec.Type): a
// value written for another layout is a miss.
func valueType(fn *model.Func) string {
	return CodecFormat + " " + strings.Join(resultLayouts(fn), ", ")
}

func resultLayouts(fn *model.Func) []string {
	var ls []string
	for _, r := range fn.Results {
		ls = append(ls, layout(r))
	}
	return ls
}

// layout describes how t is encoded, expanding named types once: a change
// to a struct's fields, or to how a type encodes itself, changes it.
func layout(t *model.Type) string {
	var b strings.Builder
	writeLayout(&b, t, map[*model.Type]bool{})
	return b.String()
}

func writeLayout(b *strings.Builder, t *model.Type, seen map[*model.Type]bool) {
	switch t.Kind {
	case model.Named:
		b.WriteString(t.ID)
		if seen[t] {
			return
		}
		seen[t] = true
		if t.KeyMethod || t.PtrKeyMethod {
			b.WriteString("{key method}")
		}
		if t.BinaryValue {
			b.WriteString("{binary}")
		}
		b.WriteString("=")
		writeLayout(b, t.Underlying, seen)
	case model.Pointer:
		b.WriteString("*")
		writeLayout(b, t.Elem, seen)
	case model.Slice:
		b.WriteString("[]")
		writeLayout(b, t.Elem, seen)
	case model.Array:
		fmt.Fprintf(b, "[%d]", t.Len)
		writeLayout(b, t.Elem, seen)
	case model.Map:
		b.WriteString("map[")
		writeLayout(b, t.Key, seen)
		b.WriteString("]")
		writeLayout(b, t.Elem, seen)
	case model.Struct:
		b.WriteString("struct{")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(f.Name + " ")
			writeLayout(b, f.Type, seen)
		}
		b.WriteString("}")
	default:
		b.WriteString(t.ID)
	}
}
