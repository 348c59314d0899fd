package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/plateau/plateau/internal/bench"
)

// runBench runs one of Plateau's benchmarks and prints its result as one
// JSON line.
func runBench(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("which benchmark? plateau bench launch")}
	}
	var result any
	var err error
	switch args[0] {
	case "launch":
		fs := newFlagSet("bench launch", "bench launch [flags]", env)
		var o bench.LaunchOptions
		fs.IntVar(&o.Tasks, "tasks", 1000, "tasks to launch in the throughput run")
		fs.IntVar(&o.Single, "single", 50, "tasks launched one at a time for the single-task latency")
		fs.StringVar(&o.Master, "master", "", "master host:port (default: a master and an agent in this process)")
		fs.StringVar(&o.Command, "command", "true", "the command each task runs")
		if err := parseFlags(fs, args[1:], env); err != nil {
			return err
		}
		result, err = bench.Launch(ctx, o)
	default:
		return usageError{fmt.Errorf("unknown benchmark %q (known: launch)", args[0])}
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(result)
}
