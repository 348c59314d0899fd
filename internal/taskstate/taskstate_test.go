package taskstate

import (
	"testing"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

func TestIsTerminal(t *testing.T) {
	terminal := map[mesos.TaskState]bool{
		mesos.TaskState_TASK_FINISHED: true, mesos.TaskState_TASK_FAILED: true, mesos.TaskState_TASK_KILLED: true,
		mesos.TaskState_TASK_ERROR: true, mesos.TaskState_TASK_LOST: true, mesos.TaskState_TASK_DROPPED: true,
		mesos.TaskState_TASK_GONE: true, mesos.TaskState_TASK_GONE_BY_OPERATOR: true,
	}
	for n := range mesos.TaskState_name {
		s := mesos.TaskState(n)
		if got := IsTerminal(s); got != terminal[s] {
			t.Errorf("IsTerminal(%v) = %v, want %v", s, got, terminal[s])
		}
	}
}

func TestCanTransition(t *testing.T) {
	S := func(s mesos.TaskState) mesos.TaskState { return s }
	tests := []struct {
		from, to mesos.TaskState
		want     bool
	}{
		{S(mesos.TaskState_TASK_STAGING), S(mesos.TaskState_TASK_STARTING), true},
		{S(mesos.TaskState_TASK_STARTING), S(mesos.TaskState_TASK_RUNNING), true},
		{S(mesos.TaskState_TASK_RUNNING), S(mesos.TaskState_TASK_RUNNING), true},
		{S(mesos.TaskState_TASK_RUNNING), S(mesos.TaskState_TASK_KILLING), true},
		{S(mesos.TaskState_TASK_KILLING), S(mesos.TaskState_TASK_KILLED), true},
		{S(mesos.TaskState_TASK_STAGING), S(mesos.TaskState_TASK_FAILED), true},
		{S(mesos.TaskState_TASK_RUNNING), S(mesos.TaskState_TASK_STARTING), false},
		{S(mesos.TaskState_TASK_KILLING), S(mesos.TaskState_TASK_RUNNING), false},
		{S(mesos.TaskState_TASK_FINISHED), S(mesos.TaskState_TASK_RUNNING), false},
		{S(mesos.TaskState_TASK_FAILED), S(mesos.TaskState_TASK_FINISHED), false},
		{S(mesos.TaskState_TASK_RUNNING), S(mesos.TaskState_TASK_UNREACHABLE), true},
		{S(mesos.TaskState_TASK_UNREACHABLE), S(mesos.TaskState_TASK_RUNNING), true},
	}
	for _, tt := range tests {
		if got := CanTransition(tt.from, tt.to); got != tt.want {
			t.Errorf("CanTransition(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
