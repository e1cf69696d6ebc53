// Command picocache looks after a picocache store: it lists what the store
// holds, clears a function, and prunes the versions no process uses any
// more.
//
// Install it as a tool of your module, as picogen:
//
//	go get -tool github.com/picocache/picocache/cmd/picocache
//	go tool picocache ls ./picocache.db
//
// Usage:
//
//	picocache ls [-json] STORE
//	picocache clear STORE FUNC[@VERSION]...
//	picocache prune -unused-for DURATION [-dry-run] STORE
//
// STORE is a store URL, as PICOCACHE_URL takes it (sqlite:/var/cache/app.db,
// postgres://…, redis://…), or the path of a SQLite file. The command links
// every store driver of the module, so programs that memoize need not.
// Listing and deleting namespaces (runtime.Lister) is implemented by the
// SQLite, PostgreSQL, MySQL/MariaDB and Redis stores so far; on another store the
// commands fail, saying so.
//
// ls prints one row per function and version (a namespace): the function,
// its version, its live entries, the bytes of its keys and values, and
// when a process last used it (read or wrote its entries; recorded at most
// once a minute per process), then a total. -json prints a JSON array of
// objects with the fields function, version, namespace, entries, bytes and
// last_used (RFC 3339, null when unknown), for scripts.
//
// clear deletes every entry of FUNC, all its versions, or of FUNC@VERSION
// alone, for every process sharing the store. It fails when nothing
// matches.
//
// prune deletes every namespace that no process used for DURATION (a Go
// duration: 720h is 30 days), in small batches, safely while other
// processes use the store: a namespace a process uses meanwhile keeps what
// is left of it. -dry-run lists what would be deleted. On a terminal a
// progress line shows the namespace being deleted; a summary follows.
//
// Exit status: 0 on success, 1 when the store fails, 2 for a usage error.
// Messages name the store with its password removed.
package main
