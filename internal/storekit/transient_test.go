package storekit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{pgErr("40P01"), true},
		{pgErr("40001"), true},
		{pgErr("55P03"), true},
		{pgErr("23505"), false},
		{fmt.Errorf("tx: %w", pgErr("40P01")), true},
		{liteErr(5), true},
		{liteErr(6), true},
		{liteErr(5 | 2<<8), true}, // SQLITE_BUSY_SNAPSHOT
		{liteErr(19), false},
		{fmt.Errorf("query: %w", liteErr(5)), true},
		{strErr("Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction"), true},
		{strErr("Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction"), true},
		{fmt.Errorf("exec: %w", strErr("Error 1213 (40001): Deadlock found")), true},
		{strErr("Error 1205: Lock wait timeout exceeded"), true},
		{strErr("Error 1062 (23000): Duplicate entry"), false},
		{strErr("Error 12130 (HY000): not a deadlock"), false},
		{strErr("query failed: Error 1213 (40001)"), false},
	} {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type pgErr string

func (e pgErr) Error() string    { return "pg " + string(e) }
func (e pgErr) SQLState() string { return string(e) }

type liteErr int

func (e liteErr) Error() string { return "sqlite" }
func (e liteErr) Code() int     { return int(e) }

type strErr string

func (e strErr) Error() string { return string(e) }

func TestCheckTable(t *testing.T) {
	for _, name := range []string{"a", "_", "_x", "Cache_2", "picocache", strings.Repeat("a", MaxTableLen)} {
		if err := CheckTable(name); err != nil {
			t.Errorf("CheckTable(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "1abc", "a-b", "a b", `a"b`, "a`b", "a'b", "x;DROP TABLE y", "é", "aé", strings.Repeat("a", MaxTableLen+1), "a.b", "a\x00", "A\n"} {
		err := CheckTable(name)
		if err == nil {
			t.Errorf("CheckTable(%q) accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("CheckTable(%q) = %v: want the name quoted", name, err)
		}
	}
}
