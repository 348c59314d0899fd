package e2e

import (
	"context"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/apierrors"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/quota"

	"github.com/plateau/plateau/internal/cluster"
)

// coveredElsewhere lists the operator calls whose protocol tests, in both
// encodings, live in other files.
var coveredElsewhere = map[master.Call_Type]string{
	master.Call_GET_HEALTH: "TestOperatorAPI", master.Call_GET_VERSION: "TestOperatorAPI", master.Call_GET_METRICS: "TestOperatorAPI",
	master.Call_GET_LOGGING_LEVEL: "TestOperatorAPI", master.Call_SET_LOGGING_LEVEL: "TestOperatorAPI", master.Call_GET_STATE: "TestOperatorAPI",
	master.Call_GET_AGENTS: "TestOperatorAPI", master.Call_GET_TASKS: "TestOperatorAPI", master.Call_GET_ROLES: "TestOperatorAPI",
	master.Call_GET_MASTER: "TestOperatorAPI", master.Call_SUBSCRIBE: "TestOperatorAPI", master.Call_TEARDOWN: "TestOperatorAPI",
	master.Call_RESERVE_RESOURCES: "TestOperatorReservations", master.Call_UNRESERVE_RESOURCES: "TestOperatorReservations",
	master.Call_CREATE_VOLUMES: "TestOperatorReservations", master.Call_DESTROY_VOLUMES: "TestOperatorReservations",
	master.Call_GROW_VOLUME: "TestOperatorReservations", master.Call_SHRINK_VOLUME: "TestOperatorReservations",
	master.Call_GET_MAINTENANCE_STATUS: "TestMaintenance", master.Call_GET_MAINTENANCE_SCHEDULE: "TestMaintenance",
	master.Call_UPDATE_MAINTENANCE_SCHEDULE: "TestMaintenance", master.Call_START_MAINTENANCE: "TestMaintenance",
	master.Call_STOP_MAINTENANCE: "TestMaintenance", master.Call_SET_QUOTA: "TestDeprecatedQuotaCalls",
	master.Call_REMOVE_QUOTA: "TestDeprecatedQuotaCalls",
}

// Every other operator call, in both encodings, through mesos-go's
// operator client: it answers as Mesos would, with a response of its own
// type for the calls that return one.
func TestOperatorCallsBothEncodings(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			op := operator(c.MasterAddr(), codec)
			agents := operatorCall(t, op, calls.GetAgents()).GetGetAgents().Agents
			agentID := *agents[0].AgentInfo.ID
			s := subscribe(t, c.MasterAddr(), codec, frameworkInfo("e2e-calls"))
			offer := s.offer()
			s.call(launch(offer, commandTask("t1", offer, "sleep 1000")))
			s.expectStates("t1", mesos.TASK_STARTING, mesos.TASK_RUNNING)

			tests := []struct {
				call  *master.Call
				code  int // the error status expected, 0 for success
				check func(*master.Response) bool
			}{
				{calls.GetFlags(), 0, func(r *master.Response) bool { return len(r.GetGetFlags().Flags) > 5 }},
				{calls.GetFrameworks(), 0, func(r *master.Response) bool {
					f := r.GetGetFrameworks().Frameworks
					return len(f) == 1 && f[0].FrameworkInfo.Name == "e2e-calls"
				}},
				{calls.GetExecutors(), 0, func(r *master.Response) bool { return r.GetGetExecutors() != nil }},
				{calls.GetOperations(), 0, func(r *master.Response) bool { return r.GetGetOperations() != nil }},
				{calls.UpdateWeights(mesos.WeightInfo{Role: ptr("ops"), Weight: 2.5}), 0, nil},
				{calls.GetWeights(), 0, func(r *master.Response) bool {
					for _, w := range r.GetGetWeights().WeightInfos {
						if w.GetRole() == "ops" && w.Weight == 2.5 {
							return true
						}
					}
					return false
				}},
				{&master.Call{Type: master.Call_UPDATE_QUOTA, UpdateQuota: &master.Call_UpdateQuota{
					QuotaConfigs: []quota.QuotaConfig{{Role: "ops", Limits: map[string]mesos.Value_Scalar{"cpus": {Value: 1}}}}}}, 0, nil},
				{calls.GetQuota(), 0, func(r *master.Response) bool {
					cfgs := r.GetGetQuota().Status.Configs
					return len(cfgs) == 1 && cfgs[0].Role == "ops"
				}},
				{calls.ListFiles("/no/such/path"), 404, nil},
				{calls.ReadFile("/no/such/path", 0), 404, nil},
				{calls.DeactivateAgent(agentID), 0, nil},
				{calls.ReactivateAgent(agentID), 0, nil},
				{calls.DeactivateAgent(mesos.AgentID{Value: "no-such-agent"}), 404, nil},
				{calls.DrainAgent(agentID), 0, nil},
				{calls.MarkAgentGone(agentID), 0, nil},
				{calls.MarkAgentGone(mesos.AgentID{Value: "no-such-agent"}), 404, nil},
			}
			for _, tt := range tests {
				resp, err := op.Send(context.Background(), calls.NonStreaming(tt.call))
				if tt.code != 0 {
					if !apierrors.Code(tt.code).Matches(err) {
						t.Errorf("%v: %v, want %d", tt.call.Type, err, tt.code)
					}
					continue
				}
				if err != nil {
					t.Errorf("%v: %v", tt.call.Type, err)
					continue
				}
				if tt.check == nil {
					if resp != nil {
						resp.Close()
					}
					continue
				}
				var r master.Response
				decodeErr := resp.Decode(&r)
				resp.Close()
				if decodeErr != nil || r.Type.String() != tt.call.Type.String() || !tt.check(&r) {
					t.Errorf("%v: response %v (%v)", tt.call.Type, &r, decodeErr)
				}
			}
			// The task ends: killed by the drain, or, if the agent was marked
			// gone first, TASK_LOST (the framework is not PARTITION_AWARE).
			if st := s.terminal("t1"); st.GetState() != mesos.TASK_LOST && st.GetState() != mesos.TASK_KILLED {
				t.Fatalf("task on a drained, gone agent: %v", st.GetState())
			}
		})
	}
}

// Every operator call of Mesos 1.11 has a protocol test.
func TestEveryOperatorCallIsTested(t *testing.T) {
	tested := map[master.Call_Type]bool{master.Call_UNKNOWN: true}
	for ct := range coveredElsewhere {
		tested[ct] = true
	}
	for _, ct := range []master.Call_Type{master.Call_GET_FLAGS, master.Call_GET_FRAMEWORKS, master.Call_GET_EXECUTORS,
		master.Call_GET_OPERATIONS, master.Call_UPDATE_WEIGHTS, master.Call_GET_WEIGHTS, master.Call_UPDATE_QUOTA, master.Call_GET_QUOTA,
		master.Call_LIST_FILES, master.Call_READ_FILE, master.Call_DEACTIVATE_AGENT, master.Call_REACTIVATE_AGENT,
		master.Call_DRAIN_AGENT, master.Call_MARK_AGENT_GONE} {
		tested[ct] = true
	}
	for v, name := range master.Call_Type_name {
		if !tested[master.Call_Type(v)] {
			t.Errorf("operator call %s has no protocol test", name)
		}
	}
}
