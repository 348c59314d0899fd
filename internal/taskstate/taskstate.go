// Package taskstate is the Mesos task state machine: which states are
// terminal, and which transitions a task may make.
package taskstate

import mesos "github.com/plateau/plateau/internal/api/mesos/v1"

// IsTerminal reports whether a task in state s has ended for good.
func IsTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// rank orders the non-terminal states a task moves through.
func rank(s mesos.TaskState) int {
	switch s {
	case mesos.TaskState_TASK_STAGING:
		return 0
	case mesos.TaskState_TASK_STARTING:
		return 1
	case mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_UNREACHABLE:
		return 2
	case mesos.TaskState_TASK_KILLING:
		return 3
	}
	return 4 // terminal
}

// CanTransition reports whether a task may go from one state to another:
// states only move forward (staging, starting, running, killing, then a
// terminal state), a terminal state is final, and a task may be
// unreachable and come back as running. Repeating a state is allowed
// (health updates re-send RUNNING).
func CanTransition(from, to mesos.TaskState) bool {
	if IsTerminal(from) {
		return from == to
	}
	if from == mesos.TaskState_TASK_UNREACHABLE || to == mesos.TaskState_TASK_UNREACHABLE {
		return true
	}
	return rank(to) >= rank(from)
}
