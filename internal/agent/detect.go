package agent

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/resources"
)

// totalResources is --resources with what it leaves out detected as Mesos
// does (src/slave/containerizer/containerizer.cpp): all CPUs, memory less
// what the host keeps (1 GB, or half when there are less than 2 GB), the
// work dir's disk less 10% (at most 5 GB), and ports 31000-32000.
func totalResources(cfg *Config) (resources.Resources, error) {
	rs, err := resources.Parse(cfg.Resources, "*")
	if err != nil {
		return nil, err
	}
	has := func(name string) bool {
		for _, r := range rs {
			if r.GetName() == name {
				return true
			}
		}
		return false
	}
	scalar := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	}
	var add []*mesos.Resource
	if !has("cpus") {
		add = append(add, scalar("cpus", float64(runtime.NumCPU())))
	}
	if !has("mem") {
		mb, err := totalMemoryMB()
		if err != nil {
			return nil, fmt.Errorf("detecting memory (set --resources mem:...): %w", err)
		}
		if mb >= 2048 {
			mb -= 1024
		} else {
			mb /= 2
		}
		add = append(add, scalar("mem", float64(mb)))
	}
	if !has("disk") {
		var st syscall.Statfs_t
		if err := syscall.Statfs(cfg.WorkDir, &st); err != nil {
			return nil, fmt.Errorf("detecting disk of %s (set --resources disk:...): %w", cfg.WorkDir, err)
		}
		mb := float64(st.Blocks) * float64(st.Bsize) / (1 << 20)
		add = append(add, scalar("disk", float64(int64(mb-min(mb*0.1, 5*1024)))))
	}
	if !has("ports") {
		add = append(add, &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
			Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(32000)}}}})
	}
	return rs.Add(add), nil
}

func totalMemoryMB() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// parseAttributes reads Mesos's attribute text: "name:value;..." where a
// value is a number (SCALAR), a [range], a {set} or text.
func parseAttributes(text string) ([]*mesos.Attribute, error) {
	var attrs []*mesos.Attribute
	for _, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%q is not of the form name:value", part)
		}
		a := &mesos.Attribute{Name: proto.String(strings.TrimSpace(name))}
		value = strings.TrimSpace(value)
		if strings.HasPrefix(value, "[") || strings.HasPrefix(value, "{") {
			rs, err := resources.Parse(a.GetName()+":"+value, "*")
			if err != nil || len(rs) != 1 {
				return nil, fmt.Errorf("attribute %q: bad value %q", a.GetName(), value)
			}
			a.Type, a.Ranges, a.Set = rs[0].Type, rs[0].Ranges, rs[0].Set
		} else if v, err := strconv.ParseFloat(value, 64); err == nil {
			a.Type = mesos.Value_SCALAR.Enum()
			a.Scalar = &mesos.Value_Scalar{Value: proto.Float64(v)}
		} else {
			a.Type = mesos.Value_TEXT.Enum()
			a.Text = &mesos.Value_Text{Value: proto.String(value)}
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}
