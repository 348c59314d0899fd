package agent

import (
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	agentpb "github.com/plateau/plateau/internal/api/mesos/v1/agent"
	"github.com/plateau/plateau/internal/containerizer"
	"github.com/plateau/plateau/internal/files"
	"github.com/plateau/plateau/internal/httpapi"
	"github.com/plateau/plateau/internal/loglevel"
	"github.com/plateau/plateau/internal/taskstate"
	"github.com/plateau/plateau/internal/version"
)

// serveOperator is POST /api/v1 on the agent: the agent operator API's
// read calls and the nested container calls (nested.go). The others
// answer 501 Not Implemented.
func (a *Agent) serveOperator(w http.ResponseWriter, r *http.Request) {
	if !httpapi.RequirePOST(w, r) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/recordio" {
		a.serveAttachInput(w, r) // the one call that streams its request
		return
	}
	call := &agentpb.Call{}
	if err := httpapi.Decode(r, call); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	// Mesos's agent takes GET_CONTAINERS and PRUNE_IMAGES without theirs.
	if err := httpapi.RequireCallBody(call.ProtoReflect(), call.GetType().String(), "GET_CONTAINERS", "PRUNE_IMAGES"); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	switch call.GetType() {
	case agentpb.Call_LAUNCH_NESTED_CONTAINER_SESSION, agentpb.Call_ATTACH_CONTAINER_OUTPUT:
		// Streamed answers: RecordIO, each record in Message-Accept's
		// encoding.
		if !codec.Accepts(strings.Join(r.Header.Values("Accept"), ","), "application/recordio") {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusNotAcceptable, "Expecting 'Accept' to allow 'application/recordio'"))
			return
		}
		enc, err := codec.ForAccept(r.Header.Get("Message-Accept"))
		if err != nil {
			httpapi.WriteError(w, err)
			return
		}
		if call.GetType() == agentpb.Call_LAUNCH_NESTED_CONTAINER_SESSION {
			a.serveLaunchSession(w, r, enc, call.GetLaunchNestedContainerSession())
		} else {
			a.serveAttachOutput(w, r, enc, call.GetAttachContainerOutput())
		}
		return
	}
	enc, err := codec.ForAccept(r.Header.Get("Accept"))
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	resp := &agentpb.Response{Type: agentpb.Response_Type(agentpb.Response_Type_value[call.GetType().String()]).Enum()}
	var containers []containerEntry
	switch call.GetType() {
	case agentpb.Call_GET_HEALTH:
		resp.GetHealth = &agentpb.Response_GetHealth{Healthy: proto.Bool(true)}
	case agentpb.Call_GET_VERSION:
		resp.GetVersion = &agentpb.Response_GetVersion{VersionInfo: &mesos.VersionInfo{
			Version: proto.String(version.MesosVersion), GitTag: proto.String("plateau-" + version.Version)}}
	case agentpb.Call_GET_FLAGS, agentpb.Call_GET_METRICS, agentpb.Call_GET_STATE, agentpb.Call_GET_FRAMEWORKS,
		agentpb.Call_GET_EXECUTORS, agentpb.Call_GET_TASKS, agentpb.Call_GET_AGENT, agentpb.Call_GET_CONTAINERS:
		err = a.do(r.Context(), func() {
			switch call.GetType() {
			case agentpb.Call_GET_FLAGS:
				resp.GetFlags = &agentpb.Response_GetFlags{}
				for k, v := range a.flagMap() {
					resp.GetFlags.Flags = append(resp.GetFlags.Flags, &mesos.Flag{Name: proto.String(k), Value: proto.String(v)})
				}
				sort.Slice(resp.GetFlags.Flags, func(i, j int) bool { return resp.GetFlags.Flags[i].GetName() < resp.GetFlags.Flags[j].GetName() })
			case agentpb.Call_GET_METRICS:
				resp.GetMetrics = &agentpb.Response_GetMetrics{}
				for k, v := range a.metrics() {
					resp.GetMetrics.Metrics = append(resp.GetMetrics.Metrics, &mesos.Metric{Name: proto.String(k), Value: proto.Float64(v)})
				}
			case agentpb.Call_GET_STATE:
				resp.GetState = &agentpb.Response_GetState{GetTasks: a.getTasks(), GetExecutors: a.getExecutors(), GetFrameworks: a.getFrameworks()}
			case agentpb.Call_GET_FRAMEWORKS:
				resp.GetFrameworks = a.getFrameworks()
			case agentpb.Call_GET_EXECUTORS:
				resp.GetExecutors = a.getExecutors()
			case agentpb.Call_GET_TASKS:
				resp.GetTasks = a.getTasks()
			case agentpb.Call_GET_AGENT:
				resp.GetAgent = &agentpb.Response_GetAgent{AgentInfo: a.info}
			case agentpb.Call_GET_CONTAINERS:
				containers = a.containers()
			}
		})
	case agentpb.Call_GET_LOGGING_LEVEL:
		resp.GetLoggingLevel = &agentpb.Response_GetLoggingLevel{Level: proto.Uint32(loglevel.Glog(a.level.Level()))}
	case agentpb.Call_SET_LOGGING_LEVEL:
		set := call.GetSetLoggingLevel()
		if set == nil {
			err = httpapi.BadRequest("Expecting 'set_logging_level' to be present")
			break
		}
		loglevel.Set(a.level, set.GetLevel(), time.Duration(set.GetDuration().GetNanoseconds()))
		w.WriteHeader(http.StatusOK)
		return
	case agentpb.Call_GET_OPERATIONS:
		// Operations on the agent's own resources are done as the master
		// sends them; none is ever pending here.
		resp.GetOperations = &agentpb.Response_GetOperations{}
	case agentpb.Call_GET_RESOURCE_PROVIDERS:
		resp.GetResourceProviders = &agentpb.Response_GetResourceProviders{}
	case agentpb.Call_PRUNE_IMAGES:
		// No container images are kept: nothing to prune.
		w.WriteHeader(http.StatusOK)
		return
	case agentpb.Call_ADD_RESOURCE_PROVIDER_CONFIG, agentpb.Call_UPDATE_RESOURCE_PROVIDER_CONFIG,
		agentpb.Call_REMOVE_RESOURCE_PROVIDER_CONFIG, agentpb.Call_MARK_RESOURCE_PROVIDER_GONE:
		err = httpapi.Errorf(http.StatusNotImplemented, "%s: Plateau agents have no local resource providers (CSI)", call.GetType())
	case agentpb.Call_LIST_FILES:
		var list []files.FileInfo
		if list, err = a.files.List(call.GetListFiles().GetPath()); err == nil {
			resp.ListFiles = &agentpb.Response_ListFiles{}
			for _, fi := range list {
				resp.ListFiles.FileInfos = append(resp.ListFiles.FileInfos, fi.Proto())
			}
		}
		err = files.StatusError(err)
	case agentpb.Call_READ_FILE:
		rf := call.GetReadFile()
		var data []byte
		var size int64
		if data, size, err = a.files.ReadAt(rf.GetPath(), int64(rf.GetOffset()), int64(rf.GetLength())); err == nil {
			resp.ReadFile = &agentpb.Response_ReadFile{Size: proto.Uint64(uint64(size)), Data: data}
		}
		err = files.StatusError(err)
	case agentpb.Call_LAUNCH_NESTED_CONTAINER, agentpb.Call_LAUNCH_CONTAINER:
		launch := call.GetLaunchNestedContainer()
		if lc := call.GetLaunchContainer(); call.GetType() == agentpb.Call_LAUNCH_CONTAINER && lc != nil {
			if len(lc.GetResources()) > 0 && lc.GetContainerId().GetParent() == nil {
				err = httpapi.BadRequest("Plateau runs standalone containers without resources of their own; leave 'resources' empty")
				break
			}
			launch = &agentpb.Call_LaunchNestedContainer{ContainerId: lc.GetContainerId(), Command: lc.GetCommand(), Container: lc.GetContainer()}
		}
		if err = a.launchNestedDetached(r.Context(), launch); err == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
	case agentpb.Call_WAIT_NESTED_CONTAINER, agentpb.Call_WAIT_CONTAINER:
		id := call.GetWaitNestedContainer().GetContainerId().GetValue()
		if call.GetType() == agentpb.Call_WAIT_CONTAINER {
			id = call.GetWaitContainer().GetContainerId().GetValue()
		}
		var wr *agentpb.Response_WaitNestedContainer
		if wr, err = a.waitNested(r.Context(), id); err == nil {
			if call.GetType() == agentpb.Call_WAIT_CONTAINER {
				resp.WaitContainer = &agentpb.Response_WaitContainer{ExitStatus: wr.ExitStatus}
			} else {
				resp.WaitNestedContainer = wr
			}
		}
	case agentpb.Call_KILL_NESTED_CONTAINER, agentpb.Call_KILL_CONTAINER:
		id, sig := call.GetKillNestedContainer().GetContainerId().GetValue(), call.GetKillNestedContainer().GetSignal()
		if call.GetType() == agentpb.Call_KILL_CONTAINER {
			id, sig = call.GetKillContainer().GetContainerId().GetValue(), call.GetKillContainer().GetSignal()
		}
		if err = a.killNested(r.Context(), id, sig); err == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
	case agentpb.Call_REMOVE_NESTED_CONTAINER, agentpb.Call_REMOVE_CONTAINER:
		id := call.GetRemoveNestedContainer().GetContainerId().GetValue()
		if call.GetType() == agentpb.Call_REMOVE_CONTAINER {
			id = call.GetRemoveContainer().GetContainerId().GetValue()
		}
		if err = a.removeNested(r.Context(), id); err == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
	case agentpb.Call_UNKNOWN:
		err = httpapi.BadRequest("Expecting 'type' to be present")
	default:
		err = httpapi.Errorf(http.StatusNotImplemented, "Agent operator call %s is not supported by Plateau yet", call.GetType())
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if call.GetType() == agentpb.Call_GET_CONTAINERS {
		// Usage is read from the cgroups off the loop.
		resp.GetContainers = &agentpb.Response_GetContainers{}
		for _, c := range containers {
			pc := &agentpb.Response_GetContainers_Container{FrameworkId: &mesos.FrameworkID{Value: proto.String(c.framework)},
				ExecutorId: c.info.GetExecutorId(), ExecutorName: c.info.Name, ContainerId: &mesos.ContainerID{Value: proto.String(c.id)}}
			if m, ok := c.container.(containerizer.Measured); ok {
				if st, err := m.Usage(); err == nil {
					pc.ResourceStatistics = st
				}
			}
			resp.GetContainers.Containers = append(resp.GetContainers.Containers, pc)
		}
	}
	httpapi.WriteMessage(w, enc, resp)
}

