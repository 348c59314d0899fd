package e2e

import (
	"context"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"google.golang.org/protobuf/proto"

	mesospb "github.com/plateau/plateau/internal/api/mesos/v1"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

// offeredRole is the role an offer is made to (its resources'
// allocation_info.role).
func offeredRole(t *testing.T, o mesos.Offer) string {
	t.Helper()
	role := ""
	for _, r := range o.Resources {
		if r.AllocationInfo == nil || r.AllocationInfo.Role == nil {
			t.Fatalf("offered resource without allocation_info.role: %v", r)
		}
		if role != "" && *r.AllocationInfo.Role != role {
			t.Fatalf("one offer for two roles: %v", o.Resources)
		}
		role = *r.AllocationInfo.Role
	}
	return role
}

func sumScalar(rs []mesos.Resource, name string, reserved bool) float64 {
	v := 0.0
	for _, r := range rs {
		if r.Name == name && (len(r.Reservations) > 0) == reserved {
			v += r.GetScalar().Value
		}
	}
	return v
}

// A MULTI_ROLE framework is offered resources per role, each offer
// carrying its role; resources reserved for one role are offered to that
// role only; a task launched from an offer runs in its role.
func TestMultiRoleFramework(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Resources: "cpus:2;mem:1024;cpus(b):1;mem(b):256"})
	info := frameworkInfo("e2e-multi-role")
	info.Roles = []string{"a", "b"}
	info.Capabilities = []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE}}
	s := subscribe(t, c.MasterAddr(), encodings[1], info)
	s.keepOffers = true
	// Offers to a must never hold b's reservation. b takes its reserved
	// resources for a task and then suppresses its offers, so that a is
	// offered the rest.
	var task mesos.TaskInfo
	seenA := false
	for !seenA || task.AgentID.Value == "" {
		o := s.offer()
		switch role := offeredRole(t, o); {
		case role == "a":
			if got := sumScalar(o.Resources, "cpus", true); got != 0 {
				t.Fatalf("role a was offered %v cpus reserved for b", got)
			}
			seenA = true
			s.call(calls.Decline(o.ID).With(calls.RefuseSeconds(0)))
		case role == "b" && task.AgentID.Value == "" && sumScalar(o.Resources, "cpus", true) == 1:
			task = commandTask("in-b", o, "sleep 1000")
			task.Resources = []mesos.Resource{take(t, o, "cpus", 1, "b"), take(t, o, "mem", 64, "b")}
			s.call(calls.Accept(calls.OfferOperations{calls.OpLaunch(task)}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
			s.call(calls.SuppressWith([]string{"b"}))
		default:
			s.call(calls.Decline(o.ID).With(calls.RefuseSeconds(0)))
		}
	}
	s.expectStates("in-b", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	var fws struct {
		Frameworks []struct {
			Roles []string `json:"roles"`
			Tasks []struct {
				Role string `json:"role"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	getJSON(t, "http://"+c.MasterAddr()+"/master/frameworks", &fws)
	if len(fws.Frameworks) != 1 || len(fws.Frameworks[0].Roles) != 2 || len(fws.Frameworks[0].Tasks) != 1 || fws.Frameworks[0].Tasks[0].Role != "b" {
		t.Fatalf("/master/frameworks: %+v", fws)
	}
	s.call(calls.Kill("in-b", task.AgentID.Value))
	if st := s.terminal("in-b"); st.GetState() != mesos.TASK_KILLED {
		t.Fatalf("kill: %v", st.GetState())
	}
}

// Two frameworks in two roles: prod has resources statically reserved on
// the agent, dev has a quota limit. dev is never offered prod's
// reservation nor more than its limit; prod gets its reservation and the
// unreserved rest.
func TestTwoRolesWithQuotaAndReservations(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Resources: "cpus:4;mem:4096;cpus(prod):2;mem(prod):1024"})
	op := &client.Operator{Master: c.MasterAddr()}
	if _, err := op.Call(context.Background(), &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{
		QuotaConfigs: []*quota.QuotaConfig{{Role: proto.String("dev"),
			Limits: map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(1)}}}}}}); err != nil {
		t.Fatal(err)
	}
	devInfo := frameworkInfo("e2e-dev")
	devInfo.Role = ptr("dev")
	dev := subscribe(t, c.MasterAddr(), encodings[0], devInfo)
	devOffer := dev.offer()
	if offeredRole(t, devOffer) != "dev" || sumScalar(devOffer.Resources, "cpus", false) != 1 || sumScalar(devOffer.Resources, "cpus", true) != 0 {
		t.Fatalf("dev (limit 1 cpu, no reservation) was offered %v", devOffer.Resources)
	}
	task := commandTask("dev-task", devOffer, "sleep 1000")
	task.Resources = []mesos.Resource{scalar("cpus", 1), scalar("mem", 64)}
	dev.call(launch(devOffer, task))
	dev.expectStates("dev-task", mesos.TASK_STARTING, mesos.TASK_RUNNING)

	prodInfo := frameworkInfo("e2e-prod")
	prodInfo.Role = ptr("prod")
	prod := subscribe(t, c.MasterAddr(), encodings[1], prodInfo)
	prodOffer := prod.offer()
	if sumScalar(prodOffer.Resources, "cpus", true) != 2 || sumScalar(prodOffer.Resources, "cpus", false) != 3 {
		t.Fatalf("prod was offered %v, want its 2 reserved cpus and the 3 unreserved ones dev does not use", prodOffer.Resources)
	}
	// dev, at its limit, gets nothing more, even when prod declines.
	prod.call(calls.Decline(prodOffer.ID).With(calls.RefuseSeconds(3600)))
	dev.call(calls.Revive())
	// Several allocation cycles (every 100 ms here) pass without an offer.
	dev.noEvent(scheduler.Event_OFFERS, time.Second)
}
