// Package layout holds no code: its test checks the import rules that
// STYLE.md and DESIGN.md set for the module's packages.
package layout
