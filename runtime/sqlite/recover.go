package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// isDamaged reports whether err says the file is not a database
// (SQLITE_NOTADB) or is malformed (SQLITE_CORRUPT), any extended code.
func isDamaged(err error) bool {
	c := code(err)
	return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
}

// code returns the primary SQLite result code of err, or -1.
func code(err error) int {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return -1
	}
	return e.Code() & 0xff
}

// damagedHint is what an error of a damaged file says when the store
// does not recover by itself.
const damagedHint = "the file is not a SQLite database, or is damaged: delete it or move it aside (a store opened with recovery, the default, does that itself)"

// recoverLocked replaces h, the store's handle, after an operation on it
// failed with cause, and returns the handle to use. If h is no longer the
// store's handle (another operation replaced it) that is the current one.
// If cause says the file is damaged and recovery is on, and the path still
// names the file h opened, the file moves aside (with its -wal and -shm),
// a warning is logged and a fresh file is opened; if the path names
// another file (another process moved the damaged one aside, or someone
// deleted or replaced it), the path is opened again. Otherwise it returns
// cause. Waits for locks end by deadline. The writer must be held.
//
// So a damaged file is moved aside at most once: after the move, the
// path no longer names it, for this process or any other.
func (s *Store) recoverLocked(ctx context.Context, h *handle, cause error, deadline time.Time) (*handle, error) {
	if cur := s.h.Load(); cur != h {
		return cur, nil
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	damaged := isDamaged(cause)
	switch {
	case damaged && s.o.recovery:
	case errors.Is(cause, errReplaced):
	default:
		return nil, cause
	}
	if damaged && h.namesFile() {
		dst, err := moveAside(s.abs)
		if err != nil {
			return nil, fmt.Errorf("%w; moving the damaged file aside failed: %w", cause, err)
		}
		warnMoved(s.abs, dst, cause)
	}
	nh, err := openHandle(ctx, s.abs, s.o, deadline)
	if err != nil {
		// h stays, on the file moved aside: the next operation fails on
		// it, or finds the path naming another file, and opens it again.
		nh.close()
		return nil, fmt.Errorf("%w; opening a fresh file failed: %w", cause, explainOpen(s.abs, err, s.o.recovery))
	}
	s.h.Store(nh)
	// Reads still running on h finish or fail; none returns a value of
	// the fresh file as h's, nor h's as the fresh file's.
	h.close()
	return nh, nil
}

// warnMoved logs, once per file moved aside, where it went and why.
func warnMoved(path, movedTo string, cause error) {
	slog.Warn("sqlite: the store's database file was damaged; moved it aside and started a fresh one",
		"path", path, "moved_to", movedTo, "err", cause)
}

// moveAside renames the damaged database file at path, and its -wal and
// -shm files if present, to path.corrupt-<UTC time>, and returns that
// name. The database file goes first: from then on a process opening path
// finds a fresh file, and the -wal and -shm follow within microseconds.
func moveAside(path string) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	dst := path + ".corrupt-" + stamp
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.corrupt-%s.%d", path, stamp, i)
	}
	if err := os.Rename(path, dst); err != nil {
		return "", err
	}
	var errs []error
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Rename(path+suffix, dst+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Better gone than left beside the fresh file.
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		slog.Warn("sqlite: moving a damaged database file's -wal and -shm aside", "path", path, "err", err)
	}
	return dst, nil
}

// reasonError is a cause found on the file system, with a message of its
// own; it unwraps to the system's error.
type reasonError struct {
	msg string
	err error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.err }

// explainOpen adds to err, a failure to open the database file at abs,
// its reason: what the file system says, or for a damaged file what to
// do.
func explainOpen(abs string, err error, recovery bool) error {
	if isDamaged(err) {
		if recovery {
			return err
		}
		return fmt.Errorf("%w: %s", err, damagedHint)
	}
	switch code(err) {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_AUTH:
	default:
		if !errors.Is(err, errReadOnly) {
			return err
		}
	}
	if reason := fileProblem(abs); reason != nil {
		return fmt.Errorf("%w (%w)", reason, err)
	}
	return err
}

// fileProblem returns what keeps SQLite from opening the file at abs for
// reading and writing, and from creating its -wal and -shm files beside
// it, or nil if it finds nothing wrong.
func fileProblem(abs string) error {
	dir := filepath.Dir(abs)
	fi, err := os.Stat(abs)
	switch {
	case err == nil && fi.IsDir():
		return &reasonError{"is a directory, not a database file", fs.ErrInvalid}
	case err == nil:
		f, err := os.OpenFile(abs, os.O_RDWR, 0)
		if err != nil {
			return &reasonError{"cannot write the file: " + pathErr(err).Error(), pathErr(err)}
		}
		f.Close()
	default:
		// Find the nearest ancestor that exists.
		missing := abs
		for d := dir; ; d = filepath.Dir(d) {
			di, err := os.Stat(d)
			switch {
			case err == nil && !di.IsDir():
				return &reasonError{d + " is not a directory", fs.ErrInvalid}
			case err == nil && missing != abs:
				return &reasonError{"directory " + missing + " does not exist", fs.ErrNotExist}
			case err == nil:
				// The directory exists and the file does not: can SQLite
				// create it?
			case (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && filepath.Dir(d) != d:
				missing = d
				continue
			default:
				return &reasonError{err.Error(), err}
			}
			break
		}
	}
	// SQLite creates the -wal and -shm files in the file's directory.
	f, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".probe-*")
	if err != nil {
		return &reasonError{"cannot create files in " + dir + ", where SQLite keeps the database and its -wal and -shm files: " + pathErr(err).Error(), pathErr(err)}
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// pathErr returns the system's error inside a *fs.PathError, without the
// operation and path it names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
