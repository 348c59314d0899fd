// Package zk publishes and finds the leading master in ZooKeeper, in
// Mesos's layout, so that tools that find a Mesos leader through
// ZooKeeper (Marathon's --master zk://..., Mesos-DNS) find Plateau's: the
// children json.info_<sequence> of a path hold MasterInfo as JSON, and the
// one with the lowest sequence is the leader. Plateau's masters elect
// their leader with Raft; the leader publishes itself here.
package zk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// prefix names the znodes of masters, as Mesos's.
const prefix = "json.info_"

// sessionTimeout is Mesos's default --zk_session_timeout.
const sessionTimeout = 10 * time.Second

// IsURL reports whether s is a zk:// URL.
func IsURL(s string) bool { return strings.HasPrefix(s, "zk://") }

// ParseURL splits zk://host:port,host:port/path.
func ParseURL(u string) (servers []string, path string, err error) {
	rest, ok := strings.CutPrefix(u, "zk://")
	if !ok {
		return nil, "", fmt.Errorf("%q is not a zk:// URL", u)
	}
	hosts, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, "", fmt.Errorf("%q: %q is not host:port", u, h)
		}
		servers = append(servers, h)
	}
	if path == "" {
		return nil, "", fmt.Errorf("%q has no path (zk://host:port/mesos)", u)
	}
	return servers, "/" + strings.TrimSuffix(path, "/"), nil
}

func connect(servers []string) (*zk.Conn, error) {
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, err
	}
	deadline := time.After(sessionTimeout)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events { // keep the channel drained
					}
				}()
				return conn, nil
			}
		case <-deadline:
			conn.Close()
			return nil, fmt.Errorf("zk: no session with %v", servers)
		}
	}
}

// Leader finds the leading master's host:port.
func Leader(ctx context.Context, url string) (string, error) {
	servers, path, err := ParseURL(url)
	if err != nil {
		return "", err
	}
	conn, err := connect(servers)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	info, err := leaderInfo(conn, path)
	if err != nil {
		return "", err
	}
	a := info.GetAddress()
	return net.JoinHostPort(a.GetIp(), fmt.Sprint(a.GetPort())), nil
}

func leaderInfo(conn *zk.Conn, path string) (*mesos.MasterInfo, error) {
	children, _, err := conn.Children(path)
	if err != nil {
		return nil, fmt.Errorf("zk: reading %s: %w", path, err)
	}
	var nodes []string
	for _, c := range children {
		if strings.HasPrefix(c, prefix) {
			nodes = append(nodes, c)
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("zk: no leading master under %s", path)
	}
	sort.Strings(nodes) // sequence numbers are zero-padded
	data, _, err := conn.Get(path + "/" + nodes[0])
	if err != nil {
		return nil, err
	}
	info := &mesos.MasterInfo{}
	if err := codec.UnmarshalJSON(data, info); err != nil {
		return nil, fmt.Errorf("zk: %s/%s: %w", path, nodes[0], err)
	}
	return info, nil
}

// Publisher keeps a leader's znode in ZooKeeper while it leads.
type Publisher struct {
	conn *zk.Conn
	path string
	data []byte
	log  *slog.Logger

	mu   sync.Mutex
	node string
	done chan struct{}
}

// Publish announces info as the leader under the URL's path: an
// ephemeral sequential json.info_ node, the others (left by masters that
// led before) removed, so that it is the one with the lowest sequence.
// The node is made again if the session expires.
func Publish(url string, info *mesos.MasterInfo, log *slog.Logger) (*Publisher, error) {
	servers, path, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	data, err := codec.MarshalJSON(info)
	if err != nil {
		return nil, err
	}
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, err
	}
	p := &Publisher{conn: conn, path: path, data: data, log: log, done: make(chan struct{})}
	ready := make(chan error, 1)
	go p.watch(events, ready)
	select {
	case err := <-ready:
		if err != nil {
			conn.Close()
			return nil, err
		}
	case <-time.After(sessionTimeout):
		conn.Close()
		return nil, fmt.Errorf("zk: no session with %v", servers)
	}
	return p, nil
}

// watch publishes whenever a (new) session starts.
func (p *Publisher) watch(events <-chan zk.Event, ready chan<- error) {
	first := true
	for ev := range events {
		if ev.State != zk.StateHasSession {
			continue
		}
		err := p.publish()
		if first {
			ready <- err
			first = false
		} else if err != nil {
			p.log.Error("publishing the leader in ZooKeeper again", "err", err)
		}
	}
	close(p.done)
}

func (p *Publisher) publish() error {
	if err := ensurePath(p.conn, p.path); err != nil {
		return err
	}
	node, err := p.conn.Create(p.path+"/"+prefix, p.data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return fmt.Errorf("zk: publishing the leader under %s: %w", p.path, err)
	}
	p.mu.Lock()
	p.node = node
	p.mu.Unlock()
	children, _, err := p.conn.Children(p.path)
	if err != nil {
		return err
	}
	for _, c := range children {
		if strings.HasPrefix(c, prefix) && p.path+"/"+c != node {
			// A master that led before (its session not yet expired).
			if err := p.conn.Delete(p.path+"/"+c, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
		}
	}
	p.log.Info("published the leader in ZooKeeper", "node", node)
	return nil
}

func ensurePath(conn *zk.Conn, path string) error {
	at := ""
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		at += "/" + part
		if _, err := conn.Create(at, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zk: creating %s: %w", at, err)
		}
	}
	return nil
}

// Close withdraws the leader's node.
func (p *Publisher) Close() {
	p.conn.Close()
	<-p.done
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
