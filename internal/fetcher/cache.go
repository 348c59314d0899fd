package fetcher

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Cache keeps fetched URIs (those with Cache set) on the agent, so that
// each is downloaded once and copied into every sandbox that asks for it;
// the least recently used entries are evicted beyond Size bytes (Mesos's
// --fetcher_cache_dir and --fetcher_cache_size).
type Cache struct {
	Dir  string
	Size int64

	mu      sync.Mutex
	entries map[string]*list.Element // by URI
	lru     *list.List               // of *cacheEntry, most recent first
	used    int64
	// fetching serialises downloads of one URI.
	fetching map[string]*sync.Mutex
}

type cacheEntry struct {
	uri  string
	path string
	size int64
}

func (c *Cache) init() {
	if c.entries == nil {
		c.entries = map[string]*list.Element{}
		c.lru = list.New()
		c.fetching = map[string]*sync.Mutex{}
	}
}

// get returns the cached file of uri, downloading it with download on a
// miss.
func (c *Cache) get(ctx context.Context, uri string, download func(dst string) error) (string, error) {
	c.mu.Lock()
	c.init()
	lock := c.fetching[uri]
	if lock == nil {
		lock = &sync.Mutex{}
		c.fetching[uri] = lock
	}
	c.mu.Unlock()
	lock.Lock() // one download per URI at a time
	defer lock.Unlock()

	c.mu.Lock()
	if el, ok := c.entries[uri]; ok {
		c.lru.MoveToFront(el)
		path := el.Value.(*cacheEntry).path
		c.mu.Unlock()
		return path, nil
	}
	c.mu.Unlock()

	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(uri))
	path := filepath.Join(c.Dir, hex.EncodeToString(sum[:12]))
	tmp := path + ".part"
	if err := download(tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[uri] = c.lru.PushFront(&cacheEntry{uri: uri, path: path, size: fi.Size()})
	c.used += fi.Size()
	c.evictLocked()
	return path, nil
}

// evictLocked removes least recently used entries beyond Size (the newest
// stays even if it alone is larger). c.mu must be held.
func (c *Cache) evictLocked() {
	for c.used > c.Size && c.lru.Len() > 1 {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.entries, e.uri)
		c.used -= e.size
		os.Remove(e.path)
	}
}

// Len is how many URIs are cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.lru.Len()
}

func (c *Cache) String() string {
	return fmt.Sprintf("fetcher cache %s (%d bytes used of %d)", c.Dir, c.used, c.Size)
}
