package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/go-sql-driver/mysql" // mysql:// through runtime/sqldb
	_ "github.com/jackc/pgx/v5/stdlib" // postgres:// through runtime/sqldb

	"github.com/picocache/picocache/internal/storekit"
	"github.com/picocache/picocache/runtime"
	_ "github.com/picocache/picocache/runtime/memcache" // memcache://
	_ "github.com/picocache/picocache/runtime/redis"    // redis://, rediss://
	_ "github.com/picocache/picocache/runtime/sqldb"    // postgres://, postgresql://, mysql://
	_ "github.com/picocache/picocache/runtime/sqlite"   // sqlite:
)

const usage = `usage:
	picocache ls [-json] STORE
	picocache clear STORE FUNC[@VERSION]...
	picocache prune -unused-for DURATION [-dry-run] STORE
STORE is a store URL (sqlite:PATH, postgres://..., redis://...) or a SQLite file's path.
Run 'go doc github.com/picocache/picocache/cmd/picocache' for the manual.
`

// errUsage marks a usage error (exit status 2); its message is printed
// with the usage.
type errUsage string

func (e errUsage) Error() string { return string(e) }

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := command(ctx, args, stdout, stderr)
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		if u != "" {
			fmt.Fprintf(stderr, "picocache: %s\n", u)
		}
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "picocache: %v\n", err)
		return 1
	}
}

func command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage("")
	}
	fs := flag.NewFlagSet("picocache "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch args[0] {
	case "ls":
		asJSON := fs.Bool("json", false, "print JSON")
		rest, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		return withStore(ctx, rest[0], func(l runtime.Lister, name string) error { return ls(ctx, l, *asJSON, stdout) })
	case "clear":
		rest, err := parse(fs, args[1:], 2, -1)
		if err != nil {
			return err
		}
		return withStore(ctx, rest[0], func(l runtime.Lister, name string) error { return clearFuncs(ctx, l, name, rest[1:], stdout) })
	case "prune":
		unused := fs.Duration("unused-for", 0, "prune what no process used for this long")
		dry := fs.Bool("dry-run", false, "list what would be pruned")
		rest, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if *unused <= 0 {
			return errUsage("prune needs -unused-for with a positive duration, such as 720h")
		}
		return withStore(ctx, rest[0], func(l runtime.Lister, name string) error {
			return prune(ctx, l, name, *unused, *dry, stdout, stderr)
		})
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return errUsage(fmt.Sprintf("unknown command %q", args[0]))
}

// parse parses fs's flags in args and checks that from min to max (-1:
// any) arguments remain.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		return nil, errUsage(err.Error())
	}
	rest := fs.Args()
	if len(rest) < min || max >= 0 && len(rest) > max {
		return nil, errUsage(fmt.Sprintf("%s: wrong number of arguments", fs.Name()))
	}
	return rest, nil
}

// storeURL turns the path of a SQLite file into its URL; a URL stays.
func storeURL(arg string) string {
	if i := strings.Index(arg, ":"); i > 1 && !strings.ContainsAny(arg[:i], `/\.`) {
		return arg // a scheme; a one-letter one is a Windows drive
	}
	return "sqlite:" + arg
}

// withStore opens the store at arg and runs f on it, with its redacted
// name for messages.
func withStore(ctx context.Context, arg string, f func(l runtime.Lister, name string) error) error {
	url := storeURL(arg)
	name := storekit.Redact(url)
	if strings.HasPrefix(url, "sqlite:") {
		// Opening would create a missing file: a typo must not make an
		// empty store.
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("store %s: %w", name, err)
		}
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	s, err := runtime.OpenURL(octx, url)
	cancel()
	if err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	defer s.Close()
	l, ok := s.(runtime.Lister)
	if !ok {
		return fmt.Errorf("store %s cannot list its namespaces (the SQLite, PostgreSQL, MySQL and Redis stores can, so far)", name)
	}
	if err := f(l, name); err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	return nil
}

