package otelpicocache_test

import (
	"context"
	"fmt"
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/picocache/picocache/otelpicocache"
	"github.com/picocache/picocache/runtime"
)

// Register the metrics of every memoized function with the program's
// MeterProvider (here one read by hand; a program's would have a
// Prometheus or OTLP exporter).
func ExampleRegister() {
	reader := sdkmetric.NewManualReader()
	stop, err := otelpicocache.Register(otelpicocache.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	// What picogen declares for a memoized function, and two calls of it.
	double := runtime.New(runtime.Config{Name: "example.Double", Version: "1", MaxSize: 100}, intCodec)
	double.Bind(runtime.NewMemory())
	for range 2 {
		double.Do(context.Background(), []byte{21}, func(context.Context) (int, error) { return 42, nil })
	}

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "picocache.misses" {
				for _, p := range sum.DataPoints {
					if fn, _ := p.Attributes.Value(otelpicocache.FunctionKey); fn.AsString() == "example.Double" {
						fmt.Println(m.Name, fn.AsString(), p.Value)
					}
				}
			}
		}
	}
	// Output: picocache.misses example.Double 1
}
