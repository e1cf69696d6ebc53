package otelpicocache_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/picocache/picocache/otelpicocache"
	"github.com/picocache/picocache/runtime"
)

var intCodec = runtime.Codec[int]{
	Type:   "int",
	Append: func(dst []byte, v int) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) },
	Decode: func(src []byte) (int, error) {
		if len(src) != 8 {
			return 0, errors.New("bad int")
		}
		return int(binary.BigEndian.Uint64(src)), nil
	},
}

// bytesOnly hides the Values ability of a memory store's spaces, so that
// a function bound to it reads bytes as every persistent store does.
type bytesOnly struct{ runtime.Store }

func (s bytesOnly) Space(ctx context.Context, ns runtime.Namespace) (runtime.Space, error) {
	sp, err := s.Store.Space(ctx, ns)
	return struct{ runtime.Space }{sp}, err
}

func call(f *runtime.Func[int], n int, err error) {
	f.Do(context.Background(), binary.BigEndian.AppendUint64(nil, uint64(n)), func(context.Context) (int, error) {
		return n * n, err
	})
}

// find returns the data points of the named metric with the function's
// attributes.
func find(t *testing.T, rm metricdata.ResourceMetrics, name, fn string) []attribute.Set {
	t.Helper()
	var sets []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelpicocache.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value(otelpicocache.FunctionKey); v.AsString() == fn {
						sets = append(sets, p.Attributes)
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value(otelpicocache.FunctionKey); v.AsString() == fn {
						sets = append(sets, p.Attributes)
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value(otelpicocache.FunctionKey); v.AsString() == fn {
						sets = append(sets, p.Attributes)
					}
				}
			}
		}
	}
	return sets
}

// value returns the int64 value of the named sum or gauge for fn with
// the extra attribute kv (if any).
func value(t *testing.T, rm metricdata.ResourceMetrics, name, fn string, kv ...attribute.KeyValue) int64 {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					t.Errorf("%s is not monotonic", name)
				}
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
		next:
			for _, p := range points {
				if v, _ := p.Attributes.Value(otelpicocache.FunctionKey); v.AsString() != fn {
					continue
				}
				for _, want := range kv {
					if v, _ := p.Attributes.Value(want.Key); v != want.Value {
						continue next
					}
				}
				return p.Value
			}
		}
	}
	t.Fatalf("no %s point for %s %v", name, fn, kv)
	return 0
}

