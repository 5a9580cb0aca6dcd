package framework

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// DefaultParallelism is the number of workers used for filter and score.
const DefaultParallelism = 16

// Parallelizer runs a function over indices 0..n-1 on a bounded pool.
type Parallelizer struct {
	workers int
}

// NewParallelizer returns a parallelizer with n workers (min 1).
func NewParallelizer(n int) Parallelizer {
	if n < 1 {
		n = 1
	}
	return Parallelizer{workers: n}
}

// Until calls fn(i) for every i in [0, n) using up to the configured number
// of goroutines, handing out indices in small chunks so that uneven work
// balances. It stops early when ctx is cancelled. The calling goroutine is
// one of the workers, so n=1 costs no goroutine.
func (p Parallelizer) Until(ctx context.Context, n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	workers := min(p.workers, n)
	chunk := chunkSize(n, workers)
	var next atomic.Int64
	work := func() {
		for ctx.Err() == nil {
			start := int(next.Add(int64(chunk))) - chunk
			if start >= n {
				return
			}
			end := min(start+chunk, n)
			for i := start; i < end; i++ {
				fn(i)
			}
		}
	}
	if workers == 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// chunkSize gives each worker several chunks (load balance) but keeps chunks
// big enough that the atomic counter is not the bottleneck.
func chunkSize(n, workers int) int {
	c := n / (workers * 4)
	if c < 1 {
		c = 1
	}
	return c
}
