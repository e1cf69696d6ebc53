package layout

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/picocache/picocache"

// deps returns every package pkg imports, directly or not (tests excluded).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestImportRules checks what each package must not import: the runtime
// no store, x/tools or jennifer (so a driver is linked only when its store
// is imported); the generator nothing of the runtime; a store no other
// store.
func TestImportRules(t *testing.T) {
	stores := []string{mod + "/runtime/sqlite", mod + "/runtime/sqldb", mod + "/runtime/redis", mod + "/runtime/goredis", mod + "/runtime/memcache", mod + "/runtime/kv"}
	rules := map[string][]string{
		mod + "/runtime": append([]string{"golang.org/x/tools", "github.com/dave/jennifer", "modernc.org/sqlite", "github.com/redis/rueidis",
			"github.com/redis/go-redis", "github.com/bradfitz/gomemcache", "go.opentelemetry.io"}, stores...),
		// The shared Redis core speaks to a client through an interface.
		mod + "/internal/redisstore": {"github.com/redis/rueidis", "github.com/redis/go-redis"},
		mod + "/runtime/storetest":   stores,
		mod + "/generator":           {mod + "/runtime"},
		mod + "/cmd/picogen":         {mod + "/runtime"},
	}
	// Every generator stage too.
	out, err := exec.Command("go", "list", mod+"/generator/internal/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		rules[p] = []string{mod + "/runtime"}
	}
	for _, s := range stores {
		for _, other := range stores {
			// memcache is the key-value adapter over gomemcache: built on
			// runtime/kv, not beside it.
			if other != s && !(s == mod+"/runtime/memcache" && other == mod+"/runtime/kv") {
				rules[s] = append(rules[s], other)
			}
		}
	}
	rules[mod+"/runtime/sqldb"] = append(rules[mod+"/runtime/sqldb"],
		"github.com/jackc/pgx/v5/stdlib", "github.com/go-sql-driver/mysql", "modernc.org/sqlite") // drivers are the user's choice
	for pkg, banned := range rules {
		for _, d := range deps(t, pkg) {
			for _, b := range banned {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s imports %s (directly or not), which it must not", pkg, d)
				}
			}
		}
	}
}

// TestCodecImportsStdOnly checks that the codec of generated code depends
// on the standard library only.
func TestCodecImportsStdOnly(t *testing.T) {
	pkg := mod + "/runtime/codec"
	for _, d := range deps(t, pkg) {
		if first, _, _ := strings.Cut(d, "/"); d != pkg && strings.Contains(first, ".") {
			t.Errorf("%s imports %s (directly or not): it must use the standard library only", pkg, d)
		}
	}
}
