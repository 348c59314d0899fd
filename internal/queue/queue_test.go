package queue

import (
	"errors"
	"testing"
)

func TestQueue(t *testing.T) {
	q := New[int]()
	for i := range 3 {
		if !q.Push(i) {
			t.Fatalf("push(%d) on an open queue returned false", i)
		}
	}
	select {
	case <-q.Wake:
	default:
		t.Fatal("push did not wake the consumer")
	}
	got, closed := q.Take(nil)
	if closed || len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Fatalf("take = %v, %v; want [0 1 2], false", got, closed)
	}
	if got, _ := q.Take(got); len(got) != 0 {
		t.Fatalf("second take = %v, want nothing", got)
	}
	q.Push(7)
	q.Close()
	if q.Push(8) {
		t.Fatal("push after close returned true")
	}
	got, closed = q.Take(nil)
	if !closed || len(got) != 1 || got[0] != 7 {
		t.Fatalf("take after close = %v, %v; want [7], true", got, closed)
	}
}

func TestDrain(t *testing.T) {
	q := New[int]()
	for i := range 5 {
		q.Push(i)
	}
	q.Close()
	var got []int
	flushes := 0
	if err := q.Drain(nil, func(v int) error { got = append(got, v); return nil }, func() { flushes++ }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[4] != 4 || flushes != 1 {
		t.Fatalf("drained %v with %d flushes", got, flushes)
	}

	q = New[int]()
	q.Push(1)
	boom := errors.New("boom")
	if err := q.Drain(nil, func(int) error { return boom }, nil); err != boom {
		t.Fatalf("Drain = %v, want send's error", err)
	}

	q = New[int]()
	done := make(chan struct{})
	close(done)
	if err := q.Drain(done, func(int) error { return nil }, nil); err != ErrDone {
		t.Fatalf("Drain = %v, want ErrDone", err)
	}
}
