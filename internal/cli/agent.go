package cli

import (
	"context"

	"github.com/plateau/plateau/internal/agent"
)

func runAgent(ctx context.Context, env Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "drain", "deactivate", "reactivate":
			return runAgentVerb(ctx, env, args[0], args[1:])
		}
	}
	cfg := agent.DefaultConfig()
	fs := newFlagSet("agent", "agent --master=HOST:PORT --work_dir=DIR [flags]", env)
	cfg.RegisterFlags(fs)
	var logging loggingFlags
	logging.register(fs)
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{errUnexpectedArgs(fs.Args())}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	log, err := logging.logger(env, "agent")
	if err != nil {
		return err
	}
	a, err := agent.New(cfg, agent.WithLogger(log), agent.WithLogLevel(&logging.Var), agent.WithLogFile(logging.file))
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
