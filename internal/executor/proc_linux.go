package executor

import (
	"fmt"
	"syscall"
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
