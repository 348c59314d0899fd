package resources

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

func mustParse(t testing.TB, s string) Resources {
	t.Helper()
	rs, err := Parse(s, "*")
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return rs
}

func TestParseAndString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cpus:2;mem:1024", "cpus:2; mem:1024"},
		{"cpus:1;cpus:1.5", "cpus:2.5"},
		{"ports:[31000-31005, 31003-31010,32000-32000]", "ports:[31000-31010, 32000-32000]"},
		{"cpus(web):2;cpus:1", "cpus(web):2; cpus:1"},
		{"zones:{b,a,b}", "zones:{a,b}"},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":3}}]`, "cpus:3"},
		{"cpus:0.1;cpus:0.2", "cpus:0.3"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.in).String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cpus", "name:value"},
		{"cpus:x", "not a number"},
		{"cpus:-1", "invalid scalar"},
		{"ports:[5-1]", "invalid range"},
		{"ports:[1-2", "unterminated"},
		{"cpus(web:1", "unterminated role"},
		{`[{"name":"cpus"`, "invalid JSON"},
		{":1", "no name"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, "*")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", tt.in, err, tt.want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	total := mustParse(t, "cpus:4;mem:1024;ports:[31000-31010];cpus(web):2")
	task := mustParse(t, "cpus:1.5;mem:512;ports:[31003-31004]")
	left := total.Subtract(task)
	if got, want := left.String(), "cpus:2.5; mem:512; ports:[31000-31002, 31005-31010]; cpus(web):2"; got != want {
		t.Fatalf("subtract = %q, want %q", got, want)
	}
	if !total.Contains(task) {
		t.Fatal("total must contain the task")
	}
	if left.Contains(mustParse(t, "ports:[31003-31003]")) {
		t.Fatal("a used port is still contained")
	}
	if total.Contains(mustParse(t, "cpus:5")) {
		t.Fatal("unreserved cpus:4 must not contain cpus:5 (reserved cpus are apart)")
	}
	if !left.Add(task).Equal(total) {
		t.Fatalf("(total - task) + task = %v, want %v", left.Add(task), total)
	}
	if !mustParse(t, "cpus:0.1").Add(mustParse(t, "cpus:0.2")).Equal(mustParse(t, "cpus:0.3")) {
		t.Fatal("fixed-point: 0.1 + 0.2 != 0.3")
	}
	if !total.Subtract(total).IsEmpty() {
		t.Fatal("x - x is not empty")
	}
	if total.Subtract(mustParse(t, "gpus:1")).String() != total.String() {
		t.Fatal("subtracting something absent changed the resources")
	}
}

func TestAllocatableTo(t *testing.T) {
	rs := mustParse(t, "cpus:1;cpus(eng):2;cpus(eng/web):4;cpus(ops):8")
	tests := []struct {
		role string
		want float64
	}{
		{"*", 1}, {"eng", 3}, {"eng/web", 7}, {"eng/web/x", 7}, {"ops", 9}, {"other", 1}, {"engineering", 1},
	}
	for _, tt := range tests {
		if got := rs.AllocatableTo(tt.role).Scalar("cpus"); got != tt.want {
			t.Errorf("AllocatableTo(%q) cpus = %v, want %v", tt.role, got, tt.want)
		}
	}
}

func TestAllocate(t *testing.T) {
	rs := mustParse(t, "cpus:1;mem:10").Allocate("web")
	for _, r := range rs {
		if r.GetAllocationInfo().GetRole() != "web" {
			t.Fatalf("%v not allocated to web", r)
		}
	}
	if mustParse(t, "cpus:1").Contains(rs) {
		t.Fatal("unallocated resources must not contain allocated ones")
	}
	if !rs.Unallocate().Equal(mustParse(t, "cpus:1;mem:10")) {
		t.Fatal("Unallocate did not undo Allocate")
	}
}

func TestQuantities(t *testing.T) {
	q := mustParse(t, "cpus:2;mem:100;cpus(web):1;ports:[1-10]").ScalarQuantities()
	if q.Get("cpus") != 3 || q.Get("mem") != 100 || q.Get("ports") != 0 {
		t.Fatalf("quantities %v", q)
	}
	small, _ := ParseQuantities("cpus:1;mem:50")
	if !q.Contains(small) || small.Contains(q) {
		t.Fatal("Contains is wrong")
	}
	if got := q.Subtract(small).String(); got != "cpus:2;mem:50" {
		t.Fatalf("subtract = %s", got)
	}
	if got := small.Add(small).String(); got != "cpus:2;mem:100" {
		t.Fatalf("add = %s", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("cpus:2;mem:1024;ports:[31000-32000];cpus(web):1")
	f.Add("zones:{a,b}")
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := Parse(s, "*")
		if err != nil {
			return
		}
		// What parses is valid and survives subtraction from itself.
		if err := Validate(rs); err != nil {
			t.Fatalf("Parse(%q) returned invalid resources: %v", s, err)
		}
		if !rs.Subtract(rs).IsEmpty() {
			t.Fatalf("%q - itself is not empty", s)
		}
	})
}

func BenchmarkSubtractContains(b *testing.B) {
	agent := mustParse(b, "cpus:16;mem:65536;disk:100000;ports:[31000-32000];cpus(web):4;mem(web):4096")
	task := mustParse(b, "cpus:0.5;mem:256;ports:[31100-31101]")
	b.ReportAllocs()
	for b.Loop() {
		if !agent.Contains(task) {
			b.Fatal("not contained")
		}
		_ = agent.Subtract(task).Add(task)
	}
}

func TestSubtractAllocated(t *testing.T) {
	total := mustParse(t, "cpus:4;mem:1024;ports:[1-10]")
	used := mustParse(t, "cpus:1;mem:24;ports:[2-3]").Allocate("web")
	if got, want := total.SubtractAllocated(used).String(), "cpus:3; mem:1000; ports:[1-1, 4-10]"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !total.SubtractAllocated(used).Equal(total.Subtract(used.Unallocate())) {
		t.Fatal("SubtractAllocated differs from Subtract of the unallocated resources")
	}
}

// Sum adds up a list as Add does, whatever the mix of roles, types and
// reservations.
func TestSumIsAdd(t *testing.T) {
	var all []*mesos.Resource
	for _, text := range []string{
		"cpus:0.1;mem:32", "cpus:0.1;mem:32;ports:[31000-31001]", "cpus(web):1;disk:0", "ports:[31002-31005];zones:{a}",
		"cpus:0.0001", "mem:1.5;zones:{b};cpus(web):0.5", "gpus:1",
	} {
		rs, err := Parse(text, "*")
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rs...)
		all = append(all, rs.Allocate("r")...)
	}
	for n := 0; n <= len(all); n++ {
		want, got := Resources(nil).Add(all[:n]), Sum(all[:n])
		same := len(want) == len(got)
		for i := 0; same && i < len(want); i++ {
			same = proto.Equal(want[i], got[i])
		}
		if !same {
			t.Fatalf("Sum of the first %d = %v, Add gives %v", n, got, want)
		}
	}
}