// histogram returns the count of the named histogram's point for fn with
// error.type errType ("" for none).
func histogram(t *testing.T, rm metricdata.ResourceMetrics, name, fn, errType string) uint64 {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if unit := m.Unit; unit != "s" {
				t.Errorf("%s has unit %q, want s", name, unit)
			}
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				v, _ := p.Attributes.Value(otelpicocache.FunctionKey)
				e, _ := p.Attributes.Value(otelpicocache.ErrorKey)
				if v.AsString() == fn && e.AsString() == errType {
					return p.Count
				}
			}
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	stop, err := otelpicocache.Register(otelpicocache.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	// On a store of bytes: store hits, reads and computations timed.
	onBytes := runtime.New(runtime.Config{Name: "otel_test.Square", Version: "v7", MaxSize: 10}, intCodec)
	onBytes.Bind(bytesOnly{runtime.NewMemory()})
	call(onBytes, 1, nil)              // miss
	call(onBytes, 1, nil)              // hit
	call(onBytes, 2, nil)              // miss
	call(onBytes, 3, errors.New("no")) // miss, failed
	// On the memory store: memory hits.
	onMemory := runtime.New(runtime.Config{Name: "otel_test.Cube", Version: "v1", MaxSize: runtime.Unbounded}, intCodec)
	onMemory.Bind(runtime.NewMemory())
	for range 3 {
		call(onMemory, 4, nil)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	store, memory := otelpicocache.TierKey.String("store"), otelpicocache.TierKey.String("memory")
	checks := []struct {
		name, fn string
		kv       []attribute.KeyValue
		want     int64
	}{
		{"picocache.hits", "otel_test.Square", []attribute.KeyValue{store}, 1},
		{"picocache.hits", "otel_test.Square", []attribute.KeyValue{memory}, 0},
		{"picocache.misses", "otel_test.Square", nil, 3},
		{"picocache.entries", "otel_test.Square", nil, 2},
		{"picocache.store.errors", "otel_test.Square", nil, 0},
		{"picocache.hits", "otel_test.Cube", []attribute.KeyValue{memory}, 2},
		{"picocache.hits", "otel_test.Cube", []attribute.KeyValue{store}, 0},
		{"picocache.misses", "otel_test.Cube", nil, 1},
		{"picocache.entries", "otel_test.Cube", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, rm, c.name, c.fn, c.kv...); got != c.want {
			t.Errorf("%s %s %v = %d, want %d", c.name, c.fn, c.kv, got, c.want)
		}
	}
	// And they are what Info says.
	for _, f := range []*runtime.Func[int]{onBytes, onMemory} {
		info, err := f.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		name := f.Config().Name
		if got := value(t, rm, "picocache.hits", name, store) + value(t, rm, "picocache.hits", name, memory); got != info.Hits {
			t.Errorf("%s: hits reported %d, Info %d", name, got, info.Hits)
		}
		if got := value(t, rm, "picocache.hits", name, memory); got != info.MemoryHits {
			t.Errorf("%s: memory hits reported %d, Info %d", name, got, info.MemoryHits)
		}
		if got := value(t, rm, "picocache.misses", name); got != info.Misses {
			t.Errorf("%s: misses reported %d, Info %d", name, got, info.Misses)
		}
		if got := value(t, rm, "picocache.entries", name); got != info.CurrSize {
			t.Errorf("%s: entries reported %d, Info %d", name, got, info.CurrSize)
		}
		if got := value(t, rm, "picocache.store.errors", name); got != info.StoreErrors {
			t.Errorf("%s: store errors reported %d, Info %d", name, got, info.StoreErrors)
		}
	}
	for _, set := range find(t, rm, "picocache.misses", "otel_test.Square") {
		if v, _ := set.Value(otelpicocache.VersionKey); v.AsString() != "v7" {
			t.Errorf("picocache.version = %q, want v7", v.AsString())
		}
	}
	if n := histogram(t, rm, "picocache.store.read.duration", "otel_test.Square", ""); n != 4 {
		t.Errorf("store reads recorded: %d, want 4", n)
	}
	if n := histogram(t, rm, "picocache.store.read.duration", "otel_test.Cube", ""); n != 0 {
		t.Errorf("memory store reads recorded: %d, want none", n)
	}
	if n := histogram(t, rm, "picocache.compute.duration", "otel_test.Square", ""); n != 2 {
		t.Errorf("successful computations recorded: %d, want 2", n)
	}
	if n := histogram(t, rm, "picocache.compute.duration", "otel_test.Square", "*errors.errorString"); n != 1 {
		t.Errorf("failed computations recorded with error.type *errors.errorString: %d, want 1", n)
	}

	// WithoutEntries asks no store.
	stop()
	reader2 := sdkmetric.NewManualReader()
	stop2, err := otelpicocache.Register(otelpicocache.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader2))), otelpicocache.WithoutEntries())
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	rm = metricdata.ResourceMetrics{}
	if err := reader2.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if sets := find(t, rm, "picocache.entries", "otel_test.Square"); len(sets) != 0 {
		t.Errorf("WithoutEntries: picocache.entries reported %v", sets)
	}
	if got := value(t, rm, "picocache.misses", "otel_test.Square"); got != 3 {
		t.Errorf("WithoutEntries: misses %d, want 3", got)
	}
}

// TestStop checks that after stop nothing is recorded any more.
func TestStop(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	stop, err := otelpicocache.Register(otelpicocache.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f := runtime.New(runtime.Config{Name: "otel_test.Stopped", Version: "1", MaxSize: 4}, intCodec)
	f.Bind(bytesOnly{runtime.NewMemory()})
	call(f, 1, nil)
	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	if sets := find(t, rm, "picocache.compute.duration", "otel_test.Stopped"); len(sets) != 0 {
		t.Errorf("after stop, computations were still recorded: %v", sets)
	}
	if sets := find(t, rm, "picocache.misses", "otel_test.Stopped"); len(sets) != 0 {
		t.Errorf("after stop, counters were still collected: %v", sets)
	}
}
