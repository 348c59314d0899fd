package master

import (
	"sync"
	"time"
	"unsafe"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/model"
)

// stateCache keeps the JSON of /master/state's large parts between
// renders: each framework's task lists and each agent's object. A part is
// reused while its fingerprint is unchanged. Task records, agent infos,
// totals and offers are never changed in place (an update replaces the
// record), so the pointers a part is rendered from identify its content:
// the fingerprint is an order-independent hash of those pointers, plus
// the few plain values rendered. Parts not used by a render are dropped
// after it; renders take turns.
type stateCache struct {
	mu         sync.Mutex
	frameworks map[string]cachedPart
	agents     map[string]cachedPart
	next       *stateCache // the parts the current render used
}

type cachedPart struct {
	fp   uint64
	json []byte
}

// begin starts a render; end must follow.
func (c *stateCache) begin() {
	c.mu.Lock()
	c.next = &stateCache{frameworks: map[string]cachedPart{}, agents: map[string]cachedPart{}}
}

// end finishes a render: what it did not use is forgotten.
func (c *stateCache) end() {
	c.frameworks, c.agents, c.next = c.next.frameworks, c.next.agents, nil
	c.mu.Unlock()
}

// part returns the cached JSON of a part if its fingerprint matches, else
// renders it; either way the part is kept for the next render.
func (c *stateCache) part(cache map[string]cachedPart, keep map[string]cachedPart, id string, fp uint64, render func() []byte) []byte {
	if p, ok := cache[id]; ok && p.fp == fp {
		keep[id] = p
		return p.json
	}
	j := render()
	keep[id] = cachedPart{fp, j}
	return j
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

func (f *fingerprint) addTime(salt uint64, t time.Time) { f.add(salt, uint64(t.UnixNano())) }

func (f *fingerprint) addBool(salt uint64, b bool) {
	v := uint64(0)
	if b {
		v = 1
	}
	f.add(salt, v)
}

// tasksFingerprint hashes a list of task records by identity, with its
// length, so that two lists with the same records in any order match.
func tasksFingerprint(tasks []*mesos.Task, salt uint64) uint64 {
	var f fingerprint
	f.add(salt, uint64(len(tasks)))
	for _, t := range tasks {
		f.addPtr(salt+1000, unsafe.Pointer(t))
	}
	return uint64(f)
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
