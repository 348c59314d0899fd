package httpapi

import (
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
)

// A call must carry the message named after its type, as Mesos checks,
// unless that message is optional for its type.
func TestRequireCallBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		call     proto.Message
		optional []string
		want     string // the 400's message, "" for none
	}{
		{"body missing", &masterpb.Call{Type: masterpb.Call_SET_QUOTA.Enum()}, nil, "Expecting 'set_quota' to be present"},
		{"body there", &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
			Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}}}, nil, ""},
		{"no message for the type", &masterpb.Call{Type: masterpb.Call_GET_STATE.Enum()}, nil, ""},
		{"optional", &scheduler.Call{Type: scheduler.Call_REVIVE.Enum()}, []string{"REVIVE", "SUPPRESS"}, ""},
		{"scheduler body missing", &scheduler.Call{Type: scheduler.Call_ACCEPT.Enum()}, []string{"REVIVE", "SUPPRESS"}, "Expecting 'accept' to be present"},
	} {
		m := tc.call.ProtoReflect()
		typ := m.Descriptor().Fields().ByName("type")
		name := string(typ.Enum().Values().ByNumber(m.Get(typ).Enum()).Name())
		err := RequireCallBody(m, name, tc.optional...)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || StatusOf(err) != http.StatusBadRequest):
			t.Errorf("%s: %v (status %d), want 400 %q", tc.name, err, StatusOf(err), tc.want)
		}
	}
}
