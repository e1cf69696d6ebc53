package keytest

import "errors"

var errBadVersion = errors.New("keytest: bad version")
