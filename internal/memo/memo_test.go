package memo

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestGetBuildsOncePerKey(t *testing.T) {
	var m Map[string, int]
	var builds atomic.Int32
	build := func(k string) int { builds.Add(1); return len(k) }
	if got := m.Get("abc", build); got != 3 {
		t.Fatalf("Get(abc) = %d, want 3", got)
	}
	if got := m.Get("abc", func(string) int { t.Fatal("built a stored key again"); return 0 }); got != 3 {
		t.Fatalf("second Get(abc) = %d, want 3", got)
	}
	if got := m.Get("hello", build); got != 5 {
		t.Fatalf("Get(hello) = %d, want 5", got)
	}
	if n := builds.Load(); n != 2 {
		t.Fatalf("%d builds, want 2", n)
	}
}

func TestRacingCallersAgree(t *testing.T) {
	var m Map[int, *int]
	const callers = 16
	got := make([]*int, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i] = m.Get(7, func(int) *int { return new(int) }) })
	}
	wg.Wait()
	for i, p := range got {
		if p != got[0] {
			t.Fatalf("caller %d got a different value than caller 0", i)
		}
	}
}

func TestHitAllocatesNothing(t *testing.T) {
	type key struct {
		dialect string
		shape   bool
	}
	var m Map[key, string]
	k := key{"postgres", true}
	m.Get(k, func(key) string { return "SELECT 1" })
	if n := testing.AllocsPerRun(100, func() { _ = m.Get(k, nil) }); n != 0 {
		t.Fatalf("a hit allocates %.0f times, want 0", n)
	}
}
