package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/model"
	"github.com/plateau/plateau/internal/resources"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Exit code of commands that found nothing by the name given.
const exitNotFound = 3

// inspectFlags are the flags every cluster-reading command has.
type inspectFlags struct {
	master string
	json   bool
}

func (f *inspectFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.master, "master", "127.0.0.1:5050", "the master's host:port, or several, host:port,host:port (the first that answers; a standby's redirect to the leader is followed)")
	fs.BoolVar(&f.json, "json", false, "print JSON (Mesos's operator API JSON) instead of a table")
}

// state fetches GET_STATE.
func (f *inspectFlags) state(ctx context.Context) (*masterpb.Response_GetState, error) {
	st, err := (&client.Operator{Master: f.master}).GetState(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking %s: %w", f.master, err)
	}
	return st, nil
}

func parseInspect(name, synopsis string, env Env, args []string) (*inspectFlags, []string, error) {
	fs := newFlagSet(name, synopsis, env)
	var f inspectFlags
	f.register(fs)
	if err := parseFlags(fs, args, env); err != nil {
		return nil, nil, err
	}
	return &f, fs.Args(), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func runAgents(ctx context.Context, env Env, args []string) error {
	f, _, err := parseInspect("agents", "agents [--master HOST:PORT] [--json]", env, args)
	if err != nil {
		return err
	}
	st, err := f.state(ctx)
	if err != nil {
		return err
	}
	agents := st.GetGetAgents().GetAgents()
	if f.json {
		return printJSON(env.Stdout, model.Proto(st.GetGetAgents()))
	}
	var rows [][]string
	for _, a := range agents {
		total, used := resources.Resources(a.GetTotalResources()), resources.Resources(a.GetAllocatedResources())
		state := "active"
		if !a.GetActive() {
			state = "inactive"
		}
		rows = append(rows, []string{a.GetAgentInfo().GetId().GetValue(), a.GetAgentInfo().GetHostname(), strings.TrimPrefix(a.GetPid(), "slave(1)@"), state,
			fmt.Sprintf("%g/%g", used.Scalar("cpus"), total.Scalar("cpus")), fmt.Sprintf("%g/%g", used.Scalar("mem"), total.Scalar("mem")),
			fmt.Sprintf("%g/%g", used.Scalar("disk"), total.Scalar("disk"))})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	table(env.Stdout, "ID\tHOSTNAME\tADDRESS\tSTATE\tCPUS USED/TOTAL\tMEM (MB)\tDISK (MB)", rows)
	return nil
}

func runFrameworks(ctx context.Context, env Env, args []string) error {
	f, _, err := parseInspect("frameworks", "frameworks [--master HOST:PORT] [--json]", env, args)
	if err != nil {
		return err
	}
	st, err := f.state(ctx)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(env.Stdout, model.Proto(st.GetGetFrameworks()))
	}
	running := map[string]int{}
	for _, t := range st.GetGetTasks().GetTasks() {
		running[t.GetFrameworkId().GetValue()]++
	}
	var rows [][]string
	for _, fw := range st.GetGetFrameworks().GetFrameworks() {
		i := fw.GetFrameworkInfo()
		state := "active"
		switch {
		case !fw.GetConnected():
			state = "disconnected"
		case !fw.GetActive():
			state = "inactive"
		}
		used := resources.Resources(fw.GetAllocatedResources())
		rows = append(rows, []string{i.GetId().GetValue(), i.GetName(), strings.Join(frameworkRoleNames(i), ","), i.GetUser(), state,
			strconv.Itoa(running[i.GetId().GetValue()]), fmt.Sprintf("%g", used.Scalar("cpus")), fmt.Sprintf("%g", used.Scalar("mem"))})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	table(env.Stdout, "ID\tNAME\tROLES\tUSER\tSTATE\tTASKS\tCPUS\tMEM (MB)", rows)
	return nil
}

func frameworkRoleNames(i *mesos.FrameworkInfo) []string {
	if len(i.GetRoles()) > 0 {
		return i.GetRoles()
	}
	return []string{i.GetRole()}
}

func runTasks(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("tasks", "tasks [--master HOST:PORT] [--all] [--json]", env)
	var f inspectFlags
	f.register(fs)
	all := fs.Bool("all", false, "include completed tasks")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	st, err := f.state(ctx)
	if err != nil {
		return err
	}
	tasks := st.GetGetTasks().GetTasks()
	if *all {
		tasks = append(tasks, st.GetGetTasks().GetCompletedTasks()...)
	}
	if f.json {
		return printJSON(env.Stdout, model.Proto(&masterpb.Response_GetTasks{Tasks: tasks}))
	}
	hosts := map[string]string{}
	for _, a := range st.GetGetAgents().GetAgents() {
		hosts[a.GetAgentInfo().GetId().GetValue()] = a.GetAgentInfo().GetHostname()
	}
	var rows [][]string
	for _, t := range tasks {
		r := resources.Resources(t.GetResources())
		rows = append(rows, []string{t.GetTaskId().GetValue(), t.GetName(), strings.TrimPrefix(t.GetState().String(), "TASK_"),
			t.GetFrameworkId().GetValue(), hosts[t.GetAgentId().GetValue()], fmt.Sprintf("%g", r.Scalar("cpus")), fmt.Sprintf("%g", r.Scalar("mem")), since(t)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	table(env.Stdout, "ID\tNAME\tSTATE\tFRAMEWORK\tHOST\tCPUS\tMEM (MB)\tSINCE", rows)
	return nil
}

// since is how long ago a task reached its current state.
func since(t *mesos.Task) string {
	s := t.GetStatuses()
	if len(s) == 0 {
		return "-"
	}
	d := time.Since(time.Unix(0, int64(s[len(s)-1].GetTimestamp()*1e9))).Round(time.Second)
	return d.String()
}

// runTask is `plateau task log|ls ID ...`.
func runTask(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("plateau task log ID [--follow] [--stderr] | plateau task ls ID [PATH] | plateau task exec [-i] [-t] ID -- CMD [ARG...]")}
	}
	switch args[0] {
	case "log":
		return runTaskLog(ctx, env, args[1:])
	case "ls":
		return runTaskLs(ctx, env, args[1:])
	case "exec":
		return runTaskExec(ctx, env, args[1:])
	}
	return usageError{fmt.Errorf("unknown task command %q (known: log, ls, exec)", args[0])}
}

// taskPlace is where a task runs.
type taskPlace struct {
	agentAddr, frameworkID, executorID string
	group                              bool // a task of a task group
}

// locate finds a task's agent and executor.
func locate(ctx context.Context, f *inspectFlags, taskID string) (taskPlace, error) {
	st, err := f.state(ctx)
	if err != nil {
		return taskPlace{}, err
	}
	var task *mesos.Task
	for _, t := range append(st.GetGetTasks().GetTasks(), st.GetGetTasks().GetCompletedTasks()...) {
		if t.GetTaskId().GetValue() == taskID {
			task = t
			break
		}
	}
	if task == nil {
		return taskPlace{}, exitCodeError{code: exitNotFound, err: fmt.Errorf("no task %q", taskID)}
	}
	p := taskPlace{frameworkID: task.GetFrameworkId().GetValue(), executorID: task.GetExecutorId().GetValue()}
	for _, a := range st.GetGetAgents().GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() == task.GetAgentId().GetValue() {
			p.agentAddr = strings.TrimPrefix(a.GetPid(), "slave(1)@")
		}
	}
	if p.agentAddr == "" {
		return taskPlace{}, fmt.Errorf("the agent of task %q is gone", taskID)
	}
	if _, _, err := net.SplitHostPort(p.agentAddr); err != nil {
		return taskPlace{}, fmt.Errorf("agent address %q: %w", p.agentAddr, err)
	}
	if p.executorID == "" {
		p.executorID = taskID // a command task's executor ID is its task ID
	}
	p.group = p.executorID != taskID
	return p, nil
}

// sandboxOf finds a task's agent and sandbox path.
func sandboxOf(ctx context.Context, f *inspectFlags, taskID string) (agentAddr, sandbox string, err error) {
	p, err := locate(ctx, f, taskID)
	if err != nil {
		return "", "", err
	}
	sandbox = client.SandboxPath(p.frameworkID, p.executorID)
	if p.group {
		// A task of a group writes to its own folder in the shared sandbox.
		sandbox += "/tasks/" + taskID
	}
	return p.agentAddr, sandbox, nil
}

func runTaskLog(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("task log", "task log ID [--follow] [--stderr]", env)
	var f inspectFlags
	f.register(fs)
	follow := fs.Bool("follow", false, "keep printing what the task writes")
	stderr := fs.Bool("stderr", false, "print stderr instead of stdout")
	id, _, err := parseWithID(fs, args, env)
	if err != nil {
		return err
	}
	if id == "" {
		return usageError{errors.New("which task? plateau task log ID")}
	}
	agentAddr, sandbox, err := sandboxOf(ctx, &f, id)
	if err != nil {
		return err
	}
	name := "stdout"
	if *stderr {
		name = "stderr"
	}
	files := &client.Files{Agent: agentAddr}
	path := sandbox + "/" + name
	var offset int64
	for {
		data, at, err := files.Read(ctx, path, offset, 64*1024)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(data) > 0 {
			env.Stdout.Write(data)
			offset = at + int64(len(data))
			continue
		}
		if !*follow {
			return nil
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
	}
}

func runTaskLs(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet("task ls", "task ls ID [PATH]", env)
	var f inspectFlags
	f.register(fs)
	id, rest, err := parseWithID(fs, args, env)
	if err != nil {
		return err
	}
	if id == "" {
		return usageError{errors.New("which task? plateau task ls ID [PATH]")}
	}
	agentAddr, sandbox, err := sandboxOf(ctx, &f, id)
	if err != nil {
		return err
	}
	path := sandbox
	if len(rest) > 0 {
		path += "/" + strings.TrimPrefix(rest[0], "/")
	}
	entries, err := (&client.Files{Agent: agentAddr}).Browse(ctx, path)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(env.Stdout, entries)
	}
	var rows [][]string
	for _, e := range entries {
		rows = append(rows, []string{e.Mode, strconv.FormatInt(e.Size, 10), time.Unix(int64(e.Mtime), 0).Format(time.DateTime), strings.TrimPrefix(e.Path, path+"/")})
	}
	table(env.Stdout, "MODE\tSIZE\tMODIFIED\tNAME", rows)
	return nil
}

// parseInterspersed parses flags wherever they are among the arguments
// and returns the others; everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string, env Env) ([]string, error) {
	var after []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, after = args[:i], args[i+1:]
	}
	if err := parseFlags(fs, args, env); err != nil {
		return nil, err
	}
	var positional []string
	for rest := fs.Args(); len(rest) > 0; rest = fs.Args() {
		positional = append(positional, rest[0])
		fs.SetOutput(io.Discard)
		err := fs.Parse(rest[1:])
		fs.SetOutput(env.Stderr)
		if err != nil {
			return nil, usageError{err}
		}
	}
	return append(positional, after...), nil
}

