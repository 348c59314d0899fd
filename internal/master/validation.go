package master

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/flagenv"
	"github.com/plateau/plateau/internal/resources"
)

// validateID checks a task, executor or framework ID as Mesos's
// common::validation::validateID does.
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("ID must not be empty")
	case len(id) > 255:
		return errors.New("ID must not be greater than 255 characters")
	case id == "." || id == "..":
		return errors.New("'.' and '..' are not allowed")
	}
	for _, r := range id {
		if r == '/' || r == '\\' || !unicode.IsPrint(r) || unicode.IsSpace(r) && r != ' ' {
			return fmt.Errorf("'%s' contains invalid characters", id)
		}
	}
	return nil
}

// validateRole checks a role name as Mesos's roles::validate does: "*" or
// one or more '/'-separated path components that are not empty, '.' or
// '..', do not start with '-', and hold no whitespace, '*' or control
// characters.
func validateRole(role string) error {
	if role == "*" {
		return nil
	}
	if role == "" {
		return errors.New("empty role name is invalid")
	}
	if strings.HasPrefix(role, "/") || strings.HasSuffix(role, "/") {
		return fmt.Errorf("role '%s' cannot start or end with a slash", role)
	}
	for _, part := range strings.Split(role, "/") {
		switch {
		case part == "":
			return fmt.Errorf("role '%s' cannot contain two adjacent slashes", role)
		case part == "." || part == "..":
			return fmt.Errorf("role '%s' cannot include '.' or '..' as a path component", role)
		case strings.HasPrefix(part, "-"):
			return fmt.Errorf("role '%s' cannot have a path component starting with '-'", role)
		}
		for _, r := range part {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r == '*' || r == '\\' {
				return fmt.Errorf("role '%s' cannot include whitespace, control characters, '*' or '\\'", role)
			}
		}
	}
	return nil
}

// validateFrameworkInfo checks a subscribing framework's info.
func (m *Master) validateFrameworkInfo(info *mesos.FrameworkInfo) error {
	if info.Id != nil {
		if err := validateID(info.GetId().GetValue()); err != nil {
			return fmt.Errorf("'FrameworkInfo.id' is invalid: %w", err)
		}
	}
	multiRole := hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE)
	if multiRole && info.Role != nil {
		return errors.New("'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable")
	}
	if !multiRole && len(info.GetRoles()) > 0 {
		return errors.New("'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable")
	}
	seen := map[string]bool{}
	for _, role := range frameworkRoles(info) {
		if seen[role] {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate items: %s", role)
		}
		seen[role] = true
		if err := validateRole(role); err != nil {
			return fmt.Errorf("'FrameworkInfo.roles' contains invalid role: %w", err)
		}
		if !m.roleAllowed(role) {
			return fmt.Errorf("Role '%s' is not present in the master's --roles", role)
		}
	}
	if info.GetFailoverTimeout() < 0 {
		return errors.New("'FrameworkInfo.failover_timeout' must not be negative")
	}
	return nil
}

// roleAllowed applies the --roles whitelist.
func (m *Master) roleAllowed(role string) bool {
	if m.cfg.Roles == "" || role == "*" {
		return true
	}
	return slices.Contains(flagenv.List(m.cfg.Roles), role)
}

