package master

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/queue"
	"github.com/plateau/plateau/internal/resources"
)

// EmulateLoad fills the master with emulated agents (whose links discard
// what the master sends) and frameworks with running tasks spread over
// them, as if they had registered and launched. It exists for `plateau
// bench state`, to measure the master at a scale one machine cannot run.
func (m *Master) EmulateLoad(ctx context.Context, agents, frameworks, tasks int) error {
	total, err := resources.Parse("cpus:64;mem:262144;disk:1000000;ports:[31000-32000]", "*")
	if err != nil {
		return err
	}
	taskRes, _ := resources.Parse("cpus:0.1;mem:32", "*")
	return m.do(ctx, func() {
		ids := make([]*agent, 0, agents)
		for i := range agents {
			link := &agentLink{out: queue.New[*plateaupb.MasterMessage]()}
			link.out.Close() // messages to emulated agents go nowhere
			reg := &plateaupb.RegisterAgent{
				AgentInfo: &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("emulated-%05d", i)), Resources: total},
				Version:   proto.String("emulated"), Endpoint: proto.String(fmt.Sprintf("10.0.%d.%d:5051", i/250, i%250)),
			}
			id, err := m.registerAgent(reg, link)
			if err != nil {
				return
			}
			ids = append(ids, m.agents[id])
		}
		now := time.Now()
		fws := make([]*framework, frameworks)
		for i := range fws {
			info := &mesos.FrameworkInfo{User: proto.String("bench"), Name: proto.String(fmt.Sprintf("emulated-%d", i)),
				Id: &mesos.FrameworkID{Value: proto.String(fmt.Sprintf("%s-e%04d", m.info.GetId(), i))}}
			fw := newFramework(info.GetId().GetValue(), now)
			m.setFrameworkInfo(fw, info)
			m.frameworks[fw.id] = fw
			m.alloc.AddFramework(fw.id, allocatorFramework(info), nil, false)
			fws[i] = fw
		}
		for i := range tasks {
			fw, a := fws[i%frameworks], ids[i%agents]
			res := taskRes.Allocate("*")
			t := &mesos.Task{
				Name: proto.String(fmt.Sprintf("task-%d", i)), TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("task-%06d", i))},
				FrameworkId: fw.info.GetId(), AgentId: a.info.GetId(), State: mesos.TaskState_TASK_RUNNING.Enum(),
				Resources: res, User: proto.String("bench"),
				Statuses: []*mesos.TaskStatus{{TaskId: &mesos.TaskID{Value: proto.String(fmt.Sprintf("task-%06d", i))},
					State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(seconds(now))}},
			}
			m.addTask(fw, a, t)
			m.alloc.Allocated(fw.id, a.id, res)
		}
	})
}
