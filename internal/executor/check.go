package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// checkResult is one general check's outcome (CheckInfo, not a health
// check: it is reported, never acted on).
type checkResult struct {
	task   string
	status *mesos.CheckStatusInfo
}

// runChecks runs a task's CheckInfo until ctx ends, as Mesos's checker
// does: after delay_seconds, every interval_seconds, each attempt bounded
// by timeout_seconds.
func runChecks(ctx context.Context, task string, ci *mesos.CheckInfo, sandbox string, out chan<- checkResult) {
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	select {
	case <-time.After(seconds(ci.GetDelaySeconds())):
	case <-ctx.Done():
		return
	}
	ticker := time.NewTicker(max(seconds(ci.GetIntervalSeconds()), 10*time.Millisecond))
	defer ticker.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, max(seconds(ci.GetTimeoutSeconds()), time.Millisecond))
		st := check(attempt, ci, sandbox)
		cancel()
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- checkResult{task: task, status: st}:
		case <-ctx.Done():
			return
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// check runs one check and says what it saw: a command's exit code, an
// HTTP status code, whether a TCP connection succeeded. A check that could
// not be run leaves its result unset, as Mesos does.
func check(ctx context.Context, ci *mesos.CheckInfo, sandbox string) *mesos.CheckStatusInfo {
	st := &mesos.CheckStatusInfo{Type: ci.Type}
	switch ci.GetType() {
	case mesos.CheckInfo_COMMAND:
		cmd := commandFor(ctx, ci.GetCommand().GetCommand(), sandbox)
		st.Command = &mesos.CheckStatusInfo_Command{}
		err := cmd.Run()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			st.Command.ExitCode = proto.Int32(0)
		case errors.As(err, &exitErr) && ctx.Err() == nil:
			st.Command.ExitCode = proto.Int32(int32(exitErr.ExitCode()))
		}
	case mesos.CheckInfo_HTTP:
		h := ci.GetHttp()
		st.Http = &mesos.CheckStatusInfo_Http{}
		url := fmt.Sprintf("http://%s%s", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(h.GetPort()))), h.GetPath())
		if req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil); err == nil {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				st.Http.StatusCode = proto.Uint32(uint32(resp.StatusCode))
			}
		}
	case mesos.CheckInfo_TCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ci.GetTcp().GetPort()))))
		if err == nil {
			conn.Close()
		}
		st.Tcp = &mesos.CheckStatusInfo_Tcp{Succeeded: proto.Bool(err == nil)}
	}
	return st
}

// commandFor prepares a CommandInfo's process: `sh -c value` for a shell
// command, else value run with arguments as its argv; in dir, with the
// executor's environment plus the command's.
func commandFor(ctx context.Context, c *mesos.CommandInfo, dir string) *exec.Cmd {
	var cmd *exec.Cmd
	if c.GetShell() {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", c.GetValue())
	} else {
		cmd = exec.CommandContext(ctx, c.GetValue())
		if len(c.GetArguments()) > 0 {
			cmd.Args = c.GetArguments()
		}
	}
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for _, v := range c.GetEnvironment().GetVariables() {
		if v.GetType() != mesos.Environment_Variable_SECRET {
			cmd.Env = append(cmd.Env, v.GetName()+"="+v.GetValue())
		}
	}
	return cmd
}
