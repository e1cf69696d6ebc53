package runtime_test

import (
	"fmt"
	"strings"

	"github.com/picocache/picocache/runtime"
)

// caseless is a string whose cache key ignores case: an annotated function
// with a caseless parameter gets one entry for "Go" and "GO".
type caseless string

func (s caseless) AppendCacheKey(dst []byte) []byte {
	return append(dst, strings.ToLower(string(s))...)
}

func ExampleKeyAppender() {
	for _, s := range []runtime.KeyAppender{caseless("Go"), caseless("GO")} {
		fmt.Printf("%q\n", s.AppendCacheKey(nil))
	}
	// Output:
	// "go"
	// "go"
}
