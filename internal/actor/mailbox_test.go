package actor

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMailbox(t *testing.T) {
	m := New(1)
	ctx, cancel := context.WithCancel(context.Background())
	owner := make(chan struct{})
	go func() {
		defer close(owner)
		defer m.Close()
		for {
			select {
			case fn := <-m.Work():
				fn()
			case <-ctx.Done():
				return
			}
		}
	}()
	state := 0
	if err := m.Do(context.Background(), func() { state = 1 }); err != nil || state != 1 {
		t.Fatalf("Do: %v, state %d", err, state)
	}
	fired := make(chan struct{})
	m.After(time.Millisecond, func() { state = 2; close(fired) })
	<-fired
	got := 0
	m.Do(context.Background(), func() { got = state })
	if got != 2 {
		t.Fatalf("After's closure did not run on the owner: state %d", got)
	}
	cancel()
	<-owner
	if err := m.Do(context.Background(), func() {}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Do after stop: %v, want ErrStopped", err)
	}
	m.Post(func() {}) // must not block once stopped
}
