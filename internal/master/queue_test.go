package master

import "testing"

func TestQueue(t *testing.T) {
	q := newQueue[int]()
	for i := range 3 {
		if !q.push(i) {
			t.Fatalf("push(%d) on an open queue returned false", i)
		}
	}
	select {
	case <-q.wake:
	default:
		t.Fatal("push did not wake the consumer")
	}
	got, closed := q.take(nil)
	if closed || len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Fatalf("take = %v, %v; want [0 1 2], false", got, closed)
	}
	if got, _ := q.take(got); len(got) != 0 {
		t.Fatalf("second take = %v, want nothing", got)
	}
	q.push(7)
	q.close()
	if q.push(8) {
		t.Fatal("push after close returned true")
	}
	got, closed = q.take(nil)
	if !closed || len(got) != 1 || got[0] != 7 {
		t.Fatalf("take after close = %v, %v; want [7], true", got, closed)
	}
}
