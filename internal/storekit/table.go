package storekit

import "fmt"

// MaxTableLen is the longest table name CheckTable accepts: short enough
// that the names a store derives from it (the table's name plus a suffix
// of up to 15 bytes, for an index, a sequence, a function) stay within
// every database's identifier limit (63 bytes in PostgreSQL, 64 in MySQL).
const MaxTableLen = 48

// CheckTable reports, as a non-nil error, that name is not what a store
// accepts as a table name: a plain identifier, a letter or underscore
// then up to MaxTableLen-1 letters, digits or underscores (ASCII), which
// a store can splice into SQL text, quoted, in any dialect. The error
// quotes name and has no prefix of its own.
func CheckTable(name string) error {
	ok := name != "" && len(name) <= MaxTableLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("table name %q is not a plain identifier: want a letter or underscore, then up to %d letters, digits or underscores", name, MaxTableLen-1)
	}
	return nil
}
