package cli

import (
	"context"

	"github.com/plateau/plateau/internal/master"
)

func runMaster(ctx context.Context, env Env, args []string) error {
	cfg := master.DefaultConfig()
	fs := newFlagSet("master", "master [flags]", env)
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
	log, err := logging.logger(env, "master")
	if err != nil {
		return err
	}
	m, err := master.New(cfg, master.WithLogger(log), master.WithLogLevel(&logging.Var), master.WithLogFile(logging.file))
	if err != nil {
		return err
	}
	return m.Run(ctx)
}
