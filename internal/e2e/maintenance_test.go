package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/allocator"
	"github.com/mesos/mesos-go/api/v1/lib/maintenance"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	schedcalls "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

// A framework receives an inverse offer for a machine scheduled for
// maintenance and accepts it; the machine goes down and its task ends;
// the machine comes back up and its agent is offered again.
func TestMaintenance(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			op := operator(c.MasterAddr(), codec)
			agents := operatorCall(t, op, &master.Call{Type: master.Call_GET_AGENTS}).GetGetAgents().Agents
			machine := mesos.MachineID{Hostname: ptr(agents[0].AgentInfo.Hostname), IP: ptr("127.0.0.1")}

			s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-maintenance"))
			offer := s.offer()
			s.call(launch(offer, commandTask("worker", offer, "sleep 1000")))
			s.expectStates("worker", mesos.TASK_STARTING, mesos.TASK_RUNNING)

			start := time.Now().Add(time.Hour)
			mustSend(t, op, calls.UpdateMaintenanceSchedule(maintenance.Schedule{Windows: []maintenance.Window{{
				MachineIDs:     []mesos.MachineID{machine},
				Unavailability: mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: start.UnixNano()}},
			}}}))
			inverse := s.next(scheduler.Event_INVERSE_OFFERS).GetInverseOffers().InverseOffers
			if len(inverse) != 1 || inverse[0].AgentID.Value != offer.AgentID.Value || inverse[0].Unavailability.Start.Nanoseconds != start.UnixNano() {
				t.Fatalf("inverse offers %v", inverse)
			}
			s.call(schedcalls.AcceptInverseOffers(inverse[0].OfferID))
			waitFor(t, "the framework's answer in the maintenance status", func() bool {
				st := operatorCall(t, op, calls.GetMaintenanceStatus()).GetGetMaintenanceStatus().Status
				return len(st.DrainingMachines) == 1 && len(st.DrainingMachines[0].Statuses) == 1 &&
					st.DrainingMachines[0].Statuses[0].GetStatus() == allocator.InverseOfferStatus_ACCEPT
			})
			if got := operatorCall(t, op, calls.GetMaintenanceSchedule()).GetGetMaintenanceSchedule().Schedule; len(got.Windows) != 1 {
				t.Fatalf("GET_MAINTENANCE_SCHEDULE: %v", got)
			}
			// Offers from a draining machine say when it goes away.
			s.call(schedcalls.Revive())
			if o := s.offer(); o.Unavailability == nil || o.Unavailability.Start.Nanoseconds != start.UnixNano() {
				t.Fatalf("offer from a draining machine without its unavailability: %v", o.Unavailability)
			}

			// A machine not in the schedule cannot go down.
			other := mesos.MachineID{Hostname: ptr("elsewhere")}
			if err := operatorSend(op, calls.StartMaintenance(other)); err == nil || !strings.Contains(err.Error(), "not part of a maintenance schedule") {
				t.Fatalf("START_MAINTENANCE of an unscheduled machine: %v", err)
			}
			mustSend(t, op, calls.StartMaintenance(machine))
			if st := s.terminal("worker"); st.GetState() != mesos.TASK_LOST {
				t.Fatalf("the task on a machine going down: %v, want TASK_LOST", st.GetState())
			}
			st := operatorCall(t, op, calls.GetMaintenanceStatus()).GetGetMaintenanceStatus().Status
			if len(st.DownMachines) != 1 || len(st.DrainingMachines) != 0 {
				t.Fatalf("status after START_MAINTENANCE: %v", st)
			}

			// Up again through the endpoint tools use; the agent registers again
			// and its resources are offered.
			resp, err := http.Post("http://"+c.MasterAddr()+"/master/machine/up", "application/json",
				bytes.NewBufferString(`[{"hostname":"`+*machine.Hostname+`","ip":"127.0.0.1"}]`))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("/master/machine/up: %v %v", resp, err)
			}
			resp.Body.Close()
			if err := c.WaitForAgents(1, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			s.call(schedcalls.Revive())
			if o := s.offer(); o.Unavailability != nil {
				t.Fatalf("an offer after the machine came up still carries unavailability: %v", o.Unavailability)
			}
			var sched struct {
				Windows []any `json:"windows"`
			}
			getJSON(t, "http://"+c.MasterAddr()+"/master/maintenance/schedule", &sched)
			if len(sched.Windows) != 0 {
				t.Fatalf("the machine is still scheduled after it came up: %v", sched)
			}
		})
	}
}
