package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picocache/picocache/runtime"
)

// logRecorder is a slog.Handler that keeps the records it is given.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// warnings returns the Warn records logged so far whose message starts
// with prefix, each as its message and attributes.
func (r *logRecorder) warnings(prefix string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if rec.Level != slog.LevelWarn || !strings.HasPrefix(rec.Message, prefix) {
			continue
		}
		m := map[string]string{"msg": rec.Message}
		rec.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}

// recordLogs makes the default slog logger record into the returned
// recorder until the test ends.
func recordLogs(t *testing.T) *logRecorder {
	r := &logRecorder{}
	old := slog.Default()
	slog.SetDefault(slog.New(r))
	t.Cleanup(func() { slog.SetDefault(old) })
	return r
}

const movedMsg = "sqlite: the store's database file was damaged"

// checkMovedOnce checks that exactly one warning says path was moved
// aside, and that it was moved to one path.corrupt-* file, whose content
// begins with want if want is not nil; it returns that file's name.
func checkMovedOnce(t *testing.T, logs *logRecorder, path string, want []byte) string {
	t.Helper()
	abs, _ := filepath.Abs(path)
	moved, _ := filepath.Glob(abs + ".corrupt-*")
	moved = slices.DeleteFunc(moved, func(m string) bool {
		return strings.HasSuffix(m, "-wal") || strings.HasSuffix(m, "-shm")
	})
	if len(moved) != 1 {
		t.Fatalf("files moved aside: %v; want one %s.corrupt-*", moved, abs)
	}
	if want != nil {
		if b, err := os.ReadFile(moved[0]); err != nil || !bytes.HasPrefix(b, want) {
			t.Errorf("%s does not hold the damaged file: %.40q, %v", moved[0], b, err)
		}
	}
	warns := logs.warnings(movedMsg)
	if len(warns) != 1 {
		t.Fatalf("%d warnings that the file moved aside, want 1: %v", len(warns), warns)
	}
	if w := warns[0]; w["path"] != abs || w["moved_to"] != moved[0] {
		t.Errorf("warning %v; want path=%s moved_to=%s", w, abs, moved[0])
	}
	return moved[0]
}

// TestRecoverGarbageDefaultFile puts a file of garbage, and a garbage
// -wal, where the default store lives: opening the default URL moves them
// aside, warns once naming the file, and gives a working store on a
// fresh file.
func TestRecoverGarbageDefaultFile(t *testing.T) {
	t.Chdir(t.TempDir())
	garbage := bytes.Repeat([]byte("this is not a SQLite database\n"), 300)
	if err := os.WriteFile("picocache.db", garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("picocache.db-wal", []byte("nor a WAL"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := recordLogs(t)
	st, err := runtime.OpenURL(ctx, runtime.DefaultURL)
	if err != nil {
		t.Fatalf("OpenURL(%q) on a garbage file: %v", runtime.DefaultURL, err)
	}
	defer st.Close()
	moved := checkMovedOnce(t, logs, "picocache.db", garbage)
	if b, err := os.ReadFile(moved + "-wal"); err != nil || string(b) != "nor a WAL" {
		t.Errorf("the -wal did not move with the file: %q, %v", b, err)
	}
	lim := runtime.Limits{MaxSize: 10}
	if err := spaceOf(t, st, "f", lim).Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := spaceOf(t, st, "f", lim).Get(ctx, []byte("k")); !ok || err != nil || string(v) != "v" {
		t.Errorf("Get after recovery = %q, %v, %v", v, ok, err)
	}
	// The fresh file is fine: opening it again moves nothing.
	s2, err := Open("picocache.db")
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	checkMovedOnce(t, logs, "picocache.db", garbage)
}

// fillAndDamage makes a store file at path with entries in it, closes it,
// then damages it with damage.
func fillAndDamage(t *testing.T, path string, damage func(t *testing.T, path string, size int64)) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 1000)
	for i := range 400 {
		if err := spaceOf(t, s, "filler", runtime.Limits{MaxSize: runtime.Unbounded}).Set(ctx, fmt.Appendf(nil, "key %04d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("the -wal outlived the store's close: the entries may not be in %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	damage(t, path, fi.Size())
}

func truncateHalf(t *testing.T, path string, size int64) {
	if err := os.Truncate(path, size/2); err != nil {
		t.Fatal(err)
	}
}

// overwritePages overwrites the file from its third page to its end with
// garbage, keeping its size and its first page (header and schema), so
// that it opens and its queries fail with SQLITE_CORRUPT.
func overwritePages(t *testing.T, path string, size int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const page = 4096
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, int(size-2*page)), 2*page); err != nil {
		t.Fatal(err)
	}
}

// TestRecoverDamagedFile damages a store's file, truncated or with its
// pages overwritten, and calls a memoized function on it: the call
// computes, the store moves the file aside (once, with a warning) and
// stores the result in a fresh file, where a second process finds it.
func TestRecoverDamagedFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
		// later is whether the damage must show after Open, on a query.
		later bool
	}{
		{"truncated", truncateHalf, false},
		{"overwritten", overwritePages, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.db")
			fillAndDamage(t, path, tc.damage)
			logs := recordLogs(t)
			s, err := Open(path)
			if err != nil {
				t.Fatalf("Open of a damaged file: %v", err)
			}
			defer s.Close()
			m, _ := filepath.Glob(path + ".corrupt-*")
			t.Logf("moved aside by Open: %v", m)
			if tc.later && len(m) != 0 {
				t.Fatalf("Open moved the file aside (%v): the damage showed at Open, not later as this test wants", m)
			}
			var runs atomic.Int64
			f := runtime.New(runtime.Config{Name: "recover.F", Version: "v1", MaxSize: runtime.Unbounded}, testIntCodec)
			f.Bind(s)
			v, err := f.Do(ctx, intKey(7), func(context.Context) (int, error) { runs.Add(1); return 70, nil })
			if v != 70 || err != nil || runs.Load() != 1 {
				t.Fatalf("F(7) = %d, %v, computed %d times; want 70 computed once", v, err, runs.Load())
			}
			checkMovedOnce(t, logs, path, nil)
			// A call on the recovered store hits.
			if v, err := f.Do(ctx, intKey(7), func(context.Context) (int, error) { runs.Add(1); return 70, nil }); v != 70 || err != nil || runs.Load() != 1 {
				t.Errorf("F(7) again = %d, %v, computed %d times; want a hit", v, err, runs.Load())
			}
			if info, _ := f.Info(ctx); tc.later && info.StoreErrors != 0 {
				t.Errorf("StoreErrors = %d; want the damaged read retried on the fresh file", info.StoreErrors)
			}
			// A second process opens the path and hits what the first
			// stored after recovery.
			c, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			out, err := child(t, c, "funchit", path).CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if got := resultLine(out); got != "70 computed=false" {
				t.Errorf("the second process got %q, want 70 without computing; output:\n%s", got, out)
			}
			checkMovedOnce(t, logs, path, nil)
		})
	}
}

