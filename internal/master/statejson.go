package master

// The JSON of the state's agents and frameworks, in Mesos's layouts
// (src/master/readonly_handler.cpp): rendered straight into bytes for the
// state cache, and as maps for the smaller endpoints.

import (
	"encoding/json"
	"strconv"
	"unsafe"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/model"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/taskstate"
)

// appendJSON appends a framework's model, its lists rendered directly.
func (f frameworkSnapshot) appendJSON(b []byte) []byte {
	fb, _ := json.Marshal(f.model()) // maps of strings, numbers and bools
	if b == nil {                    // most of a framework is its tasks: size for them
		b = make([]byte, 0, len(fb)+taskJSONSize*(len(f.tasks)+len(f.completedTasks)+len(f.unreachableTasks)))
	}
	b = append(b, fb[:len(fb)-1]...)
	for _, list := range f.lists() {
		b = append(b, `,"`...)
		b = append(b, list.key...)
		b = append(b, `":[`...)
		b = list.append(b)
		b = append(b, ']')
	}
	return append(b, '}')
}

// taskJSONSize is about the size of a task's JSON with one status.
const taskJSONSize = 512

// fingerprint identifies what appendJSON renders (see stateCache).
func (f frameworkSnapshot) fingerprint() uint64 {
	var fp fingerprint
	addShared(&fp, 10, f.tasks)
	addShared(&fp, 20, f.completedTasks)
	addEach(&fp, 30, f.unreachableTasks)
	addEach(&fp, 40, f.offers)
	fp.add(50, uint64(len(f.executors)))
	for _, e := range f.executors {
		fp.addPtr(51, unsafe.Pointer(e.info))
	}
	fp.addPtr(60, unsafe.Pointer(f.info))
	fp.addBool(70, f.active)
	fp.addBool(80, f.connected)
	fp.addTime(90, f.registered)
	fp.addTime(100, f.reregistered)
	fp.addTime(110, f.unregistered)
	return uint64(fp)
}

// usedAndOffered lists the resources of a framework's live tasks and
// executors, and of its offers (not summed).
func (f frameworkSnapshot) usedAndOffered() (used, offered []*mesos.Resource) {
	for _, t := range f.tasks {
		if !taskstate.IsTerminal(t.GetState()) {
			used = append(used, t.GetResources()...)
		}
	}
	for _, e := range f.executors {
		used = append(used, e.info.GetResources()...)
	}
	for _, o := range f.offers {
		offered = append(offered, o.GetResources()...)
	}
	return used, offered
}

// model is a framework's JSON model without its lists (tasks, completed
// and unreachable tasks, offers and executors: see lists).
func (f frameworkSnapshot) model() map[string]any {
	used, offered := f.usedAndOffered()
	var caps []string
	for _, c := range f.info.GetCapabilities() {
		caps = append(caps, c.GetType().String())
	}
	i := f.info
	out := map[string]any{
		"id": i.GetId().GetValue(), "name": i.GetName(), "user": i.GetUser(), "hostname": i.GetHostname(),
		"webui_url": i.GetWebuiUrl(), "principal": i.GetPrincipal(), "role": i.GetRole(), "roles": nonNilStrings(frameworkRoles(i)),
		"failover_timeout": i.GetFailoverTimeout(), "checkpoint": i.GetCheckpoint(), "capabilities": nonNilStrings(caps),
		"active": f.active, "connected": f.connected, "recovered": false,
		"registered_time": model.Seconds(f.registered), "unregistered_time": model.Seconds(f.unregistered),
		"used_resources": model.Resources(used), "offered_resources": model.Resources(offered), "resources": model.Resources(append(used[:len(used):len(used)], offered...)),
	}
	if !f.reregistered.IsZero() {
		out["reregistered_time"] = model.Seconds(f.reregistered)
	}
	if labels := i.GetLabels().GetLabels(); len(labels) > 0 {
		list := make([]any, 0, len(labels))
		for _, l := range labels {
			list = append(list, model.Proto(l))
		}
		out["labels"] = list
	}
	return out
}

// frameworkList is one of a framework's lists in its model, rendered by
// appending its elements.
type frameworkList struct {
	key    string
	append func([]byte) []byte
}

func (f frameworkSnapshot) lists() []frameworkList {
	return []frameworkList{
		{"tasks", func(b []byte) []byte { return appendTasks(b, f.tasks) }},
		{"completed_tasks", func(b []byte) []byte { return appendTasks(b, f.completedTasks) }},
		{"unreachable_tasks", func(b []byte) []byte { return appendTasks(b, f.unreachableTasks) }},
		{"offers", f.appendOffers},
		{"executors", f.appendExecutors},
	}
}

// appendOffers appends the elements of a framework's "offers".
func (f frameworkSnapshot) appendOffers(b []byte) []byte {
	for i, o := range f.offers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"allocation_info":{"role":`...)
		b = codec.AppendString(b, o.GetAllocationInfo().GetRole())
		b = append(b, `},"framework_id":`...)
		b = codec.AppendString(b, o.GetFrameworkId().GetValue())
		b = append(b, `,"id":`...)
		b = codec.AppendString(b, o.GetId().GetValue())
		b = append(b, `,"resources":`...)
		b = model.AppendResources(b, o.GetResources())
		b = append(b, `,"slave_id":`...)
		b = codec.AppendString(b, o.GetAgentId().GetValue())
		b = append(b, '}')
	}
	return b
}

// appendExecutors appends the elements of a framework's "executors".
func (f frameworkSnapshot) appendExecutors(b []byte) []byte {
	for i, e := range f.executors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"executor_id":`...)
		b = codec.AppendString(b, e.info.GetExecutorId().GetValue())
		b = append(b, `,"framework_id":`...)
		b = codec.AppendString(b, e.info.GetFrameworkId().GetValue())
		b = append(b, `,"name":`...)
		b = codec.AppendString(b, e.info.GetName())
		b = append(b, `,"resources":`...)
		b = model.AppendResources(b, e.info.GetResources())
		b = append(b, `,"slave_id":`...)
		b = codec.AppendString(b, e.agentID)
		b = append(b, '}')
	}
	return b
}

