package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/testenv"
	"github.com/plateau/plateau/internal/zk"
)

// startZooKeeper runs Debian's ZooKeeper (package zookeeper, which .ci/run
// installs) on a free port until the test ends, and returns host:port.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	java, err := exec.LookPath("java")
	jar := "/usr/share/java/zookeeper.jar"
	if _, statErr := os.Stat(jar); err != nil || statErr != nil {
		testenv.Unavailable(t, "ZooKeeper is not installed here (Debian: apt-get install zookeeper)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	cfg := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	classpath := []string{"/etc/zookeeper/conf"}
	for _, j := range []string{"zookeeper", "zookeeper-jute", "slf4j-api", "log4j-1.2", "netty", "metrics-core"} {
		classpath = append(classpath, "/usr/share/java/"+j+".jar")
	}
	cmd := exec.Command(java, "-cp", strings.Join(classpath, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ZooKeeper's log:\n%s", log.String())
		}
	})
	// A JVM on a loaded machine can take a while: wait for ZooKeeper to
	// answer "ruok" (up to a minute).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_, _ = c.Write([]byte("ruok"))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			b := make([]byte, 4)
			n, _ := c.Read(b)
			c.Close()
			if string(b[:n]) == "imok" {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ZooKeeper at %s did not start", addr)
		}
	}
}

// The master publishes itself in ZooKeeper as Mesos's do (a json.info_
// znode with MasterInfo in JSON, what Mesos-DNS and Marathon read); an
// agent and the operator client find it there.
func TestZooKeeperDiscovery(t *testing.T) {
	zkAddr := startZooKeeper(t)
	url := "zk://" + zkAddr + "/mesos"
	c := cluster.Start(t, cluster.Options{Agents: -1, Master: func(c *masterConfig) { c.ZK = url }})

	conn, _, err := gozk.Connect([]string{zkAddr}, 10*time.Second, gozk.WithLogger(noLog{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var nodes []string
	waitFor(t, "the master's znode", func() bool {
		nodes, _, _ = conn.Children("/mesos")
		return len(nodes) == 1
	})
	if !strings.HasPrefix(nodes[0], "json.info_") {
		t.Fatalf("znodes under /mesos: %v", nodes)
	}
	data, _, err := conn.Get("/mesos/" + nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Hostname string `json:"hostname"`
		Address  struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"address"`
	}
	if err := json.Unmarshal(data, &info); err != nil || net.JoinHostPort(info.Address.IP, fmt.Sprint(info.Address.Port)) != c.MasterAddr() || info.Hostname == "" {
		t.Fatalf("the znode's MasterInfo %s (%v), want the master at %s", data, err, c.MasterAddr())
	}
	if leader, err := zk.Leader(context.Background(), url); err != nil || leader != c.MasterAddr() {
		t.Fatalf("zk.Leader: %q %v", leader, err)
	}

	startAgentProcess(t, url, t.TempDir(), freeAddr(t))
	if err := c.WaitForAgents(1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	resp, err := (&client.Operator{Master: url}).Call(context.Background(), &masterpb.Call{Type: masterpb.Call_GET_AGENTS.Enum()})
	if err != nil || len(resp.GetGetAgents().GetAgents()) != 1 {
		t.Fatalf("GET_AGENTS through zk://: %v %v", resp, err)
	}
}

type noLog struct{}

func (noLog) Printf(string, ...any) {}
