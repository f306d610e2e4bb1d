// Package gcfloor gives the Go heap target a floor.
//
// With the default GOGC of 100 the garbage collector runs each time the
// heap doubles over what the last collection found live. A server whose
// live heap is small (a few tens of MiB) but which allocates quickly
// then collects many times a second, and up to a fifth of its CPU goes to
// the collector (Neksio's read path, docs/benchmarks.md). A floor lets the heap grow to a fixed size before a
// collection while the live heap is small; once the live heap is large
// enough that GOGC's own target is above the floor, GOGC applies
// unchanged, so memory at scale is what it would be without the floor.
//
// After every collection the floor sets GOGC (debug.SetGCPercent) to the
// larger of the process's own setting and the percentage that puts the
// next target at the floor. A memory limit (GOMEMLIMIT) still caps the
// heap: the runtime collects at whichever target is lower.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Floor keeps the heap target at or above a number of bytes. Start one
// per process.
type Floor struct {
	bytes uint64
	// base is the GC percentage the process ran with before Start: the
	// one that applies once the live heap is large, and restored by Stop.
	base    int
	percent atomic.Int64
	mu      sync.Mutex // serialises adjust with Stop
	stopped bool
	samples []metrics.Sample
}

// sentinel is allocated once per collection cycle; its cleanup runs
// after the collection that finds it unreachable. 32 bytes keeps it out
// of the tiny allocator, whose objects may never be cleaned up.
type sentinel struct{ _ [32]byte }

// minHeap is the Go runtime's minimum heap target at GOGC=100 (its
// heapMinimum); it scales with GOGC.
const minHeap = 4 << 20

// Start sets the floor and returns it, or nil when there is nothing to
// do: bytes is zero, or collection is off (GOGC=off).
func Start(bytes uint64) *Floor {
	if bytes == 0 {
		return nil
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base < 0 {
		return nil
	}
	f := &Floor{bytes: bytes, base: base, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
	f.percent.Store(int64(base))
	f.adjust()
	f.arm()
	return f
}

// Percent is the GC percentage the floor last set.
func (f *Floor) Percent() int { return int(f.percent.Load()) }

// Stop restores the process's own GC percentage; no adjustment follows.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	debug.SetGCPercent(f.base)
	f.percent.Store(int64(f.base))
}

func (f *Floor) arm() {
	runtime.AddCleanup(&sentinel{}, func(f *Floor) {
		if f.adjust() {
			f.arm()
		}
	}, f)
}

// adjust sets the GC percentage for the next cycle from what the last
// collection found; it reports false once the floor is stopped.
//
// The runtime's target is live + (live + stacks + globals) × GOGC/100,
// and never below its minimum heap, 4 MiB × GOGC/100; the percentage
// that puts it at the floor solves the first for GOGC, capped so that the
// second stays at the floor too (with a live heap of a few KiB it would
// otherwise grow far past it).
func (f *Floor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.samples)
	var live, scan uint64
	for i, s := range f.samples {
		if s.Value.Kind() != metrics.KindUint64 {
			continue
		}
		if i == 0 {
			live = s.Value.Uint64()
		}
		scan += s.Value.Uint64()
	}
	percent := f.base
	if scan > 0 && live < f.bytes {
		p := min((f.bytes-live)*100/scan, f.bytes*100/minHeap)
		if int(p) > percent {
			percent = int(p)
		}
	}
	if int64(percent) != f.percent.Load() {
		debug.SetGCPercent(percent)
		f.percent.Store(int64(percent))
	}
	return true
}
