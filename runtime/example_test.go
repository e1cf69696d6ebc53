package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/picocache/picocache/runtime"
)

// squareCache is what picogen declares for
//
//	//picocache:maxsize=2
//	func Square(n int) int
var squareCache = runtime.New(
	runtime.Config{Name: "example.com/app.Square", Version: "1", MaxSize: 2},
	runtime.Codec[int]{
		Type:   "int",
		Append: func(dst []byte, v int) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) },
		Decode: func(src []byte) (int, error) {
			if len(src) != 8 {
				return 0, errors.New("not an int")
			}
			return int(binary.BigEndian.Uint64(src)), nil
		},
	},
)

// squareCached is what picogen writes as SquareCached.
func squareCached(n int) int {
	var kb [8]byte
	key := binary.BigEndian.AppendUint64(kb[:0], uint64(n))
	v, _ := squareCache.Do(context.Background(), key, func(context.Context) (int, error) {
		fmt.Println("computing", n)
		return n * n, nil
	})
	return v
}

// Generated wrappers call Do with the encoded arguments as the key.
func ExampleFunc_Do() {
	squareCache.Bind(runtime.NewMemory())
	defer squareCache.Bind(nil)
	squareCache.Clear(context.Background()) // counters are per function, not per store

	for _, n := range []int{1, 2, 3, 1, 2, 2} {
		squareCached(n)
	}
	info, _ := squareCache.Info(context.Background())
	fmt.Printf("hits %d, misses %d, currsize %d of %d\n", info.Hits, info.Misses, info.CurrSize, info.MaxSize)
	// Output:
	// computing 1
	// computing 2
	// computing 3
	// computing 1
	// computing 2
	// hits 1, misses 5, currsize 2 of 2
}

// Clear empties a function's entries, in every process sharing its
// store, and resets this process's counters.
func ExampleFunc_Clear() {
	squareCache.Bind(runtime.NewMemory())
	defer squareCache.Bind(nil)

	squareCached(4)
	squareCache.Clear(context.Background())
	squareCached(4)
	info, _ := squareCache.Info(context.Background())
	fmt.Printf("hits %d, misses %d, currsize %d\n", info.Hits, info.Misses, info.CurrSize)
	// Output:
	// computing 4
	// computing 4
	// hits 0, misses 1, currsize 1
}

// Bind gives one function its own store; Bind(nil) returns it to the
// default.
func ExampleFunc_Bind() {
	mem := runtime.NewMemory()
	squareCache.Bind(mem)
	defer squareCache.Bind(nil)

	squareCached(5)
	info, _ := squareCache.Info(context.Background())
	fmt.Println("entries in the bound store:", info.CurrSize)
	// Output:
	// computing 5
	// entries in the bound store: 1
}

// SetDefaultStore chooses the store of every function not bound to one,
// ahead of PICOCACHE_URL and ./picocache.db.
func ExampleSetDefaultStore() {
	mem := runtime.NewMemory()
	runtime.SetDefaultStore(mem)
	defer runtime.SetDefaultStore(nil)
	squareCache.Clear(context.Background()) // counters are per function, not per store

	squareCached(6)
	squareCached(6)
	info, _ := squareCache.Info(context.Background())
	fmt.Printf("hits %d, misses %d, currsize %d\n", info.Hits, info.Misses, info.CurrSize)
	squareCache.Clear(context.Background())
	// Output:
	// computing 6
	// hits 1, misses 1, currsize 1
}

// A Memory is a Store like any other: bytes in, bytes out, per namespace.
func ExampleNewMemory() {
	ctx := context.Background()
	s := runtime.NewMemory()
	defer s.Close()

	sp, _ := s.Space(ctx, runtime.Namespace{Name: "fn", Limits: runtime.Limits{MaxSize: 2}})
	sp.Set(ctx, []byte("a"), []byte("A"))
	sp.Set(ctx, []byte("b"), []byte("B"))
	sp.Get(ctx, []byte("a"))              // a is now the most recently used
	sp.Set(ctx, []byte("c"), []byte("C")) // evicts b
	_, ok, _ := sp.Get(ctx, []byte("b"))
	n, _ := sp.Len(ctx)
	fmt.Println("b present:", ok, "entries:", n)
	// Output: b present: false entries: 2
}

// Store packages register their URL schemes when imported; OpenURL then
// opens a store from a URL, as PICOCACHE_URL does.
func ExampleRegisterScheme() {
	runtime.RegisterScheme("example-mem", func(ctx context.Context, rawURL string) (runtime.Store, error) {
		return runtime.NewMemory(), nil
	})
	s, err := runtime.OpenURL(context.Background(), "example-mem://anything")
	fmt.Println(s != nil, err)

	_, err = runtime.OpenURL(context.Background(), "nosuch://host")
	fmt.Println(strings.Contains(err.Error(), `no store registered for scheme "nosuch"`))
	// Output:
	// true <nil>
	// true
}

// Walk every memoized function of the process, as an operator's endpoint
// or a metrics exporter does.
func ExampleFuncs() {
	squareCache.Bind(runtime.NewMemory())
	defer squareCache.Bind(nil)
	squareCache.Clear(context.Background()) // counters are per function, not per store
	squareCached(3)
	squareCached(3)
	for _, h := range runtime.Funcs() {
		if strings.HasPrefix(h.Namespace(), "example.com/") {
			c := h.Counts()
			fmt.Printf("%s maxsize=%d hits=%d misses=%d\n", h.Namespace(), h.Config().MaxSize, c.Hits, c.Misses)
		}
	}
	// Output:
	// computing 3
	// example.com/app.Square@1 maxsize=2 hits=1 misses=1
}
