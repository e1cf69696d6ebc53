package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picocache/picocache/internal/testenv"
	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/sqldb"
)

// TestSQLServers runs ls, clear and prune against PostgreSQL and
// MariaDB, in a table of the test's own.
func TestSQLServers(t *testing.T) {
	for _, srv := range []struct{ name, url, quote string }{
		{"postgres", testenv.Env("PICOCACHE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), `"`},
		{"mysql", testenv.Env("PICOCACHE_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"), "`"},
	} {
		t.Run(srv.name, func(t *testing.T) {
			ctx := context.Background()
			table := fmt.Sprintf("cmdtest_%d", time.Now().UnixNano()%1e9)
			url := srv.url + map[bool]string{true: "&", false: "?"}[strings.Contains(srv.url, "?")] + "table=" + table
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s, err := sqldb.Open(octx, url)
			cancel()
			if err != nil {
				testenv.Unavailable(t, srv.name, err)
			}
			defer s.Close()
			t.Cleanup(func() {
				for _, suffix := range []string{"", "_count", "_ns"} {
					s.DB().ExecContext(ctx, "DROP TABLE IF EXISTS "+srv.quote+table+suffix+srv.quote)
				}
			})
			for ns, n := range map[string]int{"example.com/app.F@v1": 1200, "example.com/app.F@v2": 3, "example.com/app.G@v1": 2} {
				sp, err := s.Space(ctx, runtime.Namespace{Name: ns, Limits: runtime.Limits{MaxSize: runtime.Unbounded}})
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					if err := sp.Set(ctx, []byte{byte(i), byte(i >> 8)}, []byte("value")); err != nil {
						t.Fatal(err)
					}
				}
			}
			ls := func() map[string]int64 {
				t.Helper()
				code, out, errOut := picocache(t, "ls", "-json", url)
				if code != 0 {
					t.Fatalf("ls: exit %d: %s", code, errOut)
				}
				var rows []row
				if err := json.Unmarshal([]byte(out), &rows); err != nil {
					t.Fatalf("ls -json: %v\n%s", err, out)
				}
				m := map[string]int64{}
				for _, r := range rows {
					m[r.Namespace] = r.Entries
				}
				return m
			}
			if got := ls(); got["example.com/app.F@v1"] != 1200 || got["example.com/app.F@v2"] != 3 || got["example.com/app.G@v1"] != 2 {
				t.Fatalf("ls: %v", got)
			}
			if code, out, errOut := picocache(t, "clear", url, "example.com/app.G@v1"); code != 0 || !strings.Contains(out, "1 namespaces, 2 entries") {
				t.Fatalf("clear: exit %d: %s%s", code, out, errOut)
			}
			// Age F@v1 as 60 days without use would.
			q := "UPDATE " + srv.quote + table + "_ns" + srv.quote + " SET used = $1 WHERE name = $2"
			if srv.name == "mysql" {
				q = strings.NewReplacer("$1", "?", "$2", "?").Replace(q)
			}
			if _, err := s.DB().ExecContext(ctx, q, time.Now().Add(-60*24*time.Hour).UnixMilli(), []byte("example.com/app.F@v1")); err != nil {
				t.Fatal(err)
			}
			if code, out, errOut := picocache(t, "prune", "-unused-for", "720h", url); code != 0 || !strings.Contains(out, "pruned 1 namespaces") {
				t.Fatalf("prune: exit %d: %s%s", code, out, errOut)
			}
			if got := ls(); got["example.com/app.F@v1"] != 0 || got["example.com/app.F@v2"] != 3 || got["example.com/app.G@v1"] != 0 {
				t.Errorf("after clear and prune: %v", got)
			}
		})
	}
}
