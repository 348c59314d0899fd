// Package queue is an unbounded FIFO that never blocks its producer.
package queue

import "sync"

// Queue is an unbounded FIFO with one consumer. A component's state
// goroutine pushes into it without ever blocking; the goroutine that owns a
// connection (an event stream, an agent's link) drains it.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	// Wake has a token whenever items were pushed or the queue closed;
	// the consumer waits on it between calls to Take.
	Wake chan struct{}
}

// New returns an open, empty queue.
func New[T any]() *Queue[T] {
	return &Queue[T]{Wake: make(chan struct{}, 1)}
}

// Push appends v and reports whether the queue was still open.
func (q *Queue[T]) Push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.signal()
	return true
}

// Close stops the queue; the consumer still gets what was pushed before.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *Queue[T]) signal() {
	select {
	case q.Wake <- struct{}{}:
	default:
	}
}

// Take returns everything queued so far (reusing buf), and whether the
// queue is closed.
func (q *Queue[T]) Take(buf []T) ([]T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.items...)
	clear(q.items)
	q.items = q.items[:0]
	return buf, q.closed
}
