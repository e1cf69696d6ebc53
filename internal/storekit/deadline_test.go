package storekit

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

func TestDeadlines(t *testing.T) {
	d := &Deadlines{Timeout: time.Second}
	defer d.Stop()

	// Calls that can never be canceled share one deadline, within the
	// timeout.
	a, _ := d.Bound(context.Background())
	b, _ := d.Bound(context.TODO())
	if a != b {
		t.Error("two uncancelable calls at once got different deadlines")
	}
	if dl, ok := a.Deadline(); !ok || time.Until(dl) > time.Second || time.Until(dl) < time.Second-100*time.Millisecond {
		t.Errorf("shared deadline %v from now, want about the timeout", time.Until(dl))
	}
	// Values of an uncancelable context are kept.
	v, _ := d.Bound(context.WithValue(context.Background(), ctxKey{}, "v"))
	if v.Value(ctxKey{}) != "v" {
		t.Error("the call's values were lost")
	}
	if _, ok := v.Deadline(); !ok {
		t.Error("a context with values got no deadline")
	}
	// A sooner deadline stays; a cancelable context gets a timer of its own.
	soon, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if got, _ := d.Bound(soon); got != soon {
		t.Error("a sooner deadline was replaced")
	}
	c, cancelC := context.WithCancel(context.Background())
	got, stop := d.Bound(c)
	cancelC()
	<-got.Done()
	stop()
	// A new shared deadline after the sharing window.
	time.Sleep(20 * time.Millisecond)
	if later, _ := d.Bound(context.Background()); later == a {
		t.Error("the deadline was shared past its window")
	}
	// No timeout: nothing bounded.
	var none Deadlines
	if got, _ := none.Bound(context.Background()); got != context.Background() {
		t.Error("a zero Timeout bounded the context")
	}
}
