package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/plateau/plateau/internal/agent"
	"github.com/plateau/plateau/internal/master"
)

// runDev starts a master and an agent in this process, in the foreground,
// until interrupted: Plateau's equivalent of a one-machine Mesos cluster.
func runDev(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("dev", "dev [flags]", env)
	ip := fs.String("ip", "127.0.0.1", "IP address the master and the agent listen on")
	masterPort := fs.Int("master_port", 5050, "master port")
	agentPort := fs.Int("agent_port", 5051, "agent port")
	workDir := fs.String("work_dir", "", "work directory (default: a fresh directory under the user's cache directory)")
	res := fs.String("resources", "", "agent resources, as for plateau agent --resources (default: detected)")
	var logging loggingFlags
	logging.register(fs)
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{errUnexpectedArgs(fs.Args())}
	}
	if _, err := logging.logger(env, ""); err != nil {
		return err
	}
	if *workDir == "" {
		dir, err := devWorkDir()
		if err != nil {
			return err
		}
		*workDir = dir
	}
	mcfg := master.DefaultConfig()
	mcfg.IP, mcfg.Port, mcfg.WorkDir = *ip, *masterPort, filepath.Join(*workDir, "master")
	m, err := master.New(mcfg, master.WithLogger(mustLogger(&logging, env, "master")), master.WithLogLevel(&logging.Var))
	if err != nil {
		return err
	}
	acfg := agent.DefaultConfig()
	acfg.Master = m.Addr()
	acfg.IP, acfg.Port, acfg.WorkDir, acfg.Resources = *ip, *agentPort, filepath.Join(*workDir, "agent"), *res
	if err := acfg.Validate(); err != nil {
		return usageError{err}
	}
	a, err := agent.New(acfg, agent.WithLogger(mustLogger(&logging, env, "agent")))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Plateau dev cluster\n  master:   http://%s\n  agent:    http://%s\n  work dir: %s\nPress Ctrl-C to stop.\n",
		m.Addr(), net.JoinHostPort(*ip, strconv.Itoa(*agentPort)), *workDir)

	// The agent stops first, killing its tasks, then the master.
	agentCtx, stopAgent := context.WithCancel(context.Background())
	masterCtx, stopMaster := context.WithCancel(context.Background())
	defer stopMaster()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = m.Run(masterCtx) }()
	agentDone := make(chan struct{})
	go func() { defer wg.Done(); defer close(agentDone); errs[1] = a.Run(agentCtx) }()
	select {
	case <-ctx.Done():
	case <-agentDone:
	}
	stopAgent()
	<-agentDone
	stopMaster()
	wg.Wait()
	fmt.Fprintln(env.Stdout, "Plateau dev cluster stopped.")
	return errors.Join(errs...)
}

// devWorkDir makes a fresh directory for a dev cluster's state.
func devWorkDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	base = filepath.Join(base, "plateau")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(base, "dev-")
}

// mustLogger is logging.logger for flags already checked.
func mustLogger(l *loggingFlags, env Env, component string) *slog.Logger {
	log, _ := l.logger(env, component)
	return log
}
