// Package cgrouptest serializes the tests that use the host's cgroup
// controllers across test processes: one of them moves a controller from
// its cgroup v1 hierarchy to the v2 tree and back, which the others must
// not see half done.
package cgrouptest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Lock holds an exclusive lock on the host's cgroup controllers until the
// test ends.
func Lock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "plateau-cgroup-tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("cgroup test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("cgroup test lock: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
