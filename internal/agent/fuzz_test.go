package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	agentpb "github.com/plateau/plateau/internal/api/mesos/v1/agent"
)

// FuzzOperatorCall feeds the agent's operator API arbitrary calls, but
// those that start processes or stream: none may crash the agent.
func FuzzOperatorCall(f *testing.F) {
	container := &mesos.ContainerID{Value: proto.String("c"), Parent: &mesos.ContainerID{Value: proto.String("p")}}
	for _, c := range []*agentpb.Call{
		{Type: agentpb.Call_GET_STATE.Enum()},
		{Type: agentpb.Call_GET_CONTAINERS.Enum(), GetContainers: &agentpb.Call_GetContainers{ShowNested: proto.Bool(true)}},
		{Type: agentpb.Call_GET_METRICS.Enum(), GetMetrics: &agentpb.Call_GetMetrics{}},
		{Type: agentpb.Call_READ_FILE.Enum(), ReadFile: &agentpb.Call_ReadFile{Path: proto.String("/slave/log"), Offset: proto.Uint64(0)}},
		{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String("/")}},
		{Type: agentpb.Call_WAIT_NESTED_CONTAINER.Enum(), WaitNestedContainer: &agentpb.Call_WaitNestedContainer{ContainerId: container}},
		{Type: agentpb.Call_KILL_NESTED_CONTAINER.Enum(), KillNestedContainer: &agentpb.Call_KillNestedContainer{ContainerId: container}},
		{Type: agentpb.Call_REMOVE_NESTED_CONTAINER.Enum(), RemoveNestedContainer: &agentpb.Call_RemoveNestedContainer{ContainerId: container}},
		{Type: agentpb.Call_KILL_CONTAINER.Enum(), KillContainer: &agentpb.Call_KillContainer{ContainerId: container}},
		{Type: agentpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &agentpb.Call_SetLoggingLevel{Level: proto.Uint32(0),
			Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(1)}}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	cfg := DefaultConfig()
	cfg.IP, cfg.Port, cfg.WorkDir, cfg.Master = "127.0.0.1", 0, f.TempDir(), "127.0.0.1:1" // no master: the API works alone
	cfg.Resources, cfg.Isolation = "cpus:1;mem:64", "posix/cpu"
	a, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go a.Run(ctx)
	f.Fuzz(func(t *testing.T, body []byte) {
		var call agentpb.Call
		if proto.Unmarshal(body, &call) != nil {
			return // undecodable calls get a 400 before any handler
		}
		switch call.GetType() {
		case agentpb.Call_LAUNCH_NESTED_CONTAINER, agentpb.Call_LAUNCH_NESTED_CONTAINER_SESSION, agentpb.Call_LAUNCH_CONTAINER,
			agentpb.Call_ATTACH_CONTAINER_INPUT, agentpb.Call_ATTACH_CONTAINER_OUTPUT:
			return // they start processes or stream
		}
		req := httptest.NewRequest("POST", "/api/v1", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		a.serveOperator(w, req)
		if w.Code == 500 {
			t.Fatalf("%v: status 500: %s", &call, w.Body.String())
		}
	})
}
