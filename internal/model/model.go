// Package model renders Mesos records in the JSON layouts of Mesos's HTTP
// endpoints (src/common/http.cpp's model functions), shared by the master's
// and the agent's state endpoints.
package model

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/plateau/plateau/internal/api/codec"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// Task is Mesos's JSON model of a Task.
func Task(t *mesos.Task) map[string]any {
	statuses := make([]any, 0, len(t.GetStatuses()))
	for _, s := range t.GetStatuses() {
		st := map[string]any{"state": s.GetState().String(), "timestamp": s.GetTimestamp()}
		if s.Healthy != nil {
			st["healthy"] = s.GetHealthy()
		}
		statuses = append(statuses, st)
	}
	model := map[string]any{
		"id": t.GetTaskId().GetValue(), "name": t.GetName(), "framework_id": t.GetFrameworkId().GetValue(),
		"executor_id": t.GetExecutorId().GetValue(), "slave_id": t.GetAgentId().GetValue(),
		"state": t.GetState().String(), "resources": Resources(t.GetResources()), "statuses": statuses,
	}
	if rs := t.GetResources(); len(rs) > 0 && rs[0].GetAllocationInfo() != nil {
		model["role"] = rs[0].GetAllocationInfo().GetRole()
	}
	if t.User != nil {
		model["user"] = t.GetUser()
	}
	return model
}

// Resources is Mesos's JSON model of Resources: scalar totals by
// name (cpus, gpus, mem and disk always present) and ranges as text.
func Resources(rs []*mesos.Resource) map[string]any {
	model := map[string]any{"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
	ranges := map[string][]*mesos.Value_Range{}
	for _, r := range rs {
		switch r.GetType() {
		case mesos.Value_SCALAR:
			v, _ := model[r.GetName()].(float64)
			model[r.GetName()] = roundMilli(v + r.GetScalar().GetValue())
		case mesos.Value_RANGES:
			ranges[r.GetName()] = append(ranges[r.GetName()], r.GetRanges().GetRange()...)
		case mesos.Value_SET:
			model[r.GetName()] = "{" + strings.Join(r.GetSet().GetItem(), ",") + "}"
		}
	}
	for name, rs := range ranges {
		sort.Slice(rs, func(i, j int) bool { return rs[i].GetBegin() < rs[j].GetBegin() })
		parts := make([]string, len(rs))
		for i, r := range rs {
			parts[i] = fmt.Sprintf("%d-%d", r.GetBegin(), r.GetEnd())
		}
		model[name] = "[" + strings.Join(parts, ", ") + "]"
	}
	return model
}

func AttributeValue(a *mesos.Attribute) any {
	switch a.GetType() {
	case mesos.Value_SCALAR:
		return a.GetScalar().GetValue()
	case mesos.Value_RANGES:
		var parts []string
		for _, r := range a.GetRanges().GetRange() {
			parts = append(parts, fmt.Sprintf("%d-%d", r.GetBegin(), r.GetEnd()))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case mesos.Value_SET:
		return "{" + strings.Join(a.GetSet().GetItem(), ",") + "}"
	default:
		return a.GetText().GetValue()
	}
}

func roundMilli(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func Seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Proto turns a protobuf message into Mesos's JSON, as a value that
// encoding/json writes unchanged.
func Proto(m proto.Message) json.RawMessage {
	b, _ := codec.MarshalJSON(m)
	return b
}
