// Package storekit is what every picocache store shares, so that each
// exists once: redaction of store URLs for messages and URL parsing whose
// errors never repeat a password (Redact, ParseURL); table-name checks
// (CheckTable); recognition of transient database errors (Transient); and
// the batching of hits' recency that makes a hit a read (Touches, Flusher).
// It is internal to the module; users never import it.
//
// It must not import a store package or a driver.
package storekit
