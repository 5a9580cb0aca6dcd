package ctrltest

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// LagWatches delays every watch event of resource by d, simulating an
// informer that lags behind the API server. Controllers must stay correct
// (expectations) under such lag.
func LagWatches(cs *fake.Clientset, resource string, d time.Duration) {
	cs.PrependWatchReactor(resource, func(a clienttesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := a.(clienttesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace(), opts)
		if err != nil {
			return false, nil, err
		}
		return true, &lagWatch{inner: w, out: lagged(w.ResultChan(), d)}, nil
	})
}

type lagWatch struct {
	inner watch.Interface
	out   <-chan watch.Event
}

func (l *lagWatch) Stop()                          { l.inner.Stop() }
func (l *lagWatch) ResultChan() <-chan watch.Event { return l.out }

func lagged(in <-chan watch.Event, d time.Duration) <-chan watch.Event {
	type stamped struct {
		ev watch.Event
		at time.Time
	}
	buf := make(chan stamped, 10000)
	out := make(chan watch.Event)
	go func() {
		defer close(buf)
		for ev := range in {
			buf <- stamped{ev, time.Now().Add(d)}
		}
	}()
	go func() {
		defer close(out)
		for s := range buf {
			time.Sleep(time.Until(s.at))
			out <- s.ev
		}
	}()
	return out
}
