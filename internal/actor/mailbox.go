// Package actor is the mailbox of a component that owns its state in one
// goroutine: other goroutines hand it closures with Do (and wait) or Post
// (and go on), and timers fire into it with After. The owner runs the
// closures from Work in its own select loop and calls Close when it stops.
package actor

import (
	"context"
	"errors"
	"time"
)

// ErrStopped is returned by Do once the owner has stopped.
var ErrStopped = errors.New("component is shutting down")

// Mailbox carries closures to the owning goroutine.
type Mailbox struct {
	work    chan func()
	stopped chan struct{}
}

// New returns a mailbox that buffers up to size closures.
func New(size int) *Mailbox {
	return &Mailbox{work: make(chan func(), size), stopped: make(chan struct{})}
}

// Work is what the owner receives closures from.
func (m *Mailbox) Work() <-chan func() { return m.work }

// Close tells waiting and future callers that the owner has stopped.
func (m *Mailbox) Close() { close(m.stopped) }

// Stopped is closed once the owner has stopped.
func (m *Mailbox) Stopped() <-chan struct{} { return m.stopped }

// Do runs fn on the owner's goroutine and waits for it.
func (m *Mailbox) Do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case m.work <- func() { fn(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-m.stopped:
		return ErrStopped
	}
}

// Post runs fn on the owner's goroutine without waiting; it gives up only
// when the owner has stopped.
func (m *Mailbox) Post(fn func()) {
	select {
	case m.work <- fn:
	case <-m.stopped:
	}
}

// After posts fn once d has passed.
func (m *Mailbox) After(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { m.Post(fn) })
}
