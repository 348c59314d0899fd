package master

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plateau/plateau/internal/resources"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id      string
		wantErr string
	}{
		{"task-1", ""},
		{"a.b_c-d:e", ""},
		{"", "must not be empty"},
		{".", "not allowed"},
		{"..", "not allowed"},
		{"a/b", "invalid characters"},
		{"a\nb", "invalid characters"},
		{"a\x00b", "invalid characters"},
		{strings.Repeat("x", 256), "greater than 255"},
	}
	for _, tt := range tests {
		err := validateID(tt.id)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("validateID(%q) = %v, want error containing %q", tt.id, err, tt.wantErr)
		}
	}
}

func TestValidateRole(t *testing.T) {
	valid := []string{"*", "web", "eng/web", "a.b", "role-1"}
	invalid := []string{"", "/web", "web/", "eng//web", "eng/../web", ".", "-web", "eng/-x", "we b", "we*b", "a\tb"}
	for _, r := range valid {
		if err := validateRole(r); err != nil {
			t.Errorf("validateRole(%q) = %v, want nil", r, err)
		}
	}
	for _, r := range invalid {
		if err := validateRole(r); err == nil {
			t.Errorf("validateRole(%q) = nil, want an error", r)
		}
	}
}

func TestValidateFrameworkInfo(t *testing.T) {
	multi := []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}}
	tests := []struct {
		name    string
		info    *mesos.FrameworkInfo
		roles   string
		wantErr string
	}{
		{"default role", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n")}, "", ""},
		{"single role", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("web")}, "", ""},
		{"roles without MULTI_ROLE", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Roles: []string{"a"}}, "", "must not be set when the framework is not MULTI_ROLE"},
		{"role with MULTI_ROLE", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("a"), Capabilities: multi}, "", "must not be set when the framework is MULTI_ROLE"},
		{"duplicate roles", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Roles: []string{"a", "a"}, Capabilities: multi}, "", "duplicate"},
		{"invalid role", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("a b")}, "", "invalid role"},
		{"whitelist refuses", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("b")}, "a", "not present in the master's --roles"},
		{"whitelist admits", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("a")}, "a,c", ""},
		{"negative failover", &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), FailoverTimeout: proto.Float64(-1)}, "", "failover_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Master{cfg: Config{Roles: tt.roles}}
			err := m.validateFrameworkInfo(tt.info)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRefuseDuration(t *testing.T) {
	tests := []struct {
		f    *mesos.Filters
		want time.Duration
	}{
		{nil, 5 * time.Second},
		{&mesos.Filters{}, 5 * time.Second},
		{&mesos.Filters{RefuseSeconds: proto.Float64(0)}, 0},
		{&mesos.Filters{RefuseSeconds: proto.Float64(-3)}, 0},
		{&mesos.Filters{RefuseSeconds: proto.Float64(1.5)}, 1500 * time.Millisecond},
		{&mesos.Filters{RefuseSeconds: proto.Float64(1e12)}, 365 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := refuseDuration(tt.f); got != tt.want {
			t.Errorf("refuseDuration(%v) = %v, want %v", tt.f, got, tt.want)
		}
	}
}

// The fast agent renderer writes what the generic model does.
func TestAgentAppendJSONMatchesModel(t *testing.T) {
	rs, _ := resources.Parse("cpus:4;mem:1024;ports:[31000-31010]", "*")
	used, _ := resources.Parse("cpus:1;mem:24", "*")
	for _, attrs := range [][]*mesos.Attribute{nil, {{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}}}} {
		a := agentSnapshot{
			info: &mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String("S0")}, Hostname: proto.String("h"), Port: proto.Int32(5051),
				Resources: rs, Attributes: attrs},
			endpoint: "127.0.0.1:5051", version: "1.11.0", active: true,
			registered: time.Unix(100, 0), reregistered: time.Unix(200, 0), used: used.Allocate("*"),
		}
		if attrs != nil {
			a.drain = &mesos.DrainInfo{State: mesos.DrainState_DRAINING.Enum(), Config: &mesos.DrainConfig{MarkGone: proto.Bool(true)}}
		}
		var fast, slow any
		if err := json.Unmarshal(a.appendJSON(nil), &fast); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(a.model())
		json.Unmarshal(b, &slow)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("appendJSON = %v\nmodel      = %v", fast, slow)
		}
		if drain, _ := fast.(map[string]any)["drain_info"].(map[string]any); (a.drain != nil) != (drain["state"] == "DRAINING") {
			t.Fatalf("drain_info %v for an agent whose drain is %v", drain, a.drain)
		}
	}
}

func TestValidateTask(t *testing.T) {
	m := &Master{}
	fwInfo := &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("fw")}, User: proto.String("u"), Name: proto.String("n")}
	fw := &framework{id: "fw", info: fwInfo, tasks: map[string]*mesos.Task{"taken": {}}}
	a := &agent{id: "S0", executors: map[string]map[string]*mesos.ExecutorInfo{}}
	available, _ := resources.Parse("cpus:2;mem:1024", "*")
	small, _ := resources.Parse("cpus:1;mem:128", "*")
	big, _ := resources.Parse("cpus:4;mem:128", "*")
	task := func(mod func(*mesos.TaskInfo)) *mesos.TaskInfo {
		ti := &mesos.TaskInfo{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t1")},
			AgentId: &mesos.AgentID{Value: proto.String("S0")}, Resources: small, Command: &mesos.CommandInfo{Value: proto.String("true")}}
		if mod != nil {
			mod(ti)
		}
		return ti
	}
	tests := []struct {
		name    string
		ti      *mesos.TaskInfo
		wantErr string
	}{
		{"valid", task(nil), ""},
		{"bad id", task(func(ti *mesos.TaskInfo) { ti.TaskId.Value = proto.String("a/b") }), "invalid TaskID"},
		{"duplicate", task(func(ti *mesos.TaskInfo) { ti.TaskId.Value = proto.String("taken") }), "duplicate ID"},
		{"other agent", task(func(ti *mesos.TaskInfo) { ti.AgentId.Value = proto.String("S9") }), "invalid agent"},
		{"no command or executor", task(func(ti *mesos.TaskInfo) { ti.Command = nil }), "at least one"},
		{"both", task(func(ti *mesos.TaskInfo) { ti.Executor = &mesos.ExecutorInfo{} }), "not both"},
		{"no resources", task(func(ti *mesos.TaskInfo) { ti.Resources = nil }), "no resources"},
		{"too much", task(func(ti *mesos.TaskInfo) { ti.Resources = big }), "more resources"},
		{"negative grace", task(func(ti *mesos.TaskInfo) {
			ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(-1)}}
		}), "non-negative"},
		{"shell without value", task(func(ti *mesos.TaskInfo) { ti.Command.Value = nil }), "'value'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.validateTask(fw, a, tt.ti, available, resources.Resources(tt.ti.GetResources()))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
