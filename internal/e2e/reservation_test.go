package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/apierrors"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	mastercalls "github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/plateau/plateau/internal/cluster"
)

// dynamic returns r (taken from an offer, so allocated to its role)
// reserved for role by principal.
func dynamic(r mesos.Resource, role, principal string) mesos.Resource {
	r.Reservations = append(append([]mesos.Resource_ReservationInfo(nil), r.Reservations...), mesos.Resource_ReservationInfo{
		Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: ptr(role), Principal: ptr(principal)})
	return r
}

// take returns amount of the named scalar from an offer, with the offer's
// metadata, from resources reserved for role ("" for unreserved ones).
func take(t *testing.T, offer mesos.Offer, name string, amount float64, role string) mesos.Resource {
	t.Helper()
	for _, r := range offer.Resources {
		if r.Name != name || r.GetScalar() == nil || r.GetDisk().GetPersistence() != nil {
			continue
		}
		have := ""
		if n := len(r.Reservations); n > 0 {
			have = r.Reservations[n-1].GetRole()
		}
		if have == role && r.GetScalar().Value >= amount {
			r.Scalar = &mesos.Value_Scalar{Value: amount}
			return r
		}
	}
	t.Fatalf("offer has no %v %s reserved for %q: %v", amount, name, role, offer.Resources)
	return mesos.Resource{}
}

// volumeIn finds a persistent volume in an offer.
func volumeIn(offer mesos.Offer, id string) (mesos.Resource, bool) {
	for _, r := range offer.Resources {
		if p := r.GetDisk().GetPersistence(); p != nil && p.ID == id {
			return r, true
		}
	}
	return mesos.Resource{}, false
}

func withID(op mesos.Offer_Operation, id string) mesos.Offer_Operation {
	op.ID = &mesos.OperationID{Value: id}
	return op
}

// accept runs operations on an offer and takes the rest back at once.
func (s *sched) accept(offer mesos.Offer, ops ...mesos.Offer_Operation) {
	s.t.Helper()
	s.call(calls.Accept(calls.OfferOperations(ops).WithOffers(offer.ID)).With(calls.RefuseSeconds(0)))
}

