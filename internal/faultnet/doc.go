// Package faultnet is a test helper: a TCP proxy on loopback that sits
// between a store's client and its server (PostgreSQL, MySQL, Redis) and can
// be told to misbehave, so tests can see what a store does when its server
// stops answering, answers slowly, or drops every connection.
//
//	p := faultnet.Start(t, "127.0.0.1:5432")
//	// point the store at p.Addr() instead of the server, then:
//	p.Silent() // the server accepts but never answers (or the network is partitioned)
//	p.Delay(200 * time.Millisecond)
//	p.Cut()     // every connection is dropped, new ones are closed at once
//	p.Forward() // back to normal for new connections
//
// It is internal to the module and used only by tests; it imports only the
// standard library.
package faultnet