type containerEntry struct {
	info      *mesos.ExecutorInfo
	framework string
	id        string
	container containerizer.Container
}

// containers lists running containers. Runs on the loop.
func (a *Agent) containers() []containerEntry {
	var out []containerEntry
	for _, fw := range a.frameworks {
		for _, e := range fw.executors {
			if e.container != nil && !e.terminated {
				out = append(out, containerEntry{e.info, e.frameworkID, e.containerID, e.container})
			}
		}
	}
	return out
}

func (a *Agent) getFrameworks() *agentpb.Response_GetFrameworks {
	out := &agentpb.Response_GetFrameworks{}
	for _, fw := range a.frameworks {
		out.Frameworks = append(out.Frameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: fw.info})
	}
	for _, fw := range a.completedFrameworks {
		out.CompletedFrameworks = append(out.CompletedFrameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: fw.info})
	}
	return out
}

func (a *Agent) getExecutors() *agentpb.Response_GetExecutors {
	out := &agentpb.Response_GetExecutors{}
	for _, fw := range a.frameworks {
		for _, e := range fw.executors {
			out.Executors = append(out.Executors, &agentpb.Response_GetExecutors_Executor{ExecutorInfo: e.info})
		}
		for _, e := range fw.completedExecutors {
			out.CompletedExecutors = append(out.CompletedExecutors, &agentpb.Response_GetExecutors_Executor{ExecutorInfo: e.info})
		}
	}
	return out
}

func (a *Agent) getTasks() *agentpb.Response_GetTasks {
	out := &agentpb.Response_GetTasks{}
	for _, fw := range a.frameworks {
		for _, e := range fw.executors {
			for _, t := range e.queued {
				out.QueuedTasks = append(out.QueuedTasks, &mesos.Task{Name: t.Name, TaskId: t.GetTaskId(), FrameworkId: fw.info.GetId(),
					AgentId: a.info.GetId(), State: mesos.TaskState_TASK_STAGING.Enum(), Resources: t.GetResources()})
			}
			for _, t := range e.tasks {
				if taskstate.IsTerminal(t.GetState()) {
					out.TerminatedTasks = append(out.TerminatedTasks, t)
				} else {
					out.LaunchedTasks = append(out.LaunchedTasks, t)
				}
			}
			out.CompletedTasks = append(out.CompletedTasks, e.completed...)
		}
	}
	return out
}
