package loglevel

import (
	"log/slog"
	"testing"
	"time"
)

func TestSetAndRevert(t *testing.T) {
	var v slog.LevelVar
	Set(&v, 1, 0)
	if v.Level() != slog.LevelDebug || Glog(v.Level()) != 1 {
		t.Fatalf("level %v after setting verbosity 1", v.Level())
	}
	Set(&v, 0, 10*time.Millisecond)
	if v.Level() != slog.LevelInfo || Glog(v.Level()) != 0 {
		t.Fatalf("level %v after setting verbosity 0", v.Level())
	}
	for deadline := time.Now().Add(5 * time.Second); v.Level() != slog.LevelDebug; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the level did not revert after the duration")
		}
	}
}
