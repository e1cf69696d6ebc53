// Package generator is picogen's engine: it finds functions annotated with
// //picocache: directives and renders, for each package, a file with
// their memoized wrappers.
//
// The pipeline has one stage per internal package, with plain data between
// them: load (golang.org/x/tools/go/packages, tolerant of stale generated
// files and of callers of wrappers not generated yet; one go list run,
// and the module's other packages that annotated functions reach parsed
// and type-checked on demand against export data) → directive (parse
// the annotation, standard library only) → analyze (go/types → model,
// with the facts emission needs: whether a type is recursive or fallible,
// its key and value sizes; and what each version covers: the module's
// declarations a function reaches through static calls, the other
// modules' versions, the calls that cannot be resolved) → model (names,
// options, type shapes, facts, covered items with their digests; no
// go/types or go/ast) → emit (github.com/dave/jennifer; a pure function
// from the model to file contents, which owns the encoding's format and
// the version digest, and chooses every name the file introduces in one
// scope that knows the user's names). Only cmd/picogen writes files.
//
// This package must not import github.com/picocache/picocache/runtime,
// runtime/codec or any store: the generated code does, the generator does
// not.
package generator