// parseWithID parses flags before and after a command's first argument,
// its ID ("task log ID --follow" and "task log --follow ID" both work),
// and returns the ID and the arguments after it ("--" ends the flags).
func parseWithID(fs *flag.FlagSet, args []string, env Env) (string, []string, error) {
	if err := parseFlags(fs, args, env); err != nil {
		return "", nil, err
	}
	if fs.NArg() == 0 {
		return "", nil, nil
	}
	id, rest := fs.Arg(0), fs.Args()[1:]
	if len(rest) > 0 {
		fs.SetOutput(io.Discard)
		err := fs.Parse(rest)
		fs.SetOutput(env.Stderr)
		if err != nil {
			return "", nil, usageError{err}
		}
		rest = fs.Args()
	}
	return id, rest, nil
}

func runRoles(ctx context.Context, env Env, args []string) error {
	f, _, err := parseInspect("roles", "roles [--master HOST:PORT] [--json]", env, args)
	if err != nil {
		return err
	}
	resp, err := (&client.Operator{Master: f.master}).Call(ctx, &masterpb.Call{Type: masterpb.Call_GET_ROLES.Enum()})
	if err != nil {
		return fmt.Errorf("asking %s: %w", f.master, err)
	}
	if f.json {
		return printJSON(env.Stdout, model.Proto(resp.GetGetRoles()))
	}
	var rows [][]string
	for _, r := range resp.GetGetRoles().GetRoles() {
		used := resources.Resources(r.GetResources())
		rows = append(rows, []string{r.GetName(), strconv.FormatFloat(r.GetWeight(), 'g', -1, 64), strconv.Itoa(len(r.GetFrameworks())),
			fmt.Sprintf("%g", used.Scalar("cpus")), fmt.Sprintf("%g", used.Scalar("mem"))})
	}
	table(env.Stdout, "ROLE\tWEIGHT\tFRAMEWORKS\tCPUS\tMEM (MB)", rows)
	return nil
}

