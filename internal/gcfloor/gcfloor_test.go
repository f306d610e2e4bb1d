package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collectUntil runs collections until ok holds (a cleanup runs on its own
// goroutine after the collection that queued it) or fails the test.
func collectUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: heap goal %d MiB, GC percent %d", what, heapGoal()/mib, debug.SetGCPercent(-1))
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func within(got, want uint64, frac float64) bool {
	d := float64(got) - float64(want)
	return d <= frac*float64(want) && -d <= frac*float64(want)
}

func TestFloorHoldsTheTargetWhileTheHeapIsSmall(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	f := Start(256 * mib)
	defer f.Stop()
	collectUntil(t, "small live heap", func() bool { return within(heapGoal(), 256*mib, 0.05) })
	if f.Percent() <= 100 {
		t.Fatalf("percent %d: the floor should have raised it above the base 100", f.Percent())
	}
	// Without the floor the same live heap has a far lower target.
	f.Stop()
	collectUntil(t, "after Stop", func() bool { return heapGoal() < 128*mib })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("Stop left GC percent %d, want the base 100", got)
	}
}

func TestFloorStepsAsideForALargeLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	f := Start(16 * mib)
	defer f.Stop()
	collectUntil(t, "small live heap", func() bool { return f.Percent() > 100 })
	// A live heap of 64 MiB: GOGC's own target (about 128 MiB) is above
	// the floor, so the base percentage applies again.
	retained := make([][]byte, 64)
	for i := range retained {
		retained[i] = make([]byte, mib)
	}
	// Collections during the allocation saw part of it live; wait for
	// one that saw all of it: its target is GOGC's, about 128 MiB.
	collectUntil(t, "large live heap", func() bool {
		g := heapGoal()
		return f.Percent() == 100 && g >= 120*mib && g <= 160*mib
	})
	runtime.KeepAlive(retained)
	// Released, the floor applies again: each collection re-arms it.
	retained = nil
	collectUntil(t, "released", func() bool { return f.Percent() > 100 && within(heapGoal(), 16*mib, 0.1) })
}

func TestFloorKeepsAHigherBase(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	debug.SetGCPercent(5000)
	f := Start(16 * mib)
	defer f.Stop()
	runtime.GC()
	if f.Percent() != 5000 {
		t.Fatalf("percent %d: a base above the floor's percentage must stay", f.Percent())
	}
}

func TestStartDoesNothingWhenOff(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if f := Start(0); f != nil {
		t.Fatal("Start(0) started a floor")
	}
	debug.SetGCPercent(-1)
	if f := Start(64 * mib); f != nil {
		t.Fatal("Start with GOGC=off started a floor")
	}
	if got := debug.SetGCPercent(100); got != -1 {
		t.Fatalf("Start changed GOGC=off to %d", got)
	}
}
