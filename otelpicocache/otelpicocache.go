package otelpicocache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/picocache/picocache/runtime"
)

// ScopeName is the instrumentation scope of the metrics.
const ScopeName = "github.com/picocache/picocache/otelpicocache"

// Attribute keys of the metrics.
const (
	FunctionKey = attribute.Key("picocache.function")
	VersionKey  = attribute.Key("picocache.version")
	TierKey     = attribute.Key("picocache.hit.tier")
	ErrorKey    = attribute.Key("error.type")
)

// Option configures Register.
type Option func(*config)

type config struct {
	provider metric.MeterProvider
	entries  bool
}

// WithMeterProvider reports through mp instead of the global provider
// (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.provider = mp }
}

// WithoutEntries leaves out picocache.entries, whose collection asks every
// function's store for its count.
func WithoutEntries() Option {
	return func(c *config) { c.entries = false }
}

// Buckets of the duration histograms, in seconds: from 10 µs (a hit on a
// local store) to a minute (a slow computation).
var buckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60,
}

// Register reports the metrics of every memoized function of the process
// until the returned function is called. It installs the process's
// runtime.Observer; the function it returns puts back the observer set
// before Register and stops the collection callbacks, so calls of
// Register and of the functions it returns must be nested, not
// interleaved.
func Register(opts ...Option) (stop func() error, err error) {
	c := config{entries: true}
	for _, o := range opts {
		o(&c)
	}
	if c.provider == nil {
		c.provider = otel.GetMeterProvider()
	}
	m := c.provider.Meter(ScopeName)
	r := &reporter{}
	hits, err1 := m.Int64ObservableCounter("picocache.hits", metric.WithUnit("{hit}"),
		metric.WithDescription("Calls of memoized functions that returned a value they did not compute."))
	misses, err2 := m.Int64ObservableCounter("picocache.misses", metric.WithUnit("{miss}"),
		metric.WithDescription("Calls of memoized functions that computed their result, or failed."))
	storeErrors, err3 := m.Int64ObservableCounter("picocache.store.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Store failures seen by calls of memoized functions, which still returned their results."))
	entries, err4 := m.Int64ObservableGauge("picocache.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries of each memoized function in its store, across processes."))
	r.reads, err = m.Float64Histogram("picocache.store.read.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the store reads of memoized calls."), metric.WithExplicitBucketBoundaries(buckets...))
	var err5 error
	r.computes, err5 = m.Float64Histogram("picocache.compute.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the runs of memoized functions."), metric.WithExplicitBucketBoundaries(buckets...))
	if err := errors.Join(err1, err2, err3, err4, err, err5); err != nil {
		return nil, fmt.Errorf("otelpicocache: %w", err)
	}
	instruments := []metric.Observable{hits, misses, storeErrors}
	if c.entries {
		instruments = append(instruments, entries)
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		for _, h := range runtime.Funcs() {
			a := r.attrs(h)
			info := h.Counts()
			if c.entries {
				if full, err := h.Info(ctx); err == nil {
					o.ObserveInt64(entries, full.CurrSize, a.plain)
					info = full
				}
			}
			o.ObserveInt64(hits, info.MemoryHits, a.memory)
			o.ObserveInt64(hits, info.Hits-info.MemoryHits, a.store)
			o.ObserveInt64(misses, info.Misses, a.plain)
			o.ObserveInt64(storeErrors, info.StoreErrors, a.plain)
		}
		return nil
	}, instruments...)
	if err != nil {
		return nil, fmt.Errorf("otelpicocache: %w", err)
	}
	prev := runtime.SetObserver(r)
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			runtime.SetObserver(prev)
			err = reg.Unregister()
		})
		return err
	}, nil
}

// reporter is the runtime.Observer of Register: it records durations.
type reporter struct {
	reads, computes metric.Float64Histogram
	sets            sync.Map // namespace -> *attrs; by name, so that no handle is kept alive
}

// attrs are one function's attribute sets, made once.
type attrs struct {
	plain, memory, store metric.MeasurementOption
	kvs                  []attribute.KeyValue
}

func (r *reporter) attrs(h runtime.Handle) *attrs {
	ns := h.Namespace()
	if a, ok := r.sets.Load(ns); ok {
		return a.(*attrs)
	}
	cfg := h.Config()
	kvs := []attribute.KeyValue{FunctionKey.String(cfg.Name), VersionKey.String(cfg.Version)}
	a := &attrs{
		plain:  metric.WithAttributeSet(attribute.NewSet(kvs...)),
		memory: metric.WithAttributeSet(attribute.NewSet(append(kvs[:2:2], TierKey.String("memory"))...)),
		store:  metric.WithAttributeSet(attribute.NewSet(append(kvs[:2:2], TierKey.String("store"))...)),
		kvs:    kvs,
	}
	got, _ := r.sets.LoadOrStore(ns, a)
	return got.(*attrs)
}

func (r *reporter) record(hist metric.Float64Histogram, h runtime.Handle, d time.Duration, err error) {
	a := r.attrs(h)
	opt := a.plain
	if err != nil {
		opt = metric.WithAttributeSet(attribute.NewSet(append(a.kvs[:2:2], ErrorKey.String(errorType(err)))...))
	}
	hist.Record(context.Background(), d.Seconds(), opt)
}

// errorType is error.type for err: "panic", or its Go type.
func errorType(err error) string {
	var p *runtime.PanicError
	if errors.As(err, &p) {
		return "panic"
	}
	return fmt.Sprintf("%T", err)
}

// StoreRead implements runtime.Observer.
func (r *reporter) StoreRead(h runtime.Handle, d time.Duration, err error) {
	r.record(r.reads, h, d, err)
}

// Computed implements runtime.Observer.
func (r *reporter) Computed(h runtime.Handle, d time.Duration, err error) {
	r.record(r.computes, h, d, err)
}
