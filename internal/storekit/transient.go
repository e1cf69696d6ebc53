package storekit

import (
	"errors"
	"strings"
)

// Transient reports whether err is a deadlock, a serialization failure or
// a busy or locked database: worth running the statement or transaction
// again. It imports no driver and recognises their errors by method or,
// for go-sql-driver/mysql (whose MySQLError has only fields), by message:
//
//   - PostgreSQL (pgx's *pgconn.PgError, lib/pq's *pq.Error, by their
//     SQLState method): serialization_failure 40001, deadlock_detected
//     40P01, lock_not_available 55P03;
//   - SQLite (modernc.org/sqlite's *sqlite.Error, by its Code method):
//     SQLITE_BUSY and SQLITE_LOCKED, extended codes included;
//   - MySQL and MariaDB (go-sql-driver/mysql, by the prefix of the
//     message of any error in err's chain): ER_LOCK_DEADLOCK 1213,
//     ER_LOCK_WAIT_TIMEOUT 1205.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01", "55P03":
			return true
		}
		return false
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		for _, m := range mysqlTransient {
			if rest, ok := strings.CutPrefix(msg, m); ok && (strings.HasPrefix(rest, " (") || strings.HasPrefix(rest, ":")) {
				return true
			}
		}
	}
	return false
}

// mysqlTransient are the prefixes of go-sql-driver/mysql's messages for
// ER_LOCK_DEADLOCK and ER_LOCK_WAIT_TIMEOUT: "Error %d (%s): %s", or
// "Error %d: %s" when the server sent no SQLSTATE.
var mysqlTransient = []string{"Error 1213", "Error 1205"}
