// Package memo remembers values that are built once for a key and never
// change after: the SQL texts the ingest path writes by hand, one per
// dialect and shape, read on every delivery.
package memo

import "sync"

// Map holds the values built for each key. Its zero value is ready to use
// and it is safe for concurrent use. Unlike a sync.Map it looks a key up
// without boxing it into an interface, so a hit allocates nothing.
type Map[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// Get returns the value for k, calling build the first time k is asked
// for. Two callers racing on a new key may both build it; the first value
// stored is the one every caller gets from then on.
func (c *Map[K, V]) Get(k K, build func(K) V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = build(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		return old
	}
	if c.m == nil {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	return v
}
