package agent

import (
	"time"

	"github.com/plateau/plateau/internal/api/plateaupb"
)

// Mesos's status update retry: first after 10s, doubling up to 10 minutes
// (src/slave/constants.hpp).
const (
	updateRetryMin = 10 * time.Second
	updateRetryMax = 10 * time.Minute
)

// updateManager keeps each task's status updates until the framework
// acknowledges them, so that they reach it in order and none is lost: only
// the oldest unacknowledged update of a task is in flight, and it is sent
// again until acknowledged. It is pure logic, driven by the agent's loop.
type updateManager struct {
	streams map[taskKey]*updateStream
	// acked remembers each task's last acknowledged uuids, so that an
	// executor resending one it did not hear acknowledged (it lost the
	// agent) is answered, not forwarded twice.
	acked map[taskKey][]string
}

// maxRememberedAcks bounds acked per task.
const maxRememberedAcks = 8

type taskKey struct{ framework, task string }

type updateStream struct {
	pending []*plateaupb.StatusUpdate
	backoff time.Duration
	due     time.Time // when the head is sent again
}

func newUpdateManager() *updateManager {
	return &updateManager{streams: map[taskKey]*updateStream{}, acked: map[taskKey][]string{}}
}

func keyOf(u *plateaupb.StatusUpdate) taskKey {
	return taskKey{u.GetFrameworkId().GetValue(), u.GetStatus().GetTaskId().GetValue()}
}

// add queues an update; it returns the update to send now when it is the
// task's only pending one.
func (m *updateManager) add(u *plateaupb.StatusUpdate, now time.Time) *plateaupb.StatusUpdate {
	k := keyOf(u)
	s := m.streams[k]
	if s == nil {
		s = &updateStream{}
		m.streams[k] = s
	}
	s.pending = append(s.pending, u)
	if len(s.pending) > 1 {
		return nil
	}
	s.backoff = updateRetryMin
	s.due = now.Add(s.backoff)
	return u
}

// ack handles an acknowledgement: if it matches the task's head, the head
// is dropped and the next update (if any) is returned to be sent. ok says
// whether the acknowledgement matched.
func (m *updateManager) ack(framework, task string, uuid []byte, now time.Time) (next *plateaupb.StatusUpdate, ok bool) {
	k := taskKey{framework, task}
	s := m.streams[k]
	if s == nil || len(s.pending) == 0 || string(s.pending[0].GetStatus().GetUuid()) != string(uuid) {
		return nil, false
	}
	m.acked[k] = append(m.acked[k], string(uuid))
	if len(m.acked[k]) > maxRememberedAcks {
		m.acked[k] = m.acked[k][1:]
	}
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		delete(m.streams, k)
		return nil, true
	}
	s.backoff = updateRetryMin
	s.due = now.Add(s.backoff)
	return s.pending[0], true
}

// due returns the heads whose retry time has come, and schedules their
// next retry with exponential backoff.
func (m *updateManager) due(now time.Time) []*plateaupb.StatusUpdate {
	var out []*plateaupb.StatusUpdate
	for _, s := range m.streams {
		if len(s.pending) > 0 && !now.Before(s.due) {
			out = append(out, s.pending[0])
			s.backoff = min(2*s.backoff, updateRetryMax)
			s.due = now.Add(s.backoff)
		}
	}
	return out
}

// heads returns every task's oldest pending update (to resend after the
// agent re-registers).
func (m *updateManager) heads() []*plateaupb.StatusUpdate {
	var out []*plateaupb.StatusUpdate
	for _, s := range m.streams {
		if len(s.pending) > 0 {
			out = append(out, s.pending[0])
		}
	}
	return out
}

// has reports whether an update (by uuid) is pending.
func (m *updateManager) has(framework, task string, uuid []byte) bool {
	s := m.streams[taskKey{framework, task}]
	if s == nil {
		return false
	}
	for _, u := range s.pending {
		if string(u.GetStatus().GetUuid()) == string(uuid) {
			return true
		}
	}
	return false
}

// wasAcked reports whether an update was acknowledged recently.
func (m *updateManager) wasAcked(framework, task string, uuid []byte) bool {
	for _, u := range m.acked[taskKey{framework, task}] {
		if u == string(uuid) {
			return true
		}
	}
	return false
}

// pending reports whether a task has unacknowledged updates.
func (m *updateManager) pending(framework, task string) bool {
	return m.streams[taskKey{framework, task}] != nil
}

// dropFramework forgets a framework's updates (it was torn down).
func (m *updateManager) dropFramework(framework string) {
	for k := range m.streams {
		if k.framework == framework {
			delete(m.streams, k)
		}
	}
	for k := range m.acked {
		if k.framework == framework {
			delete(m.acked, k)
		}
	}
}
