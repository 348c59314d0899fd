// Package queue is an unbounded FIFO that never blocks its producer.
package queue

import (
	"errors"
	"sync"
)

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

// Drain hands every queued item to send, in order, as items arrive, and
// calls flush after each batch (if flush is not nil). It returns nil once
// the queue is closed and emptied, send's error if it fails, or ErrDone
// when done is closed first.
func (q *Queue[T]) Drain(done <-chan struct{}, send func(T) error, flush func()) error {
	var batch []T
	for {
		var closed bool
		batch, closed = q.Take(batch)
		for _, v := range batch {
			if err := send(v); err != nil {
				return err
			}
		}
		if len(batch) > 0 && flush != nil {
			flush()
		}
		if closed {
			return nil
		}
		select {
		case <-q.Wake:
		case <-done:
			return ErrDone
		}
	}
}

// ErrDone is returned by Drain when its done channel closes.
var ErrDone = errors.New("queue: consumer done")
