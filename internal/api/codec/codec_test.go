package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	mgo "github.com/mesos/mesos-go/api/v1/lib"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

func sampleStatus() *mesos.TaskStatus {
	return &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: proto.String("t-1")},
		State:     mesos.TaskState_TASK_RUNNING.Enum(),
		Uuid:      []byte{0, 1, 2, 250, 255},
		Message:   proto.String("quote \" backslash \\ newline \n tab \t é"),
		Timestamp: proto.Float64(1700000000.25),
		Source:    mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Labels:    &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}},
	}
}

func TestMarshalJSONIsMesosJSON(t *testing.T) {
	b, err := MarshalJSON(&mesos.Resource{
		Name:   proto.String("ports"),
		Type:   mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(31005)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	// 64-bit integers are numbers, enums are names, proto names are keys.
	r := got["ranges"].(map[string]any)["range"].([]any)[0].(map[string]any)
	if r["begin"] != float64(31000) || got["type"] != "RANGES" || got["name"] != "ports" {
		t.Fatalf("unexpected JSON %s", b)
	}
	// Deprecated fields are not written, even with a default (role "*").
	if _, ok := got["role"]; ok {
		t.Fatalf("deprecated role written: %s", b)
	}
	// Mesos writes unset optional fields that declare a default.
	b, _ = MarshalJSON(&mesos.CommandInfo{Value: proto.String("true")})
	if string(b) != `{"shell":true,"value":"true"}` {
		t.Fatalf("CommandInfo: got %s, want the default shell written", b)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := sampleStatus()
	b, err := MarshalJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &mesos.TaskStatus{}
	if err := UnmarshalJSON(b, out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("round trip changed the message:\n in %v\nout %v", in, out)
	}
}

// mesos-go, a real Mesos client, must read what we write and we must read
// what it writes.
func TestJSONInteropWithMesosGo(t *testing.T) {
	b, err := MarshalJSON(sampleStatus())
	if err != nil {
		t.Fatal(err)
	}
	var theirs mgo.TaskStatus
	if err := json.Unmarshal(b, &theirs); err != nil {
		t.Fatalf("mesos-go cannot read %s: %v", b, err)
	}
	if theirs.TaskID.Value != "t-1" || theirs.State == nil || *theirs.State != mgo.TASK_RUNNING ||
		!bytes.Equal(theirs.UUID, []byte{0, 1, 2, 250, 255}) || theirs.GetTimestamp() != 1700000000.25 {
		t.Fatalf("mesos-go read %+v", theirs)
	}
	back, err := json.Marshal(&theirs)
	if err != nil {
		t.Fatal(err)
	}
	ours := &mesos.TaskStatus{}
	if err := UnmarshalJSON(back, ours); err != nil {
		t.Fatalf("cannot read mesos-go's %s: %v", back, err)
	}
	if !proto.Equal(ours, sampleStatus()) {
		t.Fatalf("mesos-go round trip changed the message: %v", ours)
	}
}

func TestUnmarshalJSONErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", `{"task_id":`, "unexpected"},
		{"wrong type", `{"task_id": {"value": 3}, "state": "TASK_RUNNING"}`, "value"},
		// Unknown enum names are dropped like unknown fields, so a
		// required enum with an unknown name is missing.
		{"bad enum", `{"task_id": {"value": "x"}, "state": "TASK_NOPE"}`, "state not set"},
		{"missing required", `{"state": "TASK_RUNNING"}`, "task_id"},
	}
	for _, tt := range tests {
		err := UnmarshalJSON([]byte(tt.in), &mesos.TaskStatus{})
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrMalformed mentioning %q", tt.name, err, tt.want)
		}
	}
	// Unknown fields are ignored, as Mesos ignores them.
	if err := UnmarshalJSON([]byte(`{"task_id":{"value":"x"},"state":"TASK_RUNNING","future":1}`), &mesos.TaskStatus{}); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

func TestNegotiation(t *testing.T) {
	tests := []struct {
		accept string
		want   Codec
		err    error
	}{
		{"", JSON, nil},
		{"*/*", JSON, nil},
		{"application/json", JSON, nil},
		{"application/x-protobuf", Protobuf, nil},
		{"application/x-protobuf, application/json;q=0", Protobuf, nil},
		{"application/*", JSON, nil},
		{"text/html", nil, ErrNotAcceptable},
	}
	for _, tt := range tests {
		got, err := ForAccept(tt.accept)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ForAccept(%q) = %v, %v; want %v, %v", tt.accept, got, err, tt.want, tt.err)
		}
	}
	ctTests := []struct {
		ct   string
		want Codec
		err  error
	}{
		{"application/json", JSON, nil},
		{"application/json; charset=utf-8", JSON, nil},
		{"Application/X-Protobuf", Protobuf, nil},
		{"", nil, ErrMissingContentType},
		{"text/plain", nil, ErrUnsupportedMediaType},
	}
	for _, tt := range ctTests {
		got, err := ForContentType(tt.ct)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ForContentType(%q) = %v, %v; want %v, %v", tt.ct, got, err, tt.want, tt.err)
		}
	}
}

func TestRecordIO(t *testing.T) {
	for _, c := range []Codec{JSON, Protobuf} {
		var buf bytes.Buffer
		w := NewRecordIOWriter(&buf, c)
		for i := range 3 {
			s := sampleStatus()
			s.Message = proto.String(strings.Repeat("x", i*100))
			if err := w.Write(s); err != nil {
				t.Fatal(err)
			}
		}
		r := NewRecordIOReader(&buf, c)
		for i := range 3 {
			var s mesos.TaskStatus
			if err := r.Read(&s); err != nil {
				t.Fatalf("%s record %d: %v", c.ContentType(), i, err)
			}
			if len(s.GetMessage()) != i*100 {
				t.Fatalf("%s record %d: message length %d", c.ContentType(), i, len(s.GetMessage()))
			}
		}
		if _, err := r.ReadRecord(); err != io.EOF {
			t.Fatalf("after the last record: %v, want io.EOF", err)
		}
	}
	bad := []string{"abc\n{}", "5\n{}", "99999999999999\n"}
	for _, in := range bad {
		if _, err := NewRecordIOReader(strings.NewReader(in), JSON).ReadRecord(); err == nil || err == io.EOF {
			t.Errorf("ReadRecord(%q) = %v, want an error", in, err)
		}
	}
}

func FuzzUnmarshalJSON(f *testing.F) {
	b, _ := MarshalJSON(sampleStatus())
	f.Add(b)
	f.Add([]byte(`{"task_id":{"value":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s mesos.TaskStatus
		if UnmarshalJSON(data, &s) == nil {
			// Whatever decodes must encode and decode to the same message.
			out, _ := MarshalJSON(&s)
			var again mesos.TaskStatus
			if err := UnmarshalJSON(out, &again); err != nil {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
		}
	})
}

func BenchmarkMarshalJSONOffer(b *testing.B) {
	offer := &mesos.Offer{
		Id: &mesos.OfferID{Value: proto.String("o-1")}, FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
		AgentId: &mesos.AgentID{Value: proto.String("a")}, Hostname: proto.String("host-1"),
	}
	for _, n := range []string{"cpus", "mem", "disk"} {
		offer.Resources = append(offer.Resources, &mesos.Resource{Name: proto.String(n), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(8)}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalJSON(offer); err != nil {
			b.Fatal(err)
		}
	}
}
