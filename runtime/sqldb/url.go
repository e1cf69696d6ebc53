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

	"github.com/picocache/picocache/internal/storekit"
)

// Open opens the database at rawURL with its conventional database/sql
// driver and returns a Store on it, creating the table when missing. The
// driver must be linked by the program; this package links none:
//
//	postgres://user:pass@host:5432/db?sslmode=disable   driver "pgx":    import _ "github.com/jackc/pgx/v5/stdlib"
//	postgresql://...                                    (the same)
//	mysql://user:pass@host:3306/db?tls=true             driver "mysql":  import _ "github.com/go-sql-driver/mysql"
//	sqlite:relative/path.db, sqlite:/abs.db,
//	sqlite:///abs.db                                    driver "sqlite": import _ "modernc.org/sqlite"
//
// The query parameter "table" names the table (see WithTable) and is not
// passed on; opts apply after it. Every other query parameter goes to the
// driver unchanged: pgx's (sslmode, pool_max_conns is not one: use DB),
// go-sql-driver's DSN parameters (tls, timeout, charset, ...), or
// modernc.org/sqlite's (_pragma, _txlock, ...).
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
// written %40 or %2F in the URL). A sqlite URL becomes a modernc.org/sqlite
// file name with "_pragma=busy_timeout(10000)", "_pragma=journal_mode(WAL)",
// "_pragma=synchronous(NORMAL)" and "_txlock=immediate" added unless the
// URL sets them, so several processes can share the file.
//
// The Store owns the database it opened: Close closes it. Its pool keeps
// up to 16 idle and 64 open connections; DB gives access to tune it.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	d, dsn, table, err := parseURL(rawURL)
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
	if d != SQLite {
		db.SetMaxIdleConns(16)
		db.SetMaxOpenConns(64)
	}
	if table != "" {
		opts = append([]Option{WithTable(table)}, opts...)
	}
	s, err := newStore(ctx, db, true, d, opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (URL %s)", err, storekit.Redact(rawURL))
	}
	return s, nil
}

// parseURL returns the dialect of rawURL, the DSN its driver takes and the
// table its query names, if any. Its errors name rawURL without its
// password; the DSN, which may hold the password, is in none of them.
func parseURL(rawURL string) (d Dialect, dsn, table string, err error) {
	u, err := storekit.ParseURL(rawURL)
	if err != nil {
		return 0, "", "", fmt.Errorf("sqldb: bad URL: %w", err)
	}
	query, table, err := takeTable(u.RawQuery)
	if err != nil {
		return 0, "", "", fmt.Errorf("sqldb: URL %s: %w", storekit.Redact(rawURL), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		u.RawQuery = query
		return Postgres, u.String(), table, nil
	case "mysql":
		dsn, err := mysqlDSN(u, query)
		if err != nil {
			return 0, "", "", fmt.Errorf("sqldb: URL %s: %w", storekit.Redact(rawURL), err)
		}
		return MySQL, dsn, table, nil
	case "sqlite":
		dsn, err := sqliteDSN(u, query)
		if err != nil {
			return 0, "", "", fmt.Errorf("sqldb: URL %s: %w", storekit.Redact(rawURL), err)
		}
		return SQLite, dsn, table, nil
	case "":
		// u parsed, so u.Redacted is exact; storekit.Redact knows only
		// scheme://user:password@ and would keep the password of
		// "//user:password@host".
		return 0, "", "", fmt.Errorf("sqldb: URL %s has no scheme; want postgres://, postgresql://, mysql:// or sqlite:", u.Redacted())
	}
	return 0, "", "", fmt.Errorf("sqldb: URL scheme %q is not one of postgres, postgresql, mysql, sqlite", u.Scheme)
}

// takeTable removes the "table" parameter from a raw query, keeping the
// others exactly as written, and returns it.
func takeTable(rawQuery string) (rest, table string, err error) {
	if rawQuery == "" {
		return "", "", nil
	}
	var keep []string
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if k != "table" {
			keep = append(keep, part)
			continue
		}
		if table, err = url.QueryUnescape(v); err != nil {
			return "", "", fmt.Errorf("bad table parameter: %w", err)
		}
	}
	return strings.Join(keep, "&"), table, nil
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

// sqliteDSN converts a sqlite URL, in runtime/sqlite's forms
// (sqlite:relative.db, sqlite:/abs.db, sqlite:///abs.db), to a
// modernc.org/sqlite file name with parameters.
func sqliteDSN(u *url.URL, query string) (string, error) {
	var path string
	switch {
	case u.Opaque != "": // sqlite:relative.db
		path = u.Opaque
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
	case u.Host != "":
		return "", fmt.Errorf("sqlite URLs have no host (%q): write sqlite:relative.db, sqlite:/abs.db or sqlite:///abs.db", u.Host)
	default: // sqlite:/abs.db, sqlite:///abs.db
		path = u.Path
	}
	if path == "" {
		return "", errors.New("no database file: write sqlite:relative.db, sqlite:/abs.db or sqlite:///abs.db")
	}
	if strings.ContainsRune(path, '?') {
		return "", fmt.Errorf("database file name %q contains '?'", path)
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("bad query: %w", err)
	}
	var set []string
	for _, p := range params["_pragma"] {
		name, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(p)), "(")
		name, _, _ = strings.Cut(name, "=")
		set = append(set, strings.TrimSpace(name))
	}
	add := func(param, pragma, value string) {
		if !slices.Contains(set, pragma) && !params.Has("_"+pragma) {
			query = joinQuery(query, param+"="+value)
		}
	}
	add("_pragma", "busy_timeout", "busy_timeout%2810000%29")
	add("_pragma", "journal_mode", "journal_mode%28WAL%29")
	add("_pragma", "synchronous", "synchronous%28NORMAL%29")
	if !params.Has("_txlock") {
		query = joinQuery(query, "_txlock=immediate")
	}
	return path + "?" + query, nil
}

func joinQuery(q, part string) string {
	if q == "" {
		return part
	}
	return q + "&" + part
}
