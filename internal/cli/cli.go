// Package cli implements the plateau command's subcommands. Each one is a
// function of its arguments and an Env, so tests run them in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plateau/plateau/internal/flagenv"
	"github.com/plateau/plateau/internal/version"
)

// Env is what a command may use of the outside world.
type Env struct {
	Stdin          io.Reader // nil: no input
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors in how a command was invoked (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCodeError lets a command choose its exit code (plateau run exits
// with its task's).
type exitCodeError struct {
	code int
	err  error
}

func (e exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

type command struct {
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

var commands = map[string]command{
	"master":      {"run a Mesos-compatible master", runMaster},
	"agent":       {"run an agent that launches tasks for a master", runAgent},
	"executor":    {"the command executor (started by the agent)", runExecutor},
	"dev":         {"run a master and an agent on this machine, in the foreground", runDev},
	"run":         {"run one command as a task on the cluster, like mesos-execute", runRun},
	"bench":       {"measure Plateau: bench launch|allocator|containerizer|state|failover", runBench},
	"version":     {"print the version", runVersion},
	"agents":      {"list the cluster's agents", runAgents},
	"frameworks":  {"list the cluster's frameworks", runFrameworks},
	"tasks":       {"list the cluster's tasks", runTasks},
	"roles":       {"list the cluster's roles with their weights and use", runRoles},
	"quota":       {"list roles' quota guarantees and limits", runQuota},
	"maintenance": {"machines' maintenance: maintenance status | schedule [add|clear] | down | up", runMaintenance},
	"task":        {"a task's sandbox: task log ID [--follow] [--stderr], task ls ID [PATH], task exec [-i] [-t] ID -- CMD", runTask},
}

// Main runs the command named by args[0] and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" {
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "plateau: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return exitUsage
	}
	err := cmd.run(ctx, env, args[1:])
	var ue usageError
	var ec exitCodeError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ec):
		if ec.err != nil {
			fmt.Fprintf(env.Stderr, "plateau %s: %v\n", args[0], ec.err)
		}
		return ec.code
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "plateau %s: %v\nRun 'plateau %s --help' for the flags.\n", args[0], err, args[0])
		return exitUsage
	default:
		fmt.Fprintf(env.Stderr, "plateau %s: %v\n", args[0], err)
		return exitError
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Plateau %s: a cluster manager compatible with Apache Mesos %s.\n\nUsage: plateau <command> [flags]\n\nCommands:\n",
		version.Version, version.MesosVersion)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nEvery flag --name can also be set as %sNAME. Run 'plateau <command> --help' for its flags.\n", flagenv.Prefix)
}

func runVersion(ctx context.Context, env Env, args []string) error {
	fmt.Fprintf(env.Stdout, "plateau %s (Mesos API %s)\n", version.Version, version.MesosVersion)
	return nil
}

// newFlagSet makes a flag set whose --help lists every flag with its
// environment variable.
func newFlagSet(name, synopsis string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage: plateau %s\n\nFlags (each can also be set as %sNAME):\n", synopsis, flagenv.Prefix)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(env.Stderr)
	}
	return fs
}

// parseFlags parses args and the environment into fs; a bad flag is a
// usage error.
func parseFlags(fs *flag.FlagSet, args []string, env Env) error {
	fs.SetOutput(io.Discard) // errors are printed once, by Main
	err := flagenv.Parse(fs, args, env.Getenv)
	fs.SetOutput(env.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

// loggingFlags are the logging flags every daemon has.
type loggingFlags struct {
	level string
	dir   string
	// file is the log file in --log_dir, once logger has opened it.
	file string
	// Var is the handlers' level, which SET_LOGGING_LEVEL changes.
	Var slog.LevelVar
}

func (l *loggingFlags) register(fs *flag.FlagSet) {
	l.level = "INFO"
	fs.StringVar(&l.level, "logging_level", l.level, "log level: DEBUG, INFO, WARNING or ERROR")
	fs.StringVar(&l.dir, "log_dir", l.dir, "also write the log to plateau-COMPONENT.log in this directory (served at /master/log or /slave/log through /files and LIST_FILES/READ_FILE)")
}

func (l *loggingFlags) logger(env Env, component string) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToUpper(l.level) {
	case "DEBUG", "VERBOSE":
		level = slog.LevelDebug
	case "INFO":
		level = slog.LevelInfo
	case "WARNING", "WARN":
		level = slog.LevelWarn
	case "ERROR":
		level = slog.LevelError
	default:
		return nil, usageError{fmt.Errorf("--logging_level %q is not one of DEBUG, INFO, WARNING, ERROR", l.level)}
	}
	l.Var.Set(level)
	out := env.Stderr
	if l.dir != "" {
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return nil, usageError{fmt.Errorf("--log_dir: %w", err)}
		}
		l.file = filepath.Join(l.dir, "plateau-"+component+".log")
		f, err := os.OpenFile(l.file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, usageError{fmt.Errorf("--log_dir: %w", err)}
		}
		out = io.MultiWriter(env.Stderr, f)
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: &l.Var})).With("component", component), nil
}

func errUnexpectedArgs(args []string) error {
	return fmt.Errorf("unexpected arguments: %s", strings.Join(args, " "))
}