// resultLine returns what follows "RESULT " in a child's output.
func resultLine(out []byte) string {
	var got string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			got = rest
		}
	}
	return got
}

// TestDamagedWithoutRecovery checks that with recovery off a file damaged
// after Open fails every operation, with the hint to move it, and is left
// in place.
func TestDamagedWithoutRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.db")
	fillAndDamage(t, path, overwritePages)
	logs := recordLogs(t)
	s, err := Open(path, WithRecovery(false))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	lim := runtime.Limits{MaxSize: runtime.Unbounded}
	for _, fn := range []string{"x", "filler", "x"} {
		// Space or Get, whichever reads the damaged pages first, fails.
		sp, err := s.Space(ctx, runtime.Namespace{Name: fn, Limits: lim})
		if err == nil {
			_, _, err = sp.Get(ctx, []byte("key 0007"))
		}
		if err == nil || !strings.Contains(err.Error(), "malformed") || !strings.Contains(err.Error(), "delete it or move it aside") {
			t.Errorf("Space and Get of %s on a damaged file without recovery: %v; want it malformed, with the hint", fn, err)
		}
		if err != nil && (!strings.HasPrefix(err.Error(), "sqlite: ") || strings.Count(err.Error(), "sqlite: ") != 1) {
			t.Errorf("error %q; want one \"sqlite: \" prefix", err)
		}
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Errorf("moved aside without recovery: %v", m)
	}
	if w := logs.warnings(movedMsg); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
}

