// Package otelpicocache reports the statistics of every memoized function
// of the process as OpenTelemetry metrics, through the metric API
// (go.opentelemetry.io/otel/metric), so that any exporter the program
// configures (Prometheus, OTLP) carries them.
//
//	stop, err := otelpicocache.Register() // the global MeterProvider, or WithMeterProvider(mp)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer stop()
//
// Every function that picogen declares is reported (runtime.Funcs lists
// them), with the attributes picocache.function (its name, as in its
// annotation) and picocache.version:
//
//	picocache.hits             counter    {hit}    this process's hits; picocache.hit.tier is
//	                                               "memory" (found in a store that keeps Go values
//	                                               in the process) or "store" (read from a store,
//	                                               or shared from a computation in flight)
//	picocache.misses           counter    {miss}   calls that computed, or failed
//	picocache.store.errors     counter    {error}  store failures (the calls still returned)
//	picocache.entries          gauge      {entry}  the function's entries in its store, across
//	                                               processes (Info's CurrSize)
//	picocache.store.read.duration   histogram  s   reads of a store of bytes, hits and misses
//	picocache.compute.duration      histogram  s   runs of the function
//
// The durations carry error.type when the read or the run failed: the Go
// type of the error ("*net.OpError"), or "panic". Counters are this
// process's since the function's last Clear, which resets them (an
// exporter sees a counter reset).
//
// Reporting costs nothing on a hit of the memory store, and a clock
// reading on a read of another store or a computation. picocache.entries
// asks each function's store for its count at every collection (a
// COUNT query on the SQL stores, for example): WithoutEntries leaves it
// out where that is too much.
//
// The runtime itself depends on no metrics library: this package is an
// observer (runtime.SetObserver) and a reader of runtime.Funcs.
package otelpicocache
