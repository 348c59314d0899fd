package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/plateau/plateau/internal/allocator/allocbench"
	"github.com/plateau/plateau/internal/bench"
	"github.com/plateau/plateau/internal/master"
)

// benchmarks are the names runBench knows.
const benchmarks = "launch|allocator|containerizer|state|failover"

// runBench runs one of Plateau's benchmarks and prints its result as one
// JSON line.
func runBench(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("which benchmark? plateau bench %s", benchmarks)}
	}
	var result any
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(env.Stdout, "Usage: plateau bench %s [flags]\n\nEach benchmark prints its result as one JSON line; 'plateau bench NAME --help' lists its flags.\nThe figures and the commands behind them are in docs/benchmarks.md.\n", benchmarks)
		return nil
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
	case "allocator":
		fs := newFlagSet("bench allocator", "bench allocator [--agents N] [--frameworks N] [--roles N] [--cycles N]", env)
		var o allocbench.Options
		fs.IntVar(&o.Agents, "agents", 10000, "agents")
		fs.IntVar(&o.Frameworks, "frameworks", 1000, "frameworks")
		fs.IntVar(&o.Roles, "roles", 1, "roles the frameworks are spread over")
		fs.IntVar(&o.Cycles, "cycles", 10, "full cycles to measure")
		if err := parseFlags(fs, args[1:], env); err != nil {
			return err
		}
		result, err = allocbench.Run(ctx, o)
	case "containerizer":
		fs := newFlagSet("bench containerizer", "bench containerizer [--tasks N] [--isolation LIST]", env)
		tasks := fs.Int("tasks", 50, "tasks launched one at a time on each agent")
		isolation := fs.String("isolation", "cgroups/cpu,cgroups/mem,cgroups/pids", "the isolated agent's --isolation")
		if err := parseFlags(fs, args[1:], env); err != nil {
			return err
		}
		result, err = bench.Containerizer(ctx, *tasks, *isolation, nil)
	case "state":
		fs := newFlagSet("bench state", "bench state [--agents N] [--tasks N] [--frameworks N] [--requests N]", env)
		var o bench.StateOptions
		fs.IntVar(&o.Agents, "agents", 10000, "emulated agents")
		fs.IntVar(&o.Tasks, "tasks", 100000, "emulated running tasks")
		fs.IntVar(&o.Frameworks, "frameworks", 100, "frameworks the tasks belong to")
		fs.IntVar(&o.Requests, "requests", 20, "/master/state requests to measure")
		if err := parseFlags(fs, args[1:], env); err != nil {
			return err
		}
		result, err = bench.State(ctx, o)
	case "failover":
		fs := newFlagSet("bench failover", "bench failover [--masters N] [--agents N] [--frameworks N]", env)
		var o bench.FailoverOptions
		fs.IntVar(&o.Masters, "masters", 3, "masters in the group")
		fs.IntVar(&o.Agents, "agents", 100, "agents (real, in this process)")
		fs.IntVar(&o.Frameworks, "frameworks", 10, "frameworks that subscribe again after the failover")
		fs.DurationVar(&o.ElectionTimeout, "raft_election_timeout", master.DefaultConfig().RaftElectionTimeout, "the masters' --raft_election_timeout")
		if err := parseFlags(fs, args[1:], env); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		result, err = bench.Failover(ctx, o)
	default:
		return usageError{fmt.Errorf("unknown benchmark %q (known: %s)", args[0], benchmarks)}
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(result)
}
