package channel

import (
	"sync"
	"time"

	"github.com/neksio/neksio/ent"
)

// RouteTTL is how long Route keeps an answer: how late a replica sees a
// channel change committed by another one (its own changes empty the
// cache at once).
const RouteTTL = 2 * time.Second

// routeCache holds Route's answers by connector and account. A generation
// counter keeps a lookup that raced with a change from storing what it
// read before the change.
type routeCache struct {
	mu    sync.Mutex
	gen   uint64
	items map[string]routeItem
}

type routeItem struct {
	ch *ent.Channel
	at time.Time
}

// routeCacheMax bounds the cache; past it, it starts again empty.
const routeCacheMax = 10_000

// get returns a copy of the cached channel, nil when absent or expired.
func (c *routeCache) get(key string) *ent.Channel {
	c.mu.Lock()
	it, ok := c.items[key]
	c.mu.Unlock()
	if !ok || time.Since(it.at) > RouteTTL {
		return nil
	}
	cp := *it.ch
	return &cp
}

func (c *routeCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores ch unless the cache was emptied since gen was read.
func (c *routeCache) put(key string, ch *ent.Channel, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.items == nil || len(c.items) >= routeCacheMax {
		c.items = map[string]routeItem{}
	}
	cp := *ch
	c.items[key] = routeItem{ch: &cp, at: time.Now()}
}

// forget empties the cache.
func (c *routeCache) forget() {
	c.mu.Lock()
	c.gen++
	c.items = nil
	c.mu.Unlock()
}
