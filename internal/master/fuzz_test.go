package master

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/maintenance"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
)

// FuzzOperatorCall feeds the operator API arbitrary protobuf calls: no
// call, however malformed, may crash the master (calls that change
// state run on its loop, where a panic would take the master down).
func FuzzOperatorCall(f *testing.F) {
	agent := &mesos.AgentID{Value: proto.String("S0")}
	cpus := []*mesos.Resource{{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)},
		Reservations: []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String("r")}}}}
	for _, c := range []*masterpb.Call{
		{Type: masterpb.Call_GET_STATE.Enum()},
		{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{AgentId: agent, Resources: cpus}},
		{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum(), UnreserveResources: &masterpb.Call_UnreserveResources{AgentId: agent, Resources: cpus}},
		{Type: masterpb.Call_CREATE_VOLUMES.Enum(), CreateVolumes: &masterpb.Call_CreateVolumes{AgentId: agent, Volumes: cpus}},
		{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(), UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{
			Schedule: &maintenance.Schedule{Windows: []*maintenance.Window{{MachineIds: []*mesos.MachineID{{Hostname: proto.String("h")}},
				Unavailability: &mesos.Unavailability{Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(1)}}}}}}},
		{Type: masterpb.Call_START_MAINTENANCE.Enum(), StartMaintenance: &masterpb.Call_StartMaintenance{Machines: []*mesos.MachineID{{Ip: proto.String("1.2.3.4")}}}},
		{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{QuotaConfigs: []*quota.QuotaConfig{{Role: proto.String("r")}}}},
		{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{WeightInfos: []*mesos.WeightInfo{{Weight: proto.Float64(2), Role: proto.String("r")}}}},
		{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: &masterpb.Call_DrainAgent{AgentId: agent}},
		{Type: masterpb.Call_MARK_AGENT_GONE.Enum(), MarkAgentGone: &masterpb.Call_MarkAgentGone{AgentId: agent}},
		{Type: masterpb.Call_TEARDOWN.Enum(), Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}}},
		{Type: masterpb.Call_READ_FILE.Enum(), ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/x"), Offset: proto.Uint64(0)}},
		{Type: masterpb.Call_LIST_FILES.Enum(), ListFiles: &masterpb.Call_ListFiles{Path: proto.String("/")}},
		{Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &masterpb.Call_SetLoggingLevel{Level: proto.Uint32(1),
			Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(1)}}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	m := emulatedMaster(f, 3, 2, 6)
	f.Fuzz(func(t *testing.T, body []byte) {
		var call masterpb.Call
		if proto.Unmarshal(body, &call) != nil || call.GetType() == masterpb.Call_SUBSCRIBE {
			return // undecodable calls get a 400 before any handler; SUBSCRIBE streams
		}
		req := httptest.NewRequest("POST", "/api/v1", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		m.serveOperator(w, req)
		if w.Code == 500 { // 501 (an unknown call, as Mesos) and 503 (no leader) are answers
			t.Fatalf("%v: status %d: %s", &call, w.Code, w.Body.String())
		}
	})
}

// FuzzSchedulerCall feeds a subscribed framework's scheduler API
// arbitrary calls. They are handled on the master's loop, where a panic
// would take the master down. An ACCEPT is pointed at an offer the
// framework holds, so that its operations reach launch validation.
func FuzzSchedulerCall(f *testing.F) {
	offer := &mesos.OfferID{Value: proto.String("o")}
	task := &mesos.TaskInfo{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")}, AgentId: &mesos.AgentID{Value: proto.String("a")},
		Resources: []*mesos.Resource{{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.1)}}},
		Command:   &mesos.CommandInfo{Value: proto.String("true")}}
	for _, c := range []*scheduler.Call{
		{Type: scheduler.Call_ACCEPT.Enum(), Accept: &scheduler.Call_Accept{OfferIds: []*mesos.OfferID{offer}, Operations: []*mesos.Offer_Operation{
			{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{task}}}}}},
		{Type: scheduler.Call_ACCEPT.Enum(), Accept: &scheduler.Call_Accept{OfferIds: []*mesos.OfferID{offer}, Operations: []*mesos.Offer_Operation{
			{Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(), LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
				Executor:  &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Type: mesos.ExecutorInfo_DEFAULT.Enum()},
				TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{task}}}},
			{Type: mesos.Offer_Operation_RESERVE.Enum(), Reserve: &mesos.Offer_Operation_Reserve{Resources: task.Resources}}}}},
		{Type: scheduler.Call_DECLINE.Enum(), Decline: &scheduler.Call_Decline{OfferIds: []*mesos.OfferID{offer}}},
		{Type: scheduler.Call_KILL.Enum(), Kill: &scheduler.Call_Kill{TaskId: task.TaskId}},
		{Type: scheduler.Call_ACKNOWLEDGE.Enum(), Acknowledge: &scheduler.Call_Acknowledge{AgentId: task.AgentId, TaskId: task.TaskId, Uuid: make([]byte, 16)}},
		{Type: scheduler.Call_RECONCILE.Enum(), Reconcile: &scheduler.Call_Reconcile{Tasks: []*scheduler.Call_Reconcile_Task{{TaskId: task.TaskId}}}},
		{Type: scheduler.Call_REVIVE.Enum(), Revive: &scheduler.Call_Revive{Roles: []string{"r"}}},
		{Type: scheduler.Call_SUPPRESS.Enum()},
		{Type: scheduler.Call_MESSAGE.Enum(), Message: &scheduler.Call_Message{AgentId: task.AgentId, ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Data: []byte("x")}},
		{Type: scheduler.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &scheduler.Call_UpdateFramework{
			FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Roles: []string{"r"}}}},
	} {
		c.FrameworkId = &mesos.FrameworkID{Value: proto.String("f")}
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	m := emulatedMaster(f, 3, 2, 6)
	var fwID string
	if err := m.do(context.Background(), func() {
		sub, err := m.subscribe(&scheduler.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("fuzz")}}, "s")
		if err != nil {
			f.Fatal(err)
		}
		fwID = sub.frameworkID
		// The scheduler reads its events.
		go sub.events.Drain(nil, func(*scheduler.Event) error { return nil }, nil)
	}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var call scheduler.Call
		if proto.Unmarshal(body, &call) != nil {
			return // undecodable calls get a 400 before any handler
		}
		if t := call.GetType(); t == scheduler.Call_SUBSCRIBE || t == scheduler.Call_TEARDOWN {
			return // SUBSCRIBE streams; TEARDOWN would end the framework
		}
		call.FrameworkId = &mesos.FrameworkID{Value: proto.String(fwID)}
		if call.GetAccept() != nil && len(call.GetAccept().GetOfferIds()) > 0 {
			_ = m.do(context.Background(), func() {
				for id := range m.frameworks[fwID].offers {
					call.Accept.OfferIds[0] = &mesos.OfferID{Value: proto.String(id)}
					break
				}
			})
		}
		body, err := proto.Marshal(&call)
		if err != nil {
			return
		}
		req := httptest.NewRequest("POST", "/api/v1/scheduler", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Mesos-Stream-Id", "s")
		w := httptest.NewRecorder()
		m.serveScheduler(w, req)
		if w.Code == 500 {
			t.Fatalf("%v: status 500: %s", &call, w.Body.String())
		}
	})
}