// operation waits for an operation's status, acknowledging it.
func (s *sched) operation(id string) mesos.OperationStatus {
	s.t.Helper()
	for {
		st := s.next(scheduler.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().Status
		if st.OperationID == nil || st.OperationID.Value != id {
			continue
		}
		if st.UUID != nil {
			s.call(calls.AcknowledgeOperationStatus(st.GetAgentID().GetValue(), "", st.UUID.Value, id))
		}
		return st
	}
}

// offerWith waits for an offer that satisfies ok, declining the others.
func (s *sched) offerWith(ok func(mesos.Offer) bool) mesos.Offer {
	s.t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for time.Now().Before(deadline) {
		o := s.offer()
		s.t.Logf("offer %s: %v", o.ID.Value, resourcesString(o.Resources))
		if ok(o) {
			return o
		}
		s.call(calls.Decline(o.ID).With(calls.RefuseSeconds(0)))
	}
	s.t.Fatal("no suitable offer")
	return mesos.Offer{}
}

// RESERVE then CREATE a volume, write a file into it from one task, read
// it from the next task after the agent was SIGKILLed and the master
// restarted; DESTROY and UNRESERVE give the resources back.
func TestPersistentVolumeLifecycle(t *testing.T) {
	masterDir := t.TempDir()
	c := cluster.Start(t, cluster.Options{Agents: -1, Master: func(c *masterConfig) { c.WorkDir = masterDir }})
	workDir, addr := t.TempDir(), freeAddr(t)
	agent := startAgentProcess(t, c.MasterAddr(), workDir, addr)
	if err := c.WaitForAgents(1, 20*time.Second); err != nil {
		t.Fatal(err, agent.log.String())
	}
	info := frameworkInfo("e2e-volumes")
	info.Role, info.Principal = ptr("db"), ptr("db-principal")
	info.Checkpoint, info.FailoverTimeout = ptr(true), ptr(3600.0)
	s := subscribe(t, c.MasterAddr(), codecs.ByMediaType[codecs.MediaTypeJSON], info)
	s.keepOffers = true

	offer := s.offer()
	reserved := []mesos.Resource{
		dynamic(take(t, offer, "cpus", 1, ""), "db", "db-principal"),
		dynamic(take(t, offer, "mem", 128, ""), "db", "db-principal"),
		dynamic(take(t, offer, "disk", 64, ""), "db", "db-principal"),
	}
	s.accept(offer, withID(calls.OpReserve(reserved...), "reserve"))
	if st := s.operation("reserve"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("RESERVE: %v (%s)", st.State, st.GetMessage())
	}

	offer = s.offerWith(func(o mesos.Offer) bool { return len(o.Resources) > 0 })
	vol := take(t, offer, "disk", 64, "db")
	vol.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{ID: "vol-1", Principal: ptr("db-principal")},
		Volume:      &mesos.Volume{ContainerPath: "data", Mode: mesos.RW.Enum()},
	}
	// A volume on unreserved disk is refused, with the reason.
	bad := take(t, offer, "disk", 16, "")
	bad.Disk = vol.Disk
	s.accept(offer, withID(calls.OpCreate(bad), "bad-create"), withID(calls.OpCreate(vol), "create"))
	if st := s.operation("bad-create"); st.State != mesos.OPERATION_ERROR || st.GetMessage() == "" {
		t.Fatalf("CREATE on unreserved disk: %v (%q)", st.State, st.GetMessage())
	}
	if st := s.operation("create"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("CREATE: %v (%s)", st.State, st.GetMessage())
	}

	offer = s.offerWith(func(o mesos.Offer) bool { _, ok := volumeIn(o, "vol-1"); return ok })
	vol, _ = volumeIn(offer, "vol-1")
	writer := commandTask("writer", offer, "echo persisted > data/file")
	writer.Resources = append([]mesos.Resource{take(t, offer, "cpus", 0.5, "db"), take(t, offer, "mem", 64, "db")}, vol)
	s.accept(offer, calls.OpLaunch(writer))
	if st := s.terminal("writer"); st.GetState() != mesos.TASK_FINISHED {
		t.Fatalf("writer: %v (%s)", st.GetState(), st.GetMessage())
	}
	volumeDir := filepath.Join(workDir, "volumes", "roles", "db", "vol-1")
	if b, err := os.ReadFile(filepath.Join(volumeDir, "file")); err != nil || string(b) != "persisted\n" {
		t.Fatalf("volume data: %q, %v", b, err)
	}

	// The agent dies and comes back; the master restarts; the framework
	// subscribes again. The volume is still offered to its role.
	agent.kill()
	agent = startAgentProcess(t, c.MasterAddr(), workDir, addr)
	if err := c.RestartMaster(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForAgents(1, 20*time.Second); err != nil {
		t.Fatal(err, agent.log.String())
	}
	info.ID = &mesos.FrameworkID{Value: s.id}
	s = subscribe(t, c.MasterAddr(), codecs.ByMediaType[codecs.MediaTypeJSON], info)
	s.keepOffers = true
	offer = s.offerWith(func(o mesos.Offer) bool { _, ok := volumeIn(o, "vol-1"); return ok })
	vol, _ = volumeIn(offer, "vol-1")
	reader := commandTask("reader", offer, `test "$(cat data/file)" = persisted`)
	reader.Resources = append([]mesos.Resource{take(t, offer, "cpus", 0.5, "db"), take(t, offer, "mem", 64, "db")}, vol)
	s.accept(offer, calls.OpLaunch(reader))
	if st := s.terminal("reader"); st.GetState() != mesos.TASK_FINISHED {
		t.Fatalf("reader did not find the file: %v (%s)", st.GetState(), st.GetMessage())
	}

	offer = s.offerWith(func(o mesos.Offer) bool { _, ok := volumeIn(o, "vol-1"); return ok })
	vol, _ = volumeIn(offer, "vol-1")
	s.accept(offer, withID(calls.OpDestroy(vol), "destroy"))
	if st := s.operation("destroy"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("DESTROY: %v (%s)", st.State, st.GetMessage())
	}
	waitFor(t, "the destroyed volume's data to be deleted", func() bool {
		_, err := os.Stat(volumeDir)
		return os.IsNotExist(err)
	})

	// Unreserve what the offers hold until nothing is reserved (the
	// reserved resources may come in more than one offer).
	for i := 0; len(reservedOnAgents(t, c.MasterAddr())) > 0; i++ {
		offer = s.offerWith(func(o mesos.Offer) bool { return len(reservedIn(o)) > 0 })
		id := fmt.Sprint("unreserve-", i)
		s.accept(offer, withID(calls.OpUnreserve(reservedIn(offer)...), id))
		if st := s.operation(id); st.State != mesos.OPERATION_FINISHED {
			t.Fatalf("UNRESERVE: %v (%s)", st.State, st.GetMessage())
		}
	}
}

func reservedIn(o mesos.Offer) []mesos.Resource {
	var out []mesos.Resource
	for _, r := range o.Resources {
		if len(r.Reservations) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// reservedOnAgents is the first agent's reserved_resources in
// /master/slaves, by role.
func reservedOnAgents(t *testing.T, masterAddr string) map[string]map[string]any {
	var slaves struct {
		Slaves []struct {
			Reserved map[string]map[string]any `json:"reserved_resources"`
		} `json:"slaves"`
	}
	getJSON(t, "http://"+masterAddr+"/master/slaves", &slaves)
	if len(slaves.Slaves) == 0 {
		t.Fatal("/master/slaves lists no agent")
	}
	return slaves.Slaves[0].Reserved
}

// The operator reserves resources for a role and creates a volume: only
// that role's framework is offered them; bad requests get 400 and
// requests for resources that are not there 409.
func TestOperatorReservations(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{Resources: "cpus:2;mem:1024;disk:1024"})
			op := operator(c.MasterAddr(), codec)
			var agentID string
			for _, a := range operatorCall(t, op, &master.Call{Type: master.Call_GET_AGENTS}).GetGetAgents().Agents {
				agentID = a.AgentInfo.ID.Value
			}
			reserve := func(rs ...mesos.Resource) *master.Call {
				return &master.Call{Type: master.Call_RESERVE_RESOURCES, ReserveResources: &master.Call_ReserveResources{
					AgentID: mesos.AgentID{Value: agentID}, Resources: rs}}
			}
			forWeb := func(r mesos.Resource) mesos.Resource {
				r.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: ptr("web"), Principal: ptr("ops")}}
				return r
			}
			mustSend(t, op, reserve(forWeb(scalar("cpus", 1)), forWeb(scalar("disk", 100))))
			if err := operatorSend(op, reserve(forWeb(scalar("cpus", 5)))); !apierrors.Code(409).Matches(err) {
				t.Fatalf("reserving more than the agent has: %v, want 409", err)
			}
			if err := operatorSend(op, reserve(scalar("cpus", 1))); !apierrors.Code(400).Matches(err) {
				t.Fatalf("reserving without a reservation: %v, want 400", err)
			}
			vol := forWeb(scalar("disk", 100))
			vol.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{ID: "web-data"},
				Volume: &mesos.Volume{ContainerPath: "data", Mode: mesos.RW.Enum()}}
			mustSend(t, op, &master.Call{Type: master.Call_CREATE_VOLUMES, CreateVolumes: &master.Call_CreateVolumes{
				AgentID: mesos.AgentID{Value: agentID}, Volumes: []mesos.Resource{vol}}})

			if web := reservedOnAgents(t, c.MasterAddr())["web"]; web["cpus"] != 1.0 || web["disk"] != 100.0 {
				t.Fatalf("/master/slaves reserved_resources: %v", web)
			}

			other := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-other"))
			for _, r := range other.offer().Resources {
				if len(r.Reservations) > 0 {
					t.Fatalf("role * was offered resources reserved for web: %v", r)
				}
			}
			info := frameworkInfo("e2e-web")
			info.Role = ptr("web")
			web := subscribe(t, c.MasterAddr(), encodings[0], info)
			offer := web.offer()
			if _, ok := volumeIn(offer, "web-data"); !ok {
				t.Fatalf("web was not offered its volume: %v", offer.Resources)
			}
			web.call(calls.Decline(offer.ID).With(calls.RefuseSeconds(60)))

			// GROW_VOLUME with more reserved disk, then SHRINK_VOLUME.
			vol.AllocationInfo = nil
			mustSend(t, op, reserve(forWeb(scalar("disk", 50))))
			mustSend(t, op, mastercalls.GrowVolume(&mesos.AgentID{Value: agentID}, vol, forWeb(scalar("disk", 50))))
			vol.Scalar = &mesos.Value_Scalar{Value: 150}
			mustSend(t, op, mastercalls.ShrinkVolume(&mesos.AgentID{Value: agentID}, vol, mesos.Value_Scalar{Value: 100}))
			vol.Scalar = &mesos.Value_Scalar{Value: 50}
			if web := reservedOnAgents(t, c.MasterAddr())["web"]; web["disk"] != 150.0 {
				t.Fatalf("reserved disk after growing and shrinking the volume: %v", web)
			}
			mustSend(t, op, &master.Call{Type: master.Call_DESTROY_VOLUMES, DestroyVolumes: &master.Call_DestroyVolumes{
				AgentID: mesos.AgentID{Value: agentID}, Volumes: []mesos.Resource{vol}}})
			mustSend(t, op, &master.Call{Type: master.Call_UNRESERVE_RESOURCES, UnreserveResources: &master.Call_UnreserveResources{
				AgentID: mesos.AgentID{Value: agentID}, Resources: []mesos.Resource{forWeb(scalar("cpus", 1)), forWeb(scalar("disk", 150))}}})
			if reserved := reservedOnAgents(t, c.MasterAddr()); len(reserved) != 0 {
				t.Fatalf("reserved after UNRESERVE_RESOURCES: %v", reserved)
			}
		})
	}
}

// operatorSend makes an operator call that answers 202 with no body.
func operatorSend(s mastercalls.Sender, c *master.Call) error {
	resp, err := s.Send(context.Background(), mastercalls.NonStreaming(c))
	if resp != nil {
		resp.Close()
	}
	return err
}

func mustSend(t *testing.T, s mastercalls.Sender, c *master.Call) {
	t.Helper()
	if err := operatorSend(s, c); err != nil {
		t.Fatalf("%v: %v", c.Type, err)
	}
}

func resourcesString(rs []mesos.Resource) string {
	return fmt.Sprint(mesos.Resources(rs))
}