// validateTask checks a task launched against an offer as Mesos's
// validation::task does. need is what it takes from available (its
// resources, plus its executor's if that executor is new).
func (m *Master) validateTask(fw *framework, a *agent, ti *mesos.TaskInfo, available, need resources.Resources) error {
	if err := validateID(ti.GetTaskId().GetValue()); err != nil {
		return fmt.Errorf("Task has an invalid TaskID: %w", err)
	}
	if ti.GetAgentId().GetValue() != a.id {
		return fmt.Errorf("Task uses invalid agent: %s", ti.GetAgentId().GetValue())
	}
	if _, dup := fw.tasks[ti.GetTaskId().GetValue()]; dup {
		return fmt.Errorf("Task has duplicate ID: %s", ti.GetTaskId().GetValue())
	}
	if (ti.Command == nil) == (ti.Executor == nil) {
		return errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if ti.GetKillPolicy().GetGracePeriod().GetNanoseconds() < 0 {
		return errors.New("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if len(ti.GetResources()) == 0 {
		return errors.New("Task uses no resources")
	}
	if err := resources.Validate(ti.GetResources()); err != nil {
		return fmt.Errorf("Task uses invalid resources: %w", err)
	}
	if c := ti.GetCommand(); c != nil {
		if err := validateCommand(c); err != nil {
			return fmt.Errorf("Task's `CommandInfo` is invalid: %w", err)
		}
	}
	if e := ti.GetExecutor(); e != nil {
		if err := m.validateExecutor(fw, a, e); err != nil {
			return err
		}
	}
	if !available.Contains(need) {
		return fmt.Errorf("Task uses more resources %s than available %s", need, available)
	}
	return nil
}

// validateExecutor checks a custom or default executor's info, and that it
// matches the one already running under its ID.
func (m *Master) validateExecutor(fw *framework, a *agent, e *mesos.ExecutorInfo) error {
	if err := validateID(e.GetExecutorId().GetValue()); err != nil {
		return fmt.Errorf("Executor has an invalid ExecutorID: %w", err)
	}
	if e.GetFrameworkId().GetValue() != fw.id {
		return fmt.Errorf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", e.GetFrameworkId().GetValue(), fw.id)
	}
	if err := resources.Validate(e.GetResources()); err != nil {
		return fmt.Errorf("Executor uses invalid resources: %w", err)
	}
	if e.GetType() != mesos.ExecutorInfo_DEFAULT {
		if e.Command == nil {
			return errors.New("Executor's `CommandInfo` must be set")
		}
		if err := validateCommand(e.GetCommand()); err != nil {
			return fmt.Errorf("Executor's `CommandInfo` is invalid: %w", err)
		}
	}
	if existing := a.executors[fw.id][e.GetExecutorId().GetValue()]; existing != nil && !proto.Equal(existing, e) {
		return fmt.Errorf("ExecutorInfo is not compatible with ExecutorInfo of the running executor %s", e.GetExecutorId().GetValue())
	}
	return nil
}

// validateTaskGroup checks LAUNCH_GROUP as Mesos does.
func (m *Master) validateTaskGroup(fw *framework, a *agent, lg *mesos.Offer_Operation_LaunchGroup, available, need resources.Resources) error {
	e := lg.GetExecutor()
	if e == nil {
		return errors.New("'LaunchGroup.executor' must be set")
	}
	if e.Type == nil {
		return errors.New("'ExecutorInfo.type' must be set")
	}
	if err := m.validateExecutor(fw, a, e); err != nil {
		return err
	}
	tasks := lg.GetTaskGroup().GetTasks()
	if len(tasks) == 0 {
		return errors.New("Task group is empty")
	}
	ids := map[string]bool{}
	for _, ti := range tasks {
		if ids[ti.GetTaskId().GetValue()] {
			return fmt.Errorf("Task group has duplicate task ID: %s", ti.GetTaskId().GetValue())
		}
		ids[ti.GetTaskId().GetValue()] = true
		if ti.Executor != nil && ti.GetExecutor().GetExecutorId().GetValue() != e.GetExecutorId().GetValue() {
			return fmt.Errorf("Task '%s' is invalid: The `ExecutorInfo` of the task must match the task group's executor", ti.GetTaskId().GetValue())
		}
		if ti.Command == nil {
			return fmt.Errorf("Task '%s' is invalid: 'TaskInfo.command' must be set", ti.GetTaskId().GetValue())
		}
		check := proto.Clone(ti).(*mesos.TaskInfo)
		check.Executor = nil
		if err := m.validateTask(fw, a, check, available, nil); err != nil {
			return fmt.Errorf("Task '%s' is invalid: %w", ti.GetTaskId().GetValue(), err)
		}
	}
	if !available.Contains(need) {
		return fmt.Errorf("Task group uses more resources %s than available %s", need, available)
	}
	return nil
}

// validateCommand checks a CommandInfo.
func validateCommand(c *mesos.CommandInfo) error {
	if c.GetShell() && c.Value == nil {
		return errors.New("'value' must be set for a shell command")
	}
	if !c.GetShell() && c.Value == nil {
		return errors.New("'value' must be set to the program to run")
	}
	for _, v := range c.GetEnvironment().GetVariables() {
		if v.GetName() == "" {
			return errors.New("environment variable with an empty name")
		}
		if v.GetType() == mesos.Environment_Variable_SECRET {
			if v.Secret == nil {
				return fmt.Errorf("environment variable '%s' of type SECRET must have a secret", v.GetName())
			}
		} else if v.Value == nil {
			return fmt.Errorf("environment variable '%s' of type VALUE must have a value", v.GetName())
		}
	}
	return nil
}