func (a agentSnapshot) model() map[string]any {
	i := a.info
	attrs := map[string]any{}
	for _, at := range i.GetAttributes() {
		attrs[at.GetName()] = model.AttributeValue(at)
	}
	out := map[string]any{
		"id": i.GetId().GetValue(), "pid": "slave(1)@" + a.endpoint, "hostname": i.GetHostname(), "port": i.GetPort(),
		"registered_time": model.Seconds(a.registered), "resources": model.Resources(a.total),
		"used_resources": model.Resources(a.used), "offered_resources": model.Resources(a.offered),
		"reserved_resources": reservedModel(a.total), "unreserved_resources": model.Resources(a.total.Unreserved()),
		"reserved_resources_full": reservedFull(a.total),
		"attributes":              attrs, "active": a.active, "deactivated": a.deactivated, "version": a.version,
		"capabilities": []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
	}
	if !a.reregistered.IsZero() {
		out["reregistered_time"] = model.Seconds(a.reregistered)
	}
	if a.drain != nil {
		out["drain_info"] = model.Proto(a.drain)
	}
	return out
}

// fingerprint identifies what appendJSON renders (see stateCache).
func (a agentSnapshot) fingerprint() uint64 {
	var f fingerprint
	f.addPtr(10, unsafe.Pointer(a.info))
	addShared(&f, 20, a.total)
	addShared(&f, 30, a.used)
	addEach(&f, 40, a.offered)
	f.addBool(50, a.active)
	f.addBool(60, a.deactivated)
	f.addTime(70, a.registered)
	f.addTime(80, a.reregistered)
	f.addString(90, a.endpoint)
	f.addString(100, a.version)
	f.addPtr(110, unsafe.Pointer(a.drain))
	return uint64(f)
}

// appendJSON appends an agent's model without building maps (10,000 of
// them make up much of /master/state); it renders what model does.
func (a agentSnapshot) appendJSON(b []byte) []byte {
	i := a.info
	str := func(key, v string) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		b = codec.AppendString(b, v)
	}
	b = append(b, `{"id":`...)
	b = codec.AppendString(b, i.GetId().GetValue())
	str("pid", "slave(1)@"+a.endpoint)
	str("hostname", i.GetHostname())
	str("version", a.version)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(i.GetPort()), 10)
	b = append(b, `,"registered_time":`...)
	b = strconv.AppendFloat(b, model.Seconds(a.registered), 'f', -1, 64)
	if !a.reregistered.IsZero() {
		b = append(b, `,"reregistered_time":`...)
		b = strconv.AppendFloat(b, model.Seconds(a.reregistered), 'f', -1, 64)
	}
	b = append(b, `,"resources":`...)
	b = model.AppendResources(b, a.total)
	b = append(b, `,"unreserved_resources":`...)
	if unreserved := a.total.Unreserved(); len(unreserved) == len(a.total) {
		b = model.AppendResources(b, a.total)
		b = append(b, `,"reserved_resources":{},"reserved_resources_full":{}`...)
	} else {
		b = model.AppendResources(b, unreserved)
		b = append(b, `,"reserved_resources":`...)
		rb, _ := json.Marshal(reservedModel(a.total))
		b = append(b, rb...)
		b = append(b, `,"reserved_resources_full":`...)
		rb, _ = json.Marshal(reservedFull(a.total))
		b = append(b, rb...)
	}
	b = append(b, `,"used_resources":`...)
	b = model.AppendResources(b, a.used)
	b = append(b, `,"offered_resources":`...)
	b = model.AppendResources(b, a.offered)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, a.active)
	b = append(b, `,"deactivated":`...)
	b = strconv.AppendBool(b, a.deactivated)
	b = append(b, `,"capabilities":["MULTI_ROLE","HIERARCHICAL_ROLE","RESERVATION_REFINEMENT"],"attributes":`...)
	if len(i.GetAttributes()) == 0 {
		b = append(b, "{}"...)
	} else {
		attrs := map[string]any{}
		for _, at := range i.GetAttributes() {
			attrs[at.GetName()] = model.AttributeValue(at)
		}
		ab, _ := json.Marshal(attrs)
		b = append(b, ab...)
	}
	if a.drain != nil {
		b = append(b, `,"drain_info":`...)
		b = append(b, model.Proto(a.drain)...)
	}
	return append(b, '}')
}

// reservedByRole groups reserved resources by the role they are
// reserved for.
func reservedByRole(rs resources.Resources) map[string]resources.Resources {
	out := map[string]resources.Resources{}
	for _, r := range rs {
		if role := resources.ReservationRole(r); role != "*" {
			out[role] = append(out[role], r)
		}
	}
	return out
}

// reservedModel is Mesos's "reserved_resources": role to summed resources.
func reservedModel(rs resources.Resources) map[string]any {
	out := map[string]any{}
	for role, r := range reservedByRole(rs) {
		out[role] = model.Resources(r)
	}
	return out
}

// reservedFull is Mesos's "reserved_resources_full": role to the
// Resource objects, in Mesos's JSON.
func reservedFull(rs resources.Resources) map[string]any {
	out := map[string]any{}
	for role, r := range reservedByRole(rs) {
		list := make([]any, 0, len(r))
		for _, res := range r {
			list = append(list, model.Proto(res))
		}
		out[role] = list
	}
	return out
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
