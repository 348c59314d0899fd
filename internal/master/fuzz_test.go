package master

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/maintenance"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"
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
