package allocator

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidRole is wrapped by ValidateRole's errors.
var ErrInvalidRole = errors.New("invalid role")

// ErrNestedQuota is returned by SetQuota for a role below the top level:
// Mesos 1.11 takes quota on top-level roles only.
var ErrNestedQuota = errors.New("quota on nested roles is not supported")

// ValidateRole checks a role name as Mesos does (src/common/roles.cpp):
// "*", or '/'-separated components that are not empty, ".", ".." or "*",
// do not start with '-', and hold no space, tab, line break, vertical tab,
// form feed or DEL.
func ValidateRole(role string) error {
	if role == "*" {
		return nil
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidRole, fmt.Sprintf(format, args...))
	}
	switch {
	case role == "":
		return invalid("role names cannot be the empty string")
	case strings.HasPrefix(role, "/"):
		return invalid("role '%s' cannot start with a slash", role)
	case strings.HasSuffix(role, "/"):
		return invalid("role '%s' cannot end with a slash", role)
	case strings.Contains(role, "//"):
		return invalid("role '%s' cannot contain two adjacent slashes", role)
	}
	for _, c := range strings.Split(role, "/") {
		switch {
		case c == "." || c == ".." || c == "*":
			return invalid("role '%s' cannot include '%s' as a component", role, c)
		case strings.HasPrefix(c, "-"):
			return invalid("role component '%s' is invalid because it starts with a dash", c)
		case strings.ContainsAny(c, "\t\n\v\f\r \x7f"):
			return invalid("role component '%s' is invalid because it contains backspace or whitespace", c)
		}
	}
	return nil
}

// topLevel returns the top-level ancestor of role ("eng" for "eng/web").
func topLevel(role string) string {
	if i := strings.IndexByte(role, '/'); i >= 0 {
		return role[:i]
	}
	return role
}

// related reports whether one role is the other or an ancestor of it.
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == b || (strings.HasPrefix(b, a) && b[len(a)] == '/')
}