// runAgent is `plateau agent` with a verb: drain, deactivate or reactivate
// an agent; without one it runs an agent (see agent.go).
func runAgentVerb(ctx context.Context, env Env, verb string, args []string) error {
	fs := newFlagSet("agent "+verb, "agent "+verb+" AGENT_ID [flags]", env)
	var f inspectFlags
	f.register(fs)
	grace := fs.Duration("grace", 0, "drain: the longest a task may take to stop (default: each task's kill policy)")
	markGone := fs.Bool("mark-gone", false, "drain: mark the agent gone once drained")
	id, _, err := parseWithID(fs, args, env)
	if err != nil {
		return err
	}
	if id == "" {
		return usageError{fmt.Errorf("which agent? plateau agent %s AGENT_ID", verb)}
	}
	agentID := &mesos.AgentID{Value: proto.String(id)}
	call := &masterpb.Call{}
	switch verb {
	case "drain":
		call.Type = masterpb.Call_DRAIN_AGENT.Enum()
		call.DrainAgent = &masterpb.Call_DrainAgent{AgentId: agentID, MarkGone: proto.Bool(*markGone)}
		if *grace > 0 {
			call.DrainAgent.MaxGracePeriod = durationpb.New(*grace)
		}
	case "deactivate":
		call.Type = masterpb.Call_DEACTIVATE_AGENT.Enum()
		call.DeactivateAgent = &masterpb.Call_DeactivateAgent{AgentId: agentID}
	case "reactivate":
		call.Type = masterpb.Call_REACTIVATE_AGENT.Enum()
		call.ReactivateAgent = &masterpb.Call_ReactivateAgent{AgentId: agentID}
	}
	if _, err := (&client.Operator{Master: f.master}).Call(ctx, call); err != nil {
		if client.IsStatus(err, 404) {
			return exitCodeError{code: exitNotFound, err: fmt.Errorf("no agent %q", id)}
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "agent %s: %s requested\n", id, verb)
	return nil
}

func runQuota(ctx context.Context, env Env, args []string) error {
	f, _, err := parseInspect("quota", "quota [--master HOST:PORT] [--json]", env, args)
	if err != nil {
		return err
	}
	resp, err := (&client.Operator{Master: f.master}).Call(ctx, &masterpb.Call{Type: masterpb.Call_GET_QUOTA.Enum()})
	if err != nil {
		return fmt.Errorf("asking %s: %w", f.master, err)
	}
	if f.json {
		return printJSON(env.Stdout, model.Proto(resp.GetGetQuota().GetStatus()))
	}
	render := func(m map[string]*mesos.Value_Scalar) string {
		var parts []string
		for name, v := range m {
			parts = append(parts, fmt.Sprintf("%s:%g", name, v.GetValue()))
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ";")
	}
	var rows [][]string
	for _, q := range resp.GetGetQuota().GetStatus().GetConfigs() {
		rows = append(rows, []string{q.GetRole(), render(q.GetGuarantees()), render(q.GetLimits())})
	}
	table(env.Stdout, "ROLE\tGUARANTEES\tLIMITS", rows)
	return nil
}
