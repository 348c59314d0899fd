package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

func TestMain(m *testing.M) {
	cluster.RunIfExecutor()
	os.Exit(m.Run())
}

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	return code, stdout.String(), stderr.String()
}

func TestBadInvocations(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		message string
	}{
		{"no command", nil, nil, 2, ""},
		{"unknown command", nil, []string{"fly"}, 2, `unknown command "fly"`},
		{"unknown flag", nil, []string{"master", "--nope"}, 2, "flag provided but not defined: -nope"},
		{"bad port", nil, []string{"master", "--port", "70000"}, 2, "--port 70000 is not a port number"},
		{"bad ip", nil, []string{"master", "--ip", "nowhere"}, 2, `--ip "nowhere" is not an IP address`},
		{"bad env", map[string]string{"PLATEAU_PORT": "x"}, []string{"master"}, 2, "PLATEAU_PORT"},
		{"bad duration", nil, []string{"master", "--offer_timeout", "soon"}, 2, "invalid value"},
		{"agent without master", nil, []string{"agent", "--work_dir", "/tmp/x"}, 2, "--master is required"},
		{"agent without work dir", nil, []string{"agent", "--master", "127.0.0.1:5050"}, 2, "--work_dir is required"},
		{"agent bad resources", nil, []string{"agent", "--master", "127.0.0.1:5050", "--work_dir", "/tmp/x", "--resources", "cpus:lots"}, 2, "not a number"},
		{"bad logging level", nil, []string{"master", "--logging_level", "LOUD", "--port", "0"}, 2, "--logging_level"},
		{"run without command", nil, []string{"run"}, 2, "no command given"},
		{"executor outside an agent", nil, []string{"executor"}, 2, "MESOS_FRAMEWORK_ID"},
		{"unknown benchmark", nil, []string{"bench", "everything"}, 2, "unknown benchmark"},
		{"bad min allocatable", nil, []string{"master", "--min_allocatable_resources", "cpus:1|ports:[1-2]"}, 2, `"ports:[1-2]" names no scalar resource`},
		{"bad weights", nil, []string{"master", "--weights", "prod=-1"}, 2, "must be a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.message) {
				t.Fatalf("exit %d, stderr %q; want exit %d and a message with %q", code, stderr, tt.code, tt.message)
			}
		})
	}
}

func TestBenchHelpListsTheBenchmarks(t *testing.T) {
	code, stdout, _ := run(t, nil, "bench", "--help")
	if code != 0 || !strings.Contains(stdout, "launch|allocator|containerizer|state|failover") {
		t.Fatalf("bench --help: exit %d, %q; want exit 0 and the benchmarks' names", code, stdout)
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	for _, cmd := range []string{"master", "agent", "dev", "run"} {
		code, stdout, _ := run(t, nil, cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "PLATEAU_") {
			t.Fatalf("%s --help: exit %d, %q", cmd, code, stdout)
		}
		for _, flag := range map[string][]string{
			"master": {"-ip", "-port", "-work_dir", "-offer_timeout", "-hostname"},
			"agent":  {"-master", "-resources", "-attributes", "-work_dir", "-port"},
			"dev":    {"-work_dir", "-master_port", "-agent_port"},
			"run":    {"-master", "-cpus", "-mem"},
		}[cmd] {
			if !strings.Contains(stdout, flag+" ") {
				t.Errorf("%s --help does not explain %s", cmd, flag)
			}
		}
	}
	if code, stdout, _ := run(t, nil, "master", "--help"); code != 0 || !strings.Contains(stdout, "default 5050") {
		t.Fatalf("master --help does not give Mesos's default port: %q", stdout)
	}
}

// plateau run streams the task's output and exits with its exit code.
func TestRunStreamsOutputAndExitCode(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	code, stdout, stderr := run(t, nil, "run", "--master", c.MasterAddr(), "--", "sh", "-c", "echo out-$MESOS_TASK_ID | cut -c1-7; echo to-stderr >&2; exit 3")
	if code != 3 {
		t.Fatalf("exit code %d, want the task's 3; stderr:\n%s", code, stderr)
	}
	if strings.TrimSpace(stdout) != "out-run" {
		t.Fatalf("stdout %q, want the task's output", stdout)
	}
	if !strings.Contains(stderr, "to-stderr") || !strings.Contains(stderr, "TASK_FAILED") {
		t.Fatalf("stderr %q lacks the task's stderr or its state", stderr)
	}
	code, stdout, _ = run(t, nil, "run", "--master", c.MasterAddr(), "--cpus", "0.2", "--env", "GREETING=hi", "--", "echo $GREETING")
	if code != 0 || strings.TrimSpace(stdout) != "hi" {
		t.Fatalf("shell command: exit %d stdout %q", code, stdout)
	}
}

func TestRunNeedsAMaster(t *testing.T) {
	code, _, stderr := run(t, nil, "run", "--master", "127.0.0.1:1", "--", "true")
	if code != 1 || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q; want exit 1 naming the master", code, stderr)
	}
}

// --log_dir: the master's log goes to a file there too, which the master
// serves at /master/log through LIST_FILES and READ_FILE.
func TestMasterLogDir(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		code := Main(ctx, []string{"master", "--ip", "127.0.0.1", "--port", "0", "--log_dir", dir},
			Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
		done <- code
	}()
	defer func() { cancel(); <-done }()
	logFile := filepath.Join(dir, "plateau-master.log")
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(logFile)
		if m := regexp.MustCompile(`msg="master started".* addr=(\S+)`).FindSubmatch(b); m != nil {
			addr = string(m[1])
		}
	}
	if addr == "" {
		t.Fatalf("no 'master started' line with its address in %s", logFile)
	}
	op := &client.Operator{Master: addr}
	resp, err := op.Call(context.Background(), &masterpb.Call{Type: masterpb.Call_LIST_FILES.Enum(),
		ListFiles: &masterpb.Call_ListFiles{Path: proto.String("/master/log")}})
	if err != nil || len(resp.GetListFiles().GetFileInfos()) != 1 || resp.GetListFiles().GetFileInfos()[0].GetSize() == 0 {
		t.Fatalf("LIST_FILES /master/log: %v %v", resp, err)
	}
	resp, err = op.Call(context.Background(), &masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(),
		ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/master/log"), Offset: proto.Uint64(0)}})
	if err != nil || !strings.Contains(string(resp.GetReadFile().GetData()), "master started") {
		t.Fatalf("READ_FILE /master/log: %v %v", resp, err)
	}
	if _, err := op.Call(context.Background(), &masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(),
		ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/nowhere"), Offset: proto.Uint64(0)}}); !client.IsStatus(err, 404) {
		t.Fatalf("READ_FILE of an unknown path: %v, want 404", err)
	}
}
