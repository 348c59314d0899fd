package master

import "sync"

// queue is an unbounded FIFO with one consumer. The master's goroutine
// pushes into it without ever blocking; the goroutine that owns a
// connection (a scheduler's event stream, an agent's link) drains it.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	wake   chan struct{} // has a token when items or closed changed
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{wake: make(chan struct{}, 1)}
}

// push appends v and reports whether the queue was still open.
func (q *queue[T]) push(v T) bool {
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

// close stops the queue; the consumer still gets what was pushed before.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns everything queued so far, and whether the queue is closed.
// The consumer waits on q.wake between calls.
func (q *queue[T]) take(buf []T) ([]T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.items...)
	clear(q.items)
	q.items = q.items[:0]
	return buf, q.closed
}