// TestRecoverSharedFile has two stores, as two processes would, on one
// file that turns out damaged: the first to meet the damage moves the
// file aside, the other finds the path naming the fresh file and just
// opens it, so nothing is moved twice, and both then share the fresh
// file.
func TestRecoverSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	fillAndDamage(t, path, overwritePages)
	logs := recordLogs(t)
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lim := runtime.Limits{MaxSize: 10}
	if err := spaceOf(t, a, "f", lim).Set(ctx, []byte("from a"), []byte("a")); err != nil {
		t.Fatalf("Set on a damaged file: %v; want it recovered and retried", err)
	}
	checkMovedOnce(t, logs, path, nil)
	if v, ok, err := spaceOf(t, b, "f", lim).Get(ctx, []byte("from a")); !ok || err != nil || string(v) != "a" {
		t.Errorf("b.Get of what a stored after recovery = %q, %v, %v", v, ok, err)
	}
	if err := spaceOf(t, b, "f", lim).Set(ctx, []byte("from b"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := spaceOf(t, a, "f", lim).Get(ctx, []byte("from b")); !ok || err != nil || string(v) != "b" {
		t.Errorf("a.Get of what b stored = %q, %v, %v", v, ok, err)
	}
	checkMovedOnce(t, logs, path, nil)
}

// TestReplacedFileKeepsNewWAL deletes a store's file while the store has
// it open, as "rm picocache.db*" to empty a cache would, and opens a
// second store on the path. The first store notices within purgeEvery
// Sets and moves to the new file; when it closes its connections to the
// deleted file, SQLite must not delete the -wal by name, now the new
// file's, which holds the second store's commits.
func TestReplacedFileKeepsNewWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replaced.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	lim := runtime.Limits{MaxSize: runtime.Unbounded}
	if err := spaceOf(t, a, "f", lim).Set(ctx, []byte("old"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := spaceOf(t, b, "f", lim).Set(ctx, []byte("from b"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	for i := range purgeEvery {
		if err := spaceOf(t, a, "f", lim).Set(ctx, fmt.Appendf(nil, "a%d", i), []byte("a")); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := spaceOf(t, a, "f", lim).Get(ctx, []byte("from b")); !ok || err != nil || string(v) != "b" {
		t.Errorf("a.Get of b's entry after %d Sets = %q, %v, %v; want a on the new file", purgeEvery, v, ok, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("the new file's -wal is gone after the first store closed: %v", err)
	}
	// A third store reads b's commit, still in the -wal.
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, ok, err := spaceOf(t, c, "f", lim).Get(ctx, []byte("from b")); !ok || err != nil || string(v) != "b" {
		t.Errorf("c.Get of b's entry = %q, %v, %v", v, ok, err)
	}
	if err := spaceOf(t, b, "f", lim).Set(ctx, []byte("after"), []byte("b")); err != nil {
		t.Errorf("b.Set after the first store closed: %v", err)
	}
}

// TestOpenPermissionDenied opens a store in a directory the process may
// not write, and on a file it may not write. Root may write anything, so
// as root the test runs itself as user nobody in a child process.
func TestOpenPermissionDenied(t *testing.T) {
	dir := t.TempDir()
	roDir := filepath.Join(dir, "ro")
	if err := os.Mkdir(roDir, 0o755); err != nil {
		t.Fatal(err)
	}
	roFile := filepath.Join(dir, "ro.db")
	s, err := Open(roFile)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(roFile, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(roDir, 0o555); err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(roDir, "c.db"), roFile}
	if os.Geteuid() != 0 {
		checkPermissionDenied(t, paths)
		return
	}
	// As root: run this test's check in a child process as nobody, from a
	// copy of the test binary that nobody may run, in directories nobody
	// may enter.
	const nobody = 65534
	bin := filepath.Join(dir, "sqlite.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Skipf("running as root, and cannot copy the test binary to run as nobody: %v", err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, bin, "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=60s", "-test.v")
	cmd.Env = append(os.Environ(), envRole+"=permission", envPath+"="+strings.Join(paths, string(os.PathListSeparator)), "HOME="+dir, "GOCOVERDIR=")
	cmd.Dir = dir
	if !asUser(cmd, nobody) {
		t.Skip("running as root, and cannot run the check as another user on this system")
	}
	out, err := cmd.CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("--- FAIL")) {
		t.Skipf("running as root, and cannot run the check as nobody (uid %d): %v\n%s", nobody, err, out)
	}
	t.Logf("as nobody:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("PERMISSION CHECKED")) {
		t.Errorf("the check as nobody failed: %v\n%s", err, out)
	}
}

// checkPermissionDenied checks that opening each path fails with an error
// that names it and says "permission denied".
func checkPermissionDenied(t *testing.T, paths []string) {
	for _, path := range paths {
		s, err := Open(path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q): nil error, want permission denied", path)
			continue
		}
		t.Logf("Open(%q): %v", path, err)
		checkOpenError(t, path, err, "permission denied")
	}
}

// TestOpenReadOnlyFileSystem opens stores on a read-only file system,
// given by the directory in PICOCACHE_SQLITE_TEST_ROFS (for example a
// tmpfs mounted with -o ro), and skips without one: a file that does not
// exist, and each *.db file the directory holds (a store made before the
// file system was made read-only).
func TestOpenReadOnlyFileSystem(t *testing.T) {
	dir := os.Getenv("PICOCACHE_SQLITE_TEST_ROFS")
	if dir == "" {
		t.Skip("set PICOCACHE_SQLITE_TEST_ROFS to a directory on a read-only file system to run this test")
	}
	existing, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	for _, path := range append([]string{filepath.Join(dir, "missing.db")}, existing...) {
		s, err := Open(path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) on a read-only file system: nil error", path)
			continue
		}
		t.Logf("Open(%q): %v", path, err)
		checkOpenError(t, path, err, "read-only file system")
	}
}