type row struct {
	Function  string     `json:"function"`
	Version   string     `json:"version"`
	Namespace string     `json:"namespace"`
	Entries   int64      `json:"entries"`
	Bytes     int64      `json:"bytes"`
	LastUsed  *time.Time `json:"last_used"`
}

func ls(ctx context.Context, l runtime.Lister, asJSON bool, w io.Writer) error {
	list, err := l.Namespaces(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		rows := make([]row, 0, len(list))
		for _, n := range list {
			r := row{Function: n.Function(), Version: n.Version(), Namespace: n.Name, Entries: n.Entries, Bytes: n.Bytes}
			if !n.LastUsed.IsZero() {
				t := n.LastUsed.UTC()
				r.LastUsed = &t
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tVERSION\tENTRIES\tBYTES\tLAST USE")
	var entries, bytes int64
	now := time.Now()
	for _, n := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", n.Function(), n.Version(), n.Entries, size(n.Bytes), ago(now, n.LastUsed))
		entries += n.Entries
		bytes += n.Bytes
	}
	fmt.Fprintf(tw, "total (%d namespaces)\t\t%d\t%s\t\n", len(list), entries, size(bytes))
	return tw.Flush()
}

// size formats a byte count.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ago formats a time of last use relative to now.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	d := now.Sub(t)
	switch {
	case d < 2*time.Minute:
		return "just now"
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

func clearFuncs(ctx context.Context, l runtime.Lister, store string, funcs []string, w io.Writer) error {
	list, err := l.Namespaces(ctx)
	if err != nil {
		return err
	}
	for _, f := range funcs {
		var matched []runtime.NamespaceInfo
		for _, n := range list {
			if n.Name == f || !strings.Contains(f, "@") && n.Function() == f {
				matched = append(matched, n)
			}
		}
		if len(matched) == 0 {
			return fmt.Errorf("no namespace of %q (picocache ls %s lists them)", f, store)
		}
		var entries int64
		for _, n := range matched {
			if _, err := l.DeleteNamespace(ctx, n.Name, time.Time{}); err != nil {
				return fmt.Errorf("clearing %s: %w", n.Name, err)
			}
			entries += n.Entries
		}
		fmt.Fprintf(w, "cleared %s: %d namespaces, %d entries\n", f, len(matched), entries)
	}
	return nil
}

func prune(ctx context.Context, l runtime.Lister, store string, unusedFor time.Duration, dry bool, stdout, stderr io.Writer) error {
	progress := isTerminal(stderr)
	// runtime.Prune deletes one namespace after another: list first, to
	// show progress, with the same rule.
	candidates, err := runtime.Prune(ctx, l, unusedFor, true)
	if err != nil {
		return err
	}
	var done []runtime.NamespaceInfo
	if dry {
		done = candidates
	} else {
		cutoff := time.Now().Add(-unusedFor - runtime.UseInterval - time.Minute)
		for i, n := range candidates {
			if progress {
				fmt.Fprintf(stderr, "\rpruning %d/%d: %s\033[K", i+1, len(candidates), n.Name)
			}
			deleted, err := l.DeleteNamespace(ctx, n.Name, cutoff)
			if err != nil {
				if progress {
					fmt.Fprintln(stderr)
				}
				return fmt.Errorf("pruning %s: %w", n.Name, err)
			}
			if deleted {
				done = append(done, n)
			}
		}
		if progress && len(candidates) > 0 {
			fmt.Fprint(stderr, "\r\033[K")
		}
	}
	verb := "pruned"
	if dry {
		verb = "would prune"
	}
	var entries, bytes int64
	for _, n := range done {
		fmt.Fprintf(stdout, "%s %s (%d entries, %s, last used %s)\n", verb, n.Name, n.Entries, size(n.Bytes), ago(time.Now(), n.LastUsed))
		entries += n.Entries
		bytes += n.Bytes
	}
	fmt.Fprintf(stdout, "%s %d namespaces unused for %v: %d entries, %s\n", verb, len(done), unusedFor, entries, size(bytes))
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
