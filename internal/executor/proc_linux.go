package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// remountProc gives an executor started in its own pid and mount
// namespaces (namespaces/pid) a /proc that shows only its namespace, as
// Mesos's launcher does: mounts stop propagating to the host, then a
// fresh procfs goes over /proc.
func remountProc() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	return nil
}

// privateTmp gives an executor started in its own mount namespace
// (filesystem/linux) a /tmp of its own: dir, in its sandbox, is bound over
// /tmp, so that what its tasks write there stays in the sandbox and goes
// away with it. A sandbox that itself lies under /tmp is bound back at its
// path in the new /tmp, so that it stays where the tasks expect it.
func privateTmp(dir, sandbox string) error {
	fd, err := syscall.Open(sandbox, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the sandbox: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := os.MkdirAll(dir, 0o1777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		return err
	}
	if err := syscall.Mount(dir, "/tmp", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s over /tmp: %w", dir, err)
	}
	rel, err := filepath.Rel("/tmp", sandbox)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil
	}
	target := filepath.Join("/tmp", rel)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding the sandbox back at %s: %w", target, err)
	}
	return nil
}
