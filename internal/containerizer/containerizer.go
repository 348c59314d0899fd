// Package containerizer starts executors in containers. The agent knows
// only the Containerizer interface; the posix containerizer here runs each
// executor as a plain process in its own session, and isolating
// containerizers (cgroups, namespaces, Docker) plug in behind the same
// interface.
package containerizer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// LaunchConfig says what to run and where.
type LaunchConfig struct {
	ContainerID string
	// Argv is the program and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	Env  []string
	Dir  string
	// Stdout and Stderr are files the container's output is appended to.
	Stdout, Stderr string
	// Limits are enforced by isolating containerizers.
	Limits Limits
	// PIDNamespace runs the container in its own pid and mount
	// namespaces (namespaces/pid).
	PIDNamespace bool
	// PrivateTmp runs the container in its own mount namespace with
	// Dir/tmp as its /tmp (filesystem/linux).
	PrivateTmp bool
}

// RemountProcEnv tells Plateau's executor, started in a new pid
// namespace, to mount a /proc of its own so that its tasks see only their
// container's processes.
const RemountProcEnv = "PLATEAU_REMOUNT_PROC"

// PrivateTmpEnv tells Plateau's executor, started in a new mount
// namespace, which directory to bind over /tmp.
const PrivateTmpEnv = "PLATEAU_PRIVATE_TMP"

// IsolatorFilesystemLinux gives each container its own mount namespace
// and /tmp (in its sandbox).
const IsolatorFilesystemLinux = "filesystem/linux"

// Container is a launched container.
type Container interface {
	// Pid is the container's main process.
	Pid() int
	// Signal sends sig to every process of the container.
	Signal(sig syscall.Signal) error
	// Wait blocks until the main process exits and returns its wait status
	// as Mesos reports it (exit code << 8, or the terminating signal).
	Wait() (status int, err error)
}

// Containerizer launches containers.
type Containerizer interface {
	Launch(ctx context.Context, cfg LaunchConfig) (Container, error)
}

// Posix runs each container as a process in its own session and process
// group, with no isolation (Mesos's posix isolators); PIDNamespace adds
// namespaces/pid.
type Posix struct {
	PIDNamespace bool
	PrivateTmp   bool
}

// Launch starts the process.
func (p Posix) Launch(ctx context.Context, cfg LaunchConfig) (Container, error) {
	cfg.PIDNamespace = cfg.PIDNamespace || p.PIDNamespace
	cfg.PrivateTmp = cfg.PrivateTmp || p.PrivateTmp
	if len(cfg.Argv) == 0 {
		return nil, errors.New("containerizer: empty command")
	}
	stdout, err := os.OpenFile(cfg.Stdout, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containerizer: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(cfg.Stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containerizer: %w", err)
	}
	defer stderr.Close()
	cmd := exec.Command(cfg.Argv[0], cfg.Argv[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = cfg.Env, cfg.Dir, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cfg.PIDNamespace {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
		cmd.Env = append(cmd.Env, RemountProcEnv+"=1")
	}
	if cfg.PrivateTmp {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNS
		cmd.Env = append(cmd.Env, PrivateTmpEnv+"="+filepath.Join(cfg.Dir, "tmp"))
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("containerizer: starting %s: %w", cfg.Argv[0], err)
	}
	return &process{cmd: cmd}, nil
}

type process struct{ cmd *exec.Cmd }

func (p *process) Pid() int { return p.cmd.Process.Pid }

func (p *process) Signal(sig syscall.Signal) error {
	// The process leads its own session and process group.
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func (p *process) Wait() (int, error) {
	err := p.cmd.Wait()
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return 0, err
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, err
	}
	return int(ws), nil
}

// Joinable is the extra ability of containers that another process can
// join, so that it is isolated and accounted with them (a nested
// container launched by the operator API shares its parent's cgroups).
type Joinable interface {
	Join(pid int) error
}
