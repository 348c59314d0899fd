// Package loglevel maps between slog levels and the glog verbosity that
// Mesos's GET_LOGGING_LEVEL and SET_LOGGING_LEVEL speak: 0 is INFO, and
// any higher verbosity is slog's DEBUG.
package loglevel

import (
	"log/slog"
	"time"
)

// Glog is a level as glog verbosity.
func Glog(l slog.Level) uint32 {
	if l <= slog.LevelDebug {
		return 1
	}
	return 0
}

// Set sets v from a glog verbosity; with d > 0 the old level comes back
// after d, as Mesos reverts SET_LOGGING_LEVEL after its duration.
func Set(v *slog.LevelVar, level uint32, d time.Duration) {
	old := v.Level()
	if level > 0 {
		v.Set(slog.LevelDebug)
	} else {
		v.Set(slog.LevelInfo)
	}
	if d > 0 {
		time.AfterFunc(d, func() { v.Set(old) })
	}
}
