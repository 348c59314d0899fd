package cli

import (
	"context"

	"github.com/plateau/plateau/internal/executor"
)

// runExecutor is the command executor the agent starts for command tasks;
// its configuration comes from the MESOS_* environment.
func runExecutor(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("executor", "executor (started by the agent, configured by MESOS_* environment variables)", env)
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	cfg, err := executor.ConfigFromEnv(env.Getenv)
	if err != nil {
		return usageError{err}
	}
	return executor.RunCommand(ctx, cfg, env.Stderr)
}
