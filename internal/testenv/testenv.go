// Package testenv decides what a test does when the machine lacks what it
// needs (root, cgroups, network namespaces, protoc, chromium, ZooKeeper):
// it skips, except under PLATEAU_TEST_STRICT, which .ci/run sets, where it
// fails, so that CI never passes a test it did not run.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Strict names the environment variable that turns skips into failures.
const Strict = "PLATEAU_TEST_STRICT"

// Unavailable ends the test for want of what the message names: a skip,
// or a failure under PLATEAU_TEST_STRICT.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(Strict) != "" {
		t.Fatalf("%s; %s forbids skipping", msg, Strict)
		return
	}
	t.Skip(msg)
}
