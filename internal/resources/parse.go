package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/plateau/plateau/internal/api/codec"
	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
)

// Parse reads an agent's --resources: either Mesos's text form,
// "cpus:2;mem:1024;ports:[31000-32000];cpus(web):1;zones:{a,b}", where a
// role in parentheses statically reserves the resource for it, or a JSON
// array of Resource objects. defaultRole applies to text entries without a
// role ("*" means unreserved).
func Parse(text, defaultRole string) (Resources, error) {
	text = strings.TrimSpace(text)
	var rs Resources
	if strings.HasPrefix(text, "[") {
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(text), &raw); err != nil {
			return nil, fmt.Errorf("resources: invalid JSON: %w", err)
		}
		for i, item := range raw {
			r := &mesos.Resource{}
			if err := codec.UnmarshalJSON(item, r); err != nil {
				return nil, fmt.Errorf("resources: JSON element %d: %w", i, err)
			}
			rs = rs.add1(r)
		}
	} else {
		for _, part := range strings.Split(text, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			r, err := parseOne(part, defaultRole)
			if err != nil {
				return nil, err
			}
			rs = rs.add1(r)
		}
	}
	if err := Validate(rs); err != nil {
		return nil, err
	}
	return rs, nil
}

func parseOne(part, defaultRole string) (*mesos.Resource, error) {
	name, value, ok := strings.Cut(part, ":")
	if !ok {
		return nil, fmt.Errorf("resources: %q is not of the form name:value", part)
	}
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	role := defaultRole
	if open := strings.Index(name, "("); open >= 0 {
		if !strings.HasSuffix(name, ")") {
			return nil, fmt.Errorf("resources: %q: unterminated role", part)
		}
		role = name[open+1 : len(name)-1]
		name = name[:open]
	}
	if name == "" {
		return nil, fmt.Errorf("resources: %q has no name", part)
	}
	r := &mesos.Resource{Name: proto.String(name)}
	if role != "" && role != "*" {
		r.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}}
	}
	switch {
	case strings.HasPrefix(value, "["):
		if !strings.HasSuffix(value, "]") {
			return nil, fmt.Errorf("resources: %q: unterminated ranges", part)
		}
		var ranges []*mesos.Value_Range
		for _, rg := range strings.Split(value[1:len(value)-1], ",") {
			rg = strings.TrimSpace(rg)
			if rg == "" {
				continue
			}
			lo, hi, found := strings.Cut(rg, "-")
			if !found {
				hi = lo
			}
			b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
			e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("resources: %q: bad range %q", part, rg)
			}
			ranges = append(ranges, &mesos.Value_Range{Begin: proto.Uint64(b), End: proto.Uint64(e)})
		}
		r.Type = mesos.Value_RANGES.Enum()
		r.Ranges = &mesos.Value_Ranges{Range: ranges}
	case strings.HasPrefix(value, "{"):
		if !strings.HasSuffix(value, "}") {
			return nil, fmt.Errorf("resources: %q: unterminated set", part)
		}
		var items []string
		for _, it := range strings.Split(value[1:len(value)-1], ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		r.Type = mesos.Value_SET.Enum()
		r.Set = &mesos.Value_Set{Item: items}
	default:
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("resources: %q: %q is not a number, a [range] or a {set}", part, value)
		}
		r.Type = mesos.Value_SCALAR.Enum()
		r.Scalar = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	return r, nil
}
