package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/plateau/plateau/internal/cluster"
)

// Malformed or misdirected scheduler calls get Mesos's HTTP status and a
// readable message, and change nothing.
func TestBadSchedulerCalls(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[1], frameworkInfo("e2e-victim"))
	url := "http://" + c.MasterAddr() + "/api/v1/scheduler"
	before := masterState(t, c.MasterAddr())

	post := func(contentType, streamID, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if streamID != "" {
			req.Header.Set("Mesos-Stream-Id", streamID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	const json = "application/json"
	fw := `"framework_id":{"value":"` + s.id + `"}`
	tests := []struct {
		name, contentType, streamID, body string
		status                            int
		msg                               string
	}{
		{"malformed JSON", json, "", `{"type":`, 400, "Failed to parse"},
		{"malformed protobuf", "application/x-protobuf", "", "\xff\xff\xff", 400, "Failed to parse"},
		{"no content type", "", "", `{}`, 400, "Content-Type"},
		{"unsupported content type", "text/plain", "", `{}`, 415, "application/json"},
		{"unknown call type", json, "", `{"type":"FLY",` + fw + `}`, 400, "'type'"},
		{"missing framework id", json, "", `{"type":"REVIVE"}`, 400, "framework_id"},
		{"missing body of call", json, "x", `{"type":"ACCEPT",` + fw + `}`, 400, "'accept'"},
		{"no stream id", json, "", `{"type":"REVIVE",` + fw + `}`, 400, "Mesos-Stream-Id"},
		{"wrong stream id", json, "not-the-stream", `{"type":"TEARDOWN",` + fw + `}`, 400, "didn't match"},
		{"unknown framework", json, "x", `{"type":"REVIVE","framework_id":{"value":"nobody"}}`, 400, "Framework cannot be found"},
		{"subscribe with stream id", json, "x", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`, 400, "Mesos-Stream-Id"},
		{"subscribe without user", json, "", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}}`, 400, "user"},
		{"invalid role", json, "", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","role":"a b"}}}`, 400, "role"},
		{"bad ack uuid", json, "x", `{"type":"ACKNOWLEDGE",` + fw + `,"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAEC"}}`, 400, "uuid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := post(tt.contentType, tt.streamID, tt.body)
			if status != tt.status || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %d %q, want %d with a message mentioning %q", status, msg, tt.status, tt.msg)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("GET: %d Allow=%q, want 405 Allow=POST", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("Accept not acceptable", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`)))
		req.Header.Set("Content-Type", json)
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotAcceptable {
			t.Fatalf("status %d, want 406", resp.StatusCode)
		}
	})

	// Nothing changed: the victim is still subscribed and gets offers.
	after := masterState(t, c.MasterAddr())
	if len(after.Frameworks) != len(before.Frameworks) || len(after.CompletedFrameworks) != 0 || len(after.Slaves) != 1 {
		t.Fatalf("state changed: before %+v after %+v", before, after)
	}
	offer := s.offer()
	s.call(launch(offer, commandTask("still-works", offer, "true")))
	if st := s.update("still-works"); st.GetState().String() != "TASK_STARTING" {
		t.Fatalf("after bad calls the framework's task went %v", st.GetState())
	}
}

// Invalid tasks end as TASK_ERROR (or TASK_LOST for invalid offers) with
// a reason, never as a crash.
func TestInvalidTasks(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-invalid"))
	offer := s.offer()
	big := commandTask("too-big", offer, "true")
	big.Resources[0] = scalar("cpus", 1000)
	noCommand := commandTask("no-command", offer, "true")
	noCommand.Command = nil
	badID := commandTask("bad/id", offer, "true")
	ok := commandTask("ok", offer, "true")
	dup := commandTask("ok", offer, "true")
	s.call(launch(offer, big, noCommand, badID, ok, dup))
	want := map[string]string{"too-big": "more resources", "no-command": "CommandInfo or ExecutorInfo", "bad/id": "invalid TaskID", "ok": "duplicate ID"}
	for len(want) > 0 {
		st := s.next(scheduler.Event_UPDATE).GetUpdate().Status
		if len(st.UUID) > 0 {
			s.call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
		}
		id := st.TaskID.Value
		if st.GetState() != mesos.TASK_ERROR {
			if id != "ok" {
				t.Fatalf("invalid task %s went %v", id, st.GetState())
			}
			continue // the first "ok" is valid and runs
		}
		if st.GetReason() != mesos.REASON_TASK_INVALID || !strings.Contains(st.GetMessage(), want[id]) {
			t.Fatalf("task %s: %v %q, want REASON_TASK_INVALID mentioning %q", id, st.GetReason(), st.GetMessage(), want[id])
		}
		delete(want, id)
	}
	// Reusing an offer that was already used: TASK_LOST, REASON_INVALID_OFFERS.
	s.call(launch(offer, commandTask("late", offer, "true")))
	st := s.update("late")
	if st.GetState() != mesos.TASK_LOST || st.GetReason() != mesos.REASON_INVALID_OFFERS {
		t.Fatalf("task on a used offer: %v %v %q", st.GetState(), st.GetReason(), st.GetMessage())
	}
}
