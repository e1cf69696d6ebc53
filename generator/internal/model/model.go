// Package model is the plain data between picogen's analysis and its
// emission: names, import paths, options, type shapes and the facts
// analysis derives from them. It holds no go/types or go/ast values, so
// emission is a pure function of it.
//
// Analysis decides what the user's code means and what the generated
// API is called (handles and wrappers, whose collisions are the user's
// errors); emission decides everything else the generated file
// introduces (helper, codec and import names, locals) and owns the
// encoding's format, which it writes.
package model

import "time"

// Package is one package to generate a file for.
type Package struct {
	Path    string   // import path
	Name    string   // package name
	Dir     string   // directory (not emitted)
	Sources []string // base names of the files holding annotated functions, sorted
	Funcs   []Func   // ordered by file, then position
	// Taken lists the package's own package-level names, so that emission
	// can choose names that neither collide with nor hide them.
	Taken []string
	// NoSQLite omits the blank import of the embedded SQLite store.
	NoSQLite bool
}

// Func is one annotated function or method.
type Func struct {
	Name     string // Fib, or the method name
	Recv     *Param // receiver, nil for a function
	RecvName string // the receiver's base type name, "" for a function
	Handle   string // FibCache
	Wrapper  string // FibCached

	CacheName string // runtime.Config.Name
	MaxSize   int64  // -1 unbounded
	TTL       time.Duration
	Typed     bool

	// What the automatic version is derived from; emission adds the
	// encoding's format and the key and value layouts.
	Signature     string // the signature, every type qualified by its import path
	Source        []byte // the normalised source: tokens, without comments or layout
	ManualVersion string // version=, added to the automatic version
	// Covers is what else the version covers: the declarations of the
	// module that the function reaches, the other modules it uses and the
	// Go version, sorted by Kind, then Name.
	Covers []Covered
	// Unresolved lists the calls on the way that cannot be resolved
	// statically (through interfaces, of func values): reported, not
	// part of the version. Sorted by position.
	Unresolved []Unresolved

	Ctx      *Param  // first parameter of type context.Context, nil if absent
	Params   []Param // the other parameters, in order
	Variadic bool    // the last of Params is variadic (its Type is the slice)
	Results  []*Type // results, without a trailing error
	HasError bool    // the last result is error
}

// Param is a parameter (or receiver).
type Param struct {
	Name    string // as declared: "" or "_" when unnamed or blank
	Type    *Type
	Ignored bool // left out of the key
}

// Kind is a type family.
type Kind int

const (
	Basic         Kind = iota // Name is the basic type: bool, int8, float64, string, ...
	Bytes                     // []byte (an unnamed slice of byte)
	Slice                     // []Elem
	Array                     // [Len]Elem
	Map                       // map[Key]Elem
	Struct                    // struct{Fields}
	Pointer                   // *Elem
	Named                     // Pkg.Name with Underlying
	Time                      // time.Time
	Interface                 // an interface type; Name is its source text when unnamed
	Context                   // context.Context
	Error                     // error
	Unsupported               // a type no codec can handle; Name says what it is
	FuncType                  // func(Params) Results: only as an ignored parameter
	ChanType                  // chan Elem (Dir): only as an ignored parameter
	UnsafePointer             // unsafe.Pointer: only as an ignored parameter
)

// Type is the shape of a parameter or result type. Named types may refer
// to themselves through pointers, slices or maps, so the graph may cycle;
// ID identifies a type uniquely in the package.
type Type struct {
	Kind Kind
	ID   string // canonical description, unique per type; used in versions and helper names

	Name    string // Basic: bool, int, ...; Named: the type name; Interface: "any" or the source text
	Pkg     string // Named: import path (the generated package's own types too)
	PkgName string // Named: the name of the package Pkg

	Elem       *Type // Slice, Array, Pointer, Map value
	Key        *Type // Map key
	Len        int64 // Array
	Fields     []Field
	Underlying *Type // Named

	// Named and Pointer-to-Named: how the type encodes itself.
	KeyMethod     bool // T has AppendCacheKey(dst []byte) []byte
	PtrKeyMethod  bool // only *T has it
	BinaryValue   bool // T (or *T) is encoding.BinaryMarshaler and *T encoding.BinaryUnmarshaler
	PtrMarshaller bool // MarshalBinary has a pointer receiver
	TypeArgs      []*Type
	Empty         bool // Interface: the empty interface (any)

	// FuncType: the signature; ChanType: the direction (0 both, 1 send, 2 receive).
	Params, Results []*Type
	Variadic        bool
	Dir             int

	Facts // derived by analysis from the shape above
}

// Facts are what analysis derives from a type's shape for emission,
// which renders them and never recomputes them.
type Facts struct {
	// KeyRecursive and ValueRecursive: writing the type into a key, or
	// as a value, can follow a cycle of types (a named type that contains
	// itself through pointers, slices or maps), so that a cyclic value
	// would never end. A type that encodes itself (a key method,
	// MarshalBinary) ends the walk, as does an interface, whose dynamic
	// value bounds itself.
	KeyRecursive, ValueRecursive bool
	// KeyFallible: writing the type into a key can fail, because it holds
	// an interface whose dynamic value may not be encodable, or it is
	// KeyRecursive and a value may nest too deep.
	KeyFallible bool
	// KeySize is the size of the type's key when every value takes the
	// same number of bytes, else -1.
	KeySize int
	// MinSize is the fewest bytes an encoded value of the type takes, so
	// that decoders can reject lengths the remaining bytes cannot hold.
	MinSize int
}

// Field is a struct field.
type Field struct {
	Name     string // field name (the type name when embedded)
	Type     *Type
	Embedded bool
	Tag      string // struct tag, part of an unnamed struct's identity
	// Unreadable: the field is unexported and the struct belongs to
	// another package, so generated code cannot read or set it.
	Unreadable bool
}

// CoverKind is what a Covered item is. The kinds sort in this order.
type CoverKind int

const (
	CoverFunc   CoverKind = iota // a function of the module: Name is path.F
	CoverMethod                  // a method of the module: path.T.M or path.(*T).M
	CoverType                    // a named type of the module: path.T
	CoverConst                   // a constant of the module: path.C
	CoverVar                     // a package-level variable of the module: path.V
	CoverModule                  // another module: Name is its path
	CoverGo                      // the Go version of the module's go.mod: Name is "go"
)

// String is the kind's name, as versions and -explain write it.
func (k CoverKind) String() string {
	switch k {
	case CoverFunc:
		return "func"
	case CoverMethod:
		return "method"
	case CoverType:
		return "type"
	case CoverConst:
		return "const"
	case CoverVar:
		return "var"
	case CoverModule:
		return "module"
	case CoverGo:
		return "go"
	}
	return "unknown"
}

// Covered is one thing a function's version covers.
type Covered struct {
	Kind CoverKind
	Name string // package-qualified by import path; a module's path; "go"
	// Hash is, for a declaration, the hex SHA-256 of its normalised
	// source (of its type and value, for a constant); for a module, its
	// version as go.mod selects it, with its replacement; for go, the
	// version of go.mod's go line.
	Hash string
}

// Unresolved is a call that cannot be resolved statically.
type Unresolved struct {
	File      string // absolute file name as loaded
	Line, Col int
	What      string // what is called, and why it cannot be resolved
}

// Diagnostic is a problem in the user's code, at a position.
type Diagnostic struct {
	File      string // absolute file name as loaded
	Line, Col int
	Msg       string
}
