package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/picocache/picocache/internal/storekit"
)

// Open opens the database at rawURL with its conventional database/sql
// driver and returns a Store on it, creating the table when missing. The
// driver must be linked by the program; this package links none:
//
//	postgres://user:pass@host:5432/db?sslmode=disable   driver "pgx":    import _ "github.com/jackc/pgx/v5/stdlib"
//	postgresql://...                                    (the same)
//	mysql://user:pass@host:3306/db?tls=true             driver "mysql":  import _ "github.com/go-sql-driver/mysql"
//
// SQLite is not this package's: a sqlite: URL is an error that points to
// runtime/sqlite (sqlite.Open, or runtime.OpenURL with runtime/sqlite
// imported).
//
// Three query parameters are the Store's and are not passed on: "table"
// names the table (see WithTable), "flush" the flush delay, as a
// time.ParseDuration string such as 250ms (see WithFlushDelay), and
// "prune" the unused time after which the store deletes a function's
// version by itself, such as 720h (see WithPrune); opts apply after them. Every other query parameter goes to the driver unchanged:
// pgx's (sslmode, pool_max_conns is not one: use DB) or go-sql-driver's
// DSN parameters (tls, timeout, charset, ...).
//
// A postgres URL is handed to pgx as it is. A mysql URL becomes a
// go-sql-driver DSN:
//
//	mysql://user:pass@host:port/db?params  ->  user:pass@tcp(host:port)/db?params
//	mysql://user@host/db                   ->  user@tcp(host:3306)/db
//	mysql://user@/db?socket=/run/mysqld/mysqld.sock
//	                                       ->  user@unix(/run/mysqld/mysqld.sock)/db
//
// (user and password are URL-decoded, so a password with '@' or '/' is
// written %40 or %2F in the URL).
//
// The Store owns the database it opened: Close closes it. Its pool keeps
// up to 16 idle and 64 open connections; DB gives access to tune it.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	d, dsn, params, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(sql.Drivers(), d.driverName()) {
		return nil, fmt.Errorf("sqldb: database/sql driver %q for %s URLs is not registered: add import _ %q to the program",
			d.driverName(), d, d.driverImport())
	}
	db, err := sql.Open(d.driverName(), dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: opening %s: %w", storekit.Redact(rawURL), err)
	}
	db.SetMaxIdleConns(16)
	db.SetMaxOpenConns(64)
	var first []Option
	if params.table != "" {
		first = append(first, WithTable(params.table))
	}
	if params.flush > 0 {
		first = append(first, WithFlushDelay(params.flush))
	}
	if params.prune > 0 {
		first = append(first, WithPrune(params.prune))
	}
	s, err := newStore(ctx, db, true, d, append(first, opts...))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (URL %s)", err, storekit.Redact(rawURL))
	}
	return s, nil
}

// urlParams are the query parameters of a URL that are the Store's.
type urlParams struct {
	table string        // "" when absent
	flush time.Duration // 0 when absent
	prune time.Duration // 0 when absent
}

// errSQLite is Open's answer to a sqlite: URL.
const errSQLite = `sqldb: sqlite URLs are for runtime/sqlite, the SQLite store: open them with sqlite.Open, or with runtime.OpenURL and import _ "github.com/picocache/picocache/runtime/sqlite"`

// parseURL returns the dialect of rawURL, the DSN its driver takes and the
// Store's parameters its query holds. Its errors name rawURL without its
// password; the DSN, which may hold the password, is in none of them.
func parseURL(rawURL string) (d Dialect, dsn string, p urlParams, err error) {
	u, err := storekit.ParseURL(rawURL)
	if err != nil {
		if scheme, _, ok := strings.Cut(rawURL, ":"); ok && strings.EqualFold(scheme, "sqlite") {
			return 0, "", p, errors.New(errSQLite)
		}
		return 0, "", p, fmt.Errorf("sqldb: bad URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql", "mysql":
	case "sqlite":
		return 0, "", p, errors.New(errSQLite)
	case "":
		// u parsed, so u.Redacted is exact; storekit.Redact knows only
		// scheme://user:password@ and would keep the password of
		// "//user:password@host".
		return 0, "", p, fmt.Errorf("sqldb: URL %s has no scheme; want postgres://, postgresql:// or mysql://", u.Redacted())
	default:
		return 0, "", p, fmt.Errorf("sqldb: URL scheme %q is not one of postgres, postgresql, mysql", u.Scheme)
	}
	query, p, err := takeParams(u.RawQuery)
	if err != nil {
		return 0, "", p, fmt.Errorf("sqldb: URL %s: %w", storekit.Redact(rawURL), err)
	}
	if strings.EqualFold(u.Scheme, "mysql") {
		dsn, err := mysqlDSN(u, query)
		if err != nil {
			return 0, "", p, fmt.Errorf("sqldb: URL %s: %w", storekit.Redact(rawURL), err)
		}
		return MySQL, dsn, p, nil
	}
	u.RawQuery = query
	return Postgres, u.String(), p, nil
}

// takeParams removes the Store's parameters (table, flush, prune) from a raw
// query, keeping the others exactly as written, and returns them.
func takeParams(rawQuery string) (rest string, p urlParams, err error) {
	if rawQuery == "" {
		return "", p, nil
	}
	var keep []string
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "table":
			if p.table, err = url.QueryUnescape(v); err != nil {
				return "", p, fmt.Errorf("bad table parameter: %w", err)
			}
		case "flush":
			s, err := url.QueryUnescape(v)
			if err == nil {
				p.flush, err = time.ParseDuration(s)
			}
			if err != nil || p.flush <= 0 {
				return "", p, fmt.Errorf("bad flush parameter %q: want a positive duration such as 250ms or 2s", v)
			}
		case "prune":
			s, err := url.QueryUnescape(v)
			if err == nil {
				p.prune, err = time.ParseDuration(s)
			}
			if err != nil || p.prune <= 0 {
				return "", p, fmt.Errorf("bad prune parameter %q: want a positive duration such as 720h", v)
			}
		default:
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, "&"), p, nil
}

// mysqlDSN converts a mysql:// URL to go-sql-driver/mysql's DSN,
// [user[:password]@][net[(addr)]]/dbname[?params].
func mysqlDSN(u *url.URL, query string) (string, error) {
	var b strings.Builder
	if u.User != nil {
		user := u.User.Username()
		if strings.Contains(user, ":") {
			return "", errors.New("a MySQL user name cannot contain ':'")
		}
		b.WriteString(user)
		if pass, ok := u.User.Password(); ok {
			b.WriteString(":" + pass)
		}
		b.WriteString("@")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("bad query: %w", err)
	}
	if sock := params.Get("socket"); sock != "" {
		if u.Host != "" {
			return "", errors.New("give a host or a socket parameter, not both")
		}
		if strings.ContainsAny(sock, "()") {
			return "", errors.New("socket path cannot contain '(' or ')'")
		}
		b.WriteString("unix(" + sock + ")")
		query = dropParam(query, "socket")
	} else if u.Host != "" {
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "3306"
		}
		b.WriteString("tcp(" + net.JoinHostPort(host, port) + ")")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return "", fmt.Errorf("database name %q contains '/'", db)
	}
	b.WriteString("/" + url.PathEscape(db))
	if query != "" {
		b.WriteString("?" + query)
	}
	return b.String(), nil
}

// dropParam removes every key parameter from a raw query.
func dropParam(rawQuery, key string) string {
	var keep []string
	for _, part := range strings.Split(rawQuery, "&") {
		if k, _, _ := strings.Cut(part, "="); k != key {
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, "&")
}
