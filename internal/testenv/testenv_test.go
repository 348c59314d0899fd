package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder stands in for a test: it records how Unavailable ended it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Skip(a ...any)                  { r.skip = a[0].(string) }

func TestUnavailableSkipsOutsideStrict(t *testing.T) {
	t.Setenv(Strict, "")
	r := &recorder{}
	Unavailable(r, "needs %s", "root")
	if r.skip != "needs root" || r.fatal != "" {
		t.Fatalf("skip %q, fatal %q; want a skip saying %q", r.skip, r.fatal, "needs root")
	}
}

func TestUnavailableFailsUnderStrict(t *testing.T) {
	t.Setenv(Strict, "1")
	r := &recorder{}
	Unavailable(r, "needs %s", "root")
	if r.fatal == "" || r.skip != "" {
		t.Fatalf("skip %q, fatal %q; want a failure", r.skip, r.fatal)
	}
	if !strings.Contains(r.fatal, "forbids skipping") {
		t.Errorf("failure %q does not say skipping is forbidden", r.fatal)
	}
}
