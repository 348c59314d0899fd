package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/agent"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/master"
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

	// The masters, each on a port p with p+2 (Raft's) free.
	addrs := make([]string, o.Masters)
	for i := range addrs {
		if addrs[i], err = portPair(); err != nil {
			return res, err
		}
	}
	cancels := make([]context.CancelFunc, o.Masters)
	done := make([]chan struct{}, o.Masters)
	defer func() {
		for i := range cancels {
			if cancels[i] != nil {
				cancels[i]()
				<-done[i]
			}
		}
	}()
	for i, addr := range addrs {
		cfg := master.DefaultConfig()
		host, port, _ := net.SplitHostPort(addr)
		cfg.IP = host
		fmt.Sscan(port, &cfg.Port)
		cfg.WorkDir = fmt.Sprintf("%s/master-%d", dir, i)
		cfg.Peers, cfg.Quorum = strings.Join(addrs, ","), o.Masters/2+1
		if o.ElectionTimeout > 0 {
			cfg.RaftElectionTimeout = o.ElectionTimeout
		}
		m, err := master.New(cfg, master.WithLogger(quiet))
		if err != nil {
			return res, err
		}
		mctx, cancel := context.WithCancel(context.Background())
		cancels[i], done[i] = cancel, make(chan struct{})
		go func() { defer close(done[i]); _ = m.Run(mctx) }()
	}
	leader, err := waitLeader(ctx, addrs, nil)
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
	cancels[leader]()
	<-done[leader]
	cancels[leader] = nil
	nl, err := waitLeader(ctx, addrs, map[int]bool{leader: true})
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

// portPair finds a port p with p+2 (its Raft port) free too.
func portPair() (string, error) {
	for range 100 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+2))
		a.Close()
		if err == nil {
			b.Close()
			return fmt.Sprintf("127.0.0.1:%d", p), nil
		}
	}
	return "", fmt.Errorf("no two consecutive free ports")
}

// metrics reads a master's /metrics/snapshot.
func metrics(addr string) map[string]float64 {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/metrics/snapshot")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m map[string]float64
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

// waitLeader polls the masters not in dead until one leads.
func waitLeader(ctx context.Context, addrs []string, dead map[int]bool) (int, error) {
	for {
		for i, a := range addrs {
			if !dead[i] && metrics(a)["master/elected"] == 1 {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitMetric polls a master until a metric reaches a value.
func waitMetric(ctx context.Context, addr, name string, want float64) error {
	for metrics(addr)[name] != want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s on %s never reached %v: %w", name, addr, want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
