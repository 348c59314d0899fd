package master

import (
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/model"
)

// stateCache keeps the JSON of /master/state's large parts between
// renders: each framework's object, with its task lists, and each agent's
// object. A part is reused while its fingerprint is unchanged.
//
// Task records, agent infos, totals, usage lists and offers are never
// changed in place (an update replaces the record), so the addresses of
// the records a part is rendered from identify its content: the
// fingerprint is an order-independent hash of those addresses, plus the
// plain values rendered. A cached part pins the records it was rendered
// from, so that no address it names can be reused for a new record while
// it is kept. A render names the lists it covers (all agents, all
// frameworks, ...): their parts it did not use are dropped after it.
// Renders take turns.
type stateCache struct {
	mu    sync.Mutex
	parts map[string]cachedPart
}

type cachedPart struct {
	fp   uint64
	json []byte
	pins any
}

// partRequest asks for one part: its key, its fingerprint, the records
// the fingerprint names, and how to render it.
type partRequest struct {
	key    string
	fp     uint64
	pins   any
	render func() []byte
}

// resolve returns the JSON of each requested part: the cached one where
// the fingerprint matches, else a new rendering. The parts to render are
// shared among GOMAXPROCS goroutines, so a render with nothing cached (the
// first after a master starts) uses every core. The requests are all the
// parts of the named lists (the part "slaves/S1" is in the list "slaves").
func (c *stateCache) resolve(lists []string, reqs []partRequest) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, len(reqs))
	var misses []int
	for i, r := range reqs {
		if p, ok := c.parts[r.key]; ok && p.fp == r.fp {
			out[i] = p.json
		} else {
			misses = append(misses, i)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(misses)) {
		wg.Go(func() {
			for k := int(next.Add(1)) - 1; k < len(misses); k = int(next.Add(1)) - 1 {
				out[misses[k]] = reqs[misses[k]].render()
			}
		})
	}
	wg.Wait()
	parts := make(map[string]cachedPart, len(c.parts))
	for key, p := range c.parts { // the parts of other lists stay
		if list, _, _ := strings.Cut(key, "/"); !slices.Contains(lists, list) {
			parts[key] = p
		}
	}
	for i, r := range reqs {
		if p, ok := c.parts[r.key]; ok && p.fp == r.fp {
			parts[r.key] = p // still pinning the records it was rendered from
		} else {
			parts[r.key] = cachedPart{r.fp, out[i], r.pins}
		}
	}
	c.parts = parts
	return out
}

// fingerprint accumulates an order-independent hash.
type fingerprint uint64

// mix is splitmix64's finaliser: spreads a value over 64 bits.
func mix(v uint64) uint64 {
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	return v ^ v>>31
}

// add includes a value of a field; the sum makes the order of a list's
// values irrelevant, and salt tells the fields apart.
func (f *fingerprint) add(salt, v uint64) { *f += fingerprint(mix(v ^ mix(salt+0x9e3779b97f4a7c15))) }

func (f *fingerprint) addPtr(salt uint64, p unsafe.Pointer) { f.add(salt, uint64(uintptr(p))) }

// addShared includes a list that is replaced, never changed, by its
// array and length.
func addShared[T any](f *fingerprint, salt uint64, list []T) {
	f.addPtr(salt, unsafe.Pointer(unsafe.SliceData(list)))
	f.add(salt+1, uint64(len(list)))
}

// addEach includes a list of records by the address of each, in any
// order, and its length.
func addEach[T any](f *fingerprint, salt uint64, list []*T) {
	f.add(salt, uint64(len(list)))
	for _, p := range list {
		f.addPtr(salt+1, unsafe.Pointer(p))
	}
}

var stringSeed = maphash.MakeSeed()

func (f *fingerprint) addString(salt uint64, s string) { f.add(salt, maphash.String(stringSeed, s)) }

func (f *fingerprint) addTime(salt uint64, t time.Time) { f.add(salt, uint64(t.UnixNano())) }

func (f *fingerprint) addBool(salt uint64, b bool) {
	v := uint64(0)
	if b {
		v = 1
	}
	f.add(salt, v)
}

// appendTasks appends a task list's elements to b.
func appendTasks(b []byte, tasks []*mesos.Task) []byte {
	for i, t := range tasks {
		if i > 0 {
			b = append(b, ',')
		}
		b = model.AppendTask(b, t)
	}
	return b
}
