// Package model renders Mesos records in the JSON layouts of Mesos's HTTP
// endpoints (src/common/http.cpp's model functions), shared by the master's
// and the agent's state endpoints.
package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plateau/plateau/internal/api/codec"
	"github.com/plateau/plateau/internal/resources"
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
// name (cpus, gpus, mem and disk always present), ranges and sets as text.
func Resources(rs []*mesos.Resource) map[string]any {
	var buf [8]summaryEntry
	model := map[string]any{}
	for _, e := range summarize(rs, buf[:0]) {
		if e.typ == mesos.Value_SCALAR {
			model[e.name] = roundMilli(e.scalar)
		} else {
			model[e.name] = e.text()
		}
	}
	return model
}

// summaryEntry is one key of the resources model: the resources of a
// name, summed.
type summaryEntry struct {
	name   string
	typ    mesos.Value_Type
	scalar float64
	ranges []*mesos.Value_Range
	set    []string
}

// summarize sums resources by name into entries (appended to buf), sorted
// by name. The four common scalars are always there; this runs for every
// task, framework and agent of /master/state, so it avoids maps.
func summarize(rs []*mesos.Resource, buf []summaryEntry) []summaryEntry {
	entries := append(buf, summaryEntry{name: "cpus"}, summaryEntry{name: "disk"}, summaryEntry{name: "gpus"}, summaryEntry{name: "mem"})
	sorted := true
	for _, r := range rs {
		if t := r.GetType(); t != mesos.Value_SCALAR && t != mesos.Value_RANGES && t != mesos.Value_SET {
			continue
		}
		var e *summaryEntry
		switch name := r.GetName(); name {
		case "cpus":
			e = &entries[0]
		case "disk":
			e = &entries[1]
		case "gpus":
			e = &entries[2]
		case "mem":
			e = &entries[3]
		default:
			for i := 4; i < len(entries); i++ {
				if entries[i].name == name {
					e = &entries[i]
					break
				}
			}
			if e == nil {
				sorted = sorted && name > entries[len(entries)-1].name
				entries = append(entries, summaryEntry{name: name, typ: r.GetType()})
				e = &entries[len(entries)-1]
			}
		}
		if e.typ != r.GetType() { // a name of two types: the last one wins
			*e = summaryEntry{name: e.name, typ: r.GetType()}
		}
		switch r.GetType() {
		case mesos.Value_SCALAR:
			e.scalar += r.GetScalar().GetValue()
		case mesos.Value_RANGES:
			if e.ranges == nil { // the record's own list, clipped: the next append copies it
				e.ranges = slices.Clip(r.GetRanges().GetRange())
			} else {
				e.ranges = append(e.ranges, r.GetRanges().GetRange()...)
			}
		case mesos.Value_SET:
			e.set = r.GetSet().GetItem()
		}
	}
	if !sorted {
		slices.SortFunc(entries, func(a, b summaryEntry) int { return strings.Compare(a.name, b.name) })
	}
	return entries
}

// text is a ranges or set entry's text: "[1-2, 5-9]" or "{a,b}".
func (e *summaryEntry) text() string {
	if e.typ == mesos.Value_SET {
		return "{" + strings.Join(e.set, ",") + "}"
	}
	return string(e.appendRanges(nil))
}

// appendRanges appends a ranges entry's text, which needs no escaping in
// JSON, its ranges merged as adding Mesos's Resources merges them.
func (e *summaryEntry) appendRanges(b []byte) []byte {
	b = append(b, '[')
	for i, r := range resources.CoalesceRanges(e.ranges) {
		if i > 0 {
			b = append(b, ',', ' ')
		}
		b = strconv.AppendUint(b, r.GetBegin(), 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, r.GetEnd(), 10)
	}
	return append(b, ']')
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
	var buf [8]summaryEntry
	b = append(b, '{')
	for i, e := range summarize(rs, buf[:0]) {
		if i > 0 {
			b = append(b, ',')
		}
		b = codec.AppendString(b, e.name)
		b = append(b, ':')
		switch e.typ {
		case mesos.Value_SCALAR:
			b = strconv.AppendFloat(b, roundMilli(e.scalar), 'f', -1, 64)
		case mesos.Value_RANGES:
			b = append(e.appendRanges(append(b, '"')), '"')
		default:
			b = codec.AppendString(b, e.text())
		}
	}
	return append(b, '}')
}
