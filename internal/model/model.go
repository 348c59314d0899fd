// Package model renders Mesos records in the JSON layouts of Mesos's HTTP
// endpoints (src/common/http.cpp's model functions), shared by the master's
// and the agent's state endpoints.
package model

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
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
	// The four common scalars are summed in locals: this runs for every
	// task, framework and agent of /master/state.
	var cpus, gpus, mem, disk float64
	model := map[string]any{}
	var ranges map[string][]*mesos.Value_Range
	for _, r := range rs {
		switch r.GetType() {
		case mesos.Value_SCALAR:
			v := r.GetScalar().GetValue()
			switch r.GetName() {
			case "cpus":
				cpus += v
			case "gpus":
				gpus += v
			case "mem":
				mem += v
			case "disk":
				disk += v
			default:
				old, _ := model[r.GetName()].(float64)
				model[r.GetName()] = roundMilli(old + v)
			}
		case mesos.Value_RANGES:
			if ranges == nil {
				ranges = map[string][]*mesos.Value_Range{}
			}
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
	model["cpus"], model["gpus"], model["mem"], model["disk"] = roundMilli(cpus), roundMilli(gpus), roundMilli(mem), roundMilli(disk)
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

// AppendTask appends Task's JSON model (the same as Task renders) to b
// without building maps: /master/state renders many thousands of tasks.
func AppendTask(b []byte, t *mesos.Task) []byte {
	b = append(b, `{"id":`...)
	b = codec.AppendString(b, t.GetTaskId().GetValue())
	b = append(b, `,"name":`...)
	b = codec.AppendString(b, t.GetName())
	b = append(b, `,"framework_id":`...)
	b = codec.AppendString(b, t.GetFrameworkId().GetValue())
	b = append(b, `,"executor_id":`...)
	b = codec.AppendString(b, t.GetExecutorId().GetValue())
	b = append(b, `,"slave_id":`...)
	b = codec.AppendString(b, t.GetAgentId().GetValue())
	b = append(b, `,"state":`...)
	b = codec.AppendString(b, t.GetState().String())
	b = append(b, `,"resources":`...)
	b = AppendResources(b, t.GetResources())
	b = append(b, `,"statuses":[`...)
	for i, s := range t.GetStatuses() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"state":`...)
		b = codec.AppendString(b, s.GetState().String())
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendFloat(b, s.GetTimestamp(), 'f', -1, 64)
		if s.Healthy != nil {
			b = append(b, `,"healthy":`...)
			b = strconv.AppendBool(b, s.GetHealthy())
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if rs := t.GetResources(); len(rs) > 0 && rs[0].GetAllocationInfo() != nil {
		b = append(b, `,"role":`...)
		b = codec.AppendString(b, rs[0].GetAllocationInfo().GetRole())
	}
	if t.User != nil {
		b = append(b, `,"user":`...)
		b = codec.AppendString(b, t.GetUser())
	}
	return append(b, '}')
}

// AppendResources appends Resources' JSON model to b.
func AppendResources(b []byte, rs []*mesos.Resource) []byte {
	var cpus, gpus, mem, disk float64
	var other map[string]any
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			switch r.GetName() {
			case "cpus":
				cpus += r.GetScalar().GetValue()
				continue
			case "gpus":
				gpus += r.GetScalar().GetValue()
				continue
			case "mem":
				mem += r.GetScalar().GetValue()
				continue
			case "disk":
				disk += r.GetScalar().GetValue()
				continue
			}
		}
		other = Resources(rs) // rare: fall back to the general model
		break
	}
	if other != nil {
		out, _ := json.Marshal(other)
		return append(b, out...)
	}
	b = append(b, `{"cpus":`...)
	b = strconv.AppendFloat(b, roundMilli(cpus), 'f', -1, 64)
	b = append(b, `,"disk":`...)
	b = strconv.AppendFloat(b, roundMilli(disk), 'f', -1, 64)
	b = append(b, `,"gpus":`...)
	b = strconv.AppendFloat(b, roundMilli(gpus), 'f', -1, 64)
	b = append(b, `,"mem":`...)
	b = strconv.AppendFloat(b, roundMilli(mem), 'f', -1, 64)
	return append(b, '}')
}
