package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/agent"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

// FailoverOptions shape `plateau bench failover`.
type FailoverOptions struct {
	Masters, Agents, Frameworks int
	// ElectionTimeout is the masters' --raft_election_timeout.
	ElectionTimeout time.Duration
}

// FailoverResult is what `plateau bench failover` prints: the time from
// killing the leading master to a new leader serving, to every agent
// registered with it, and to every framework subscribed to it again.
type FailoverResult struct {
	Masters                  int     `json:"masters"`
	Agents                   int     `json:"agents"`
	Frameworks               int     `json:"frameworks"`
	NewLeaderMs              float64 `json:"new_leader_ms"`
	AgentsReregisteredMs     float64 `json:"agents_reregistered_ms"`
	FrameworksResubscribedMs float64 `json:"frameworks_resubscribed_ms"`
}

// Failover runs a group of masters, agents and frameworks in this
// process, kills the leader and measures how fast everything is back.
func Failover(ctx context.Context, o FailoverOptions) (FailoverResult, error) {
	res := FailoverResult{Masters: o.Masters, Agents: o.Agents, Frameworks: o.Frameworks}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "plateau-bench-failover-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	h, err := cluster.StartMasters(o.Masters, dir, o.ElectionTimeout, quiet)
	if err != nil {
		return res, err
	}
	defer h.Stop()
	addrs := h.Addrs
	leader, err := h.Leader(ctx)
	if err != nil {
		return res, err
	}

	// The agents, registered with the leader.
	actx, stopAgents := context.WithCancel(context.Background())
	var agentsDone sync.WaitGroup
	defer func() { stopAgents(); agentsDone.Wait() }()
	for i := range o.Agents {
		cfg := agent.DefaultConfig()
		cfg.Master = strings.Join(addrs, ",")
		cfg.IP, cfg.Port = "127.0.0.1", 0
		cfg.WorkDir = fmt.Sprintf("%s/agent-%d", dir, i)
		cfg.Resources = "cpus:4;mem:4096;disk:4096"
		cfg.Isolation = "posix/cpu,posix/mem"
		a, err := agent.New(cfg, agent.WithLogger(quiet))
		if err != nil {
			return res, err
		}
		agentsDone.Add(1)
		go func() { defer agentsDone.Done(); _ = a.Run(actx) }()
	}
	if err := waitMetric(ctx, addrs[leader], "master/slaves_active", float64(o.Agents)); err != nil {
		return res, err
	}

	// The frameworks: each keeps a subscription, and subscribes again
	// (through any master: standbys redirect) when it breaks.
	resubscribed := make(chan time.Time, o.Frameworks)
	var subs sync.WaitGroup
	fctx, stopFrameworks := context.WithCancel(context.Background())
	defer func() { stopFrameworks(); subs.Wait() }()
	subscribedOnce := make(chan error, o.Frameworks)
	for i := range o.Frameworks {
		subs.Add(1)
		go func() {
			defer subs.Done()
			info := &mesos.FrameworkInfo{User: proto.String("bench"), Name: proto.String(fmt.Sprint("failover-", i)), FailoverTimeout: proto.Float64(3600)}
			first := true
			for k := 0; fctx.Err() == nil; k++ {
				sub, err := (&client.Scheduler{Master: addrs[k%len(addrs)]}).Subscribe(fctx, info)
				if err != nil {
					select {
					case <-time.After(50 * time.Millisecond):
					case <-fctx.Done():
					}
					continue
				}
				if first {
					first = false
					subscribedOnce <- nil
				} else {
					resubscribed <- time.Now()
				}
				for {
					ev, err := sub.Next()
					if err != nil {
						break
					}
					if ev.GetSubscribed() != nil {
						info.Id = ev.GetSubscribed().GetFrameworkId()
					}
				}
				sub.Close()
			}
		}()
	}
	for range o.Frameworks {
		select {
		case <-subscribedOnce:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}

	// Kill the leader.
	start := time.Now()
	h.Kill(leader)
	nl, err := h.Leader(ctx)
	if err != nil {
		return res, err
	}
	res.NewLeaderMs = ms(time.Since(start))
	if err := waitMetric(ctx, addrs[nl], "master/slaves_active", float64(o.Agents)); err != nil {
		return res, err
	}
	res.AgentsReregisteredMs = ms(time.Since(start))
	var last time.Time
	for range o.Frameworks {
		select {
		case at := <-resubscribed:
			if at.After(last) {
				last = at
			}
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.FrameworksResubscribedMs = ms(last.Sub(start))
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitMetric polls a master until a metric reaches a value.
func waitMetric(ctx context.Context, addr, name string, want float64) error {
	for cluster.Metrics(addr)[name] != want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s on %s never reached %v: %w", name, addr, want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
