package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/maintenance"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/model"
)

const maintenanceUsage = `maintenance status | maintenance schedule [add --start TIME --duration D MACHINE... | clear] | maintenance down MACHINE... | maintenance up MACHINE...
  MACHINE is HOSTNAME, HOSTNAME=IP or =IP`

// runMaintenance is `plateau maintenance ...`: the maintenance schedule
// and machines' modes, through the operator API.
func runMaintenance(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New(maintenanceUsage)}
	}
	verb, args := args[0], args[1:]
	if verb == "schedule" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = "schedule "+args[0], args[1:]
	}
	fs := newFlagSet("maintenance "+verb, maintenanceUsage, env)
	var f inspectFlags
	f.register(fs)
	start := fs.String("start", "", "schedule add: when the window starts (RFC 3339, e.g. 2026-12-01T10:00:00Z)")
	duration := fs.Duration("duration", time.Hour, "schedule add: how long the machines are unavailable")
	positional, err := parseInterspersed(fs, args, env)
	if err != nil {
		return err
	}
	op := &client.Operator{Master: f.master}
	call := func(c *masterpb.Call) (*masterpb.Response, error) {
		resp, err := op.Call(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("asking %s: %w", f.master, err)
		}
		return resp, nil
	}
	machines := func() ([]*mesos.MachineID, error) {
		if len(positional) == 0 {
			return nil, usageError{errors.New("which machines? " + maintenanceUsage)}
		}
		var ids []*mesos.MachineID
		for _, a := range positional {
			host, ip, _ := strings.Cut(a, "=")
			id := &mesos.MachineID{}
			if host != "" {
				id.Hostname = proto.String(host)
			}
			if ip != "" {
				id.Ip = proto.String(ip)
			}
			ids = append(ids, id)
		}
		return ids, nil
	}
	switch verb {
	case "status":
		resp, err := call(&masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_STATUS.Enum()})
		if err != nil {
			return err
		}
		st := resp.GetGetMaintenanceStatus().GetStatus()
		if f.json {
			return printJSON(env.Stdout, model.Proto(st))
		}
		var rows [][]string
		for _, m := range st.GetDrainingMachines() {
			var answers []string
			for _, s := range m.GetStatuses() {
				answers = append(answers, s.GetFrameworkId().GetValue()+":"+s.GetStatus().String())
			}
			rows = append(rows, []string{machineName(m.GetId()), "DRAINING", orDash(strings.Join(answers, " "))})
		}
		for _, m := range st.GetDownMachines() {
			rows = append(rows, []string{machineName(m), "DOWN", "-"})
		}
		table(env.Stdout, "MACHINE\tMODE\tINVERSE OFFERS", rows)
		return nil
	case "schedule":
		resp, err := call(&masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_SCHEDULE.Enum()})
		if err != nil {
			return err
		}
		s := resp.GetGetMaintenanceSchedule().GetSchedule()
		if f.json {
			return printJSON(env.Stdout, model.Proto(s))
		}
		var rows [][]string
		for _, w := range s.GetWindows() {
			u := w.GetUnavailability()
			when := time.Unix(0, u.GetStart().GetNanoseconds()).UTC().Format(time.RFC3339)
			dur := "-"
			if u.GetDuration() != nil {
				dur = time.Duration(u.GetDuration().GetNanoseconds()).String()
			}
			var names []string
			for _, id := range w.GetMachineIds() {
				names = append(names, machineName(id))
			}
			rows = append(rows, []string{when, dur, strings.Join(names, " ")})
		}
		table(env.Stdout, "START\tDURATION\tMACHINES", rows)
		return nil
	case "schedule add", "schedule clear":
		s := &maintenance.Schedule{}
		if verb == "schedule add" {
			resp, err := call(&masterpb.Call{Type: masterpb.Call_GET_MAINTENANCE_SCHEDULE.Enum()})
			if err != nil {
				return err
			}
			s = resp.GetGetMaintenanceSchedule().GetSchedule()
			at, err := time.Parse(time.RFC3339, *start)
			if err != nil {
				return usageError{fmt.Errorf("--start %q: %w", *start, err)}
			}
			ids, err := machines()
			if err != nil {
				return err
			}
			s.Windows = append(s.Windows, &maintenance.Window{MachineIds: ids, Unavailability: &mesos.Unavailability{
				Start:    &mesos.TimeInfo{Nanoseconds: proto.Int64(at.UnixNano())},
				Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(duration.Nanoseconds())}}})
		}
		_, err = call(&masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
			UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: s}})
		return err
	case "down", "up":
		ids, err := machines()
		if err != nil {
			return err
		}
		c := &masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(), StartMaintenance: &masterpb.Call_StartMaintenance{Machines: ids}}
		if verb == "up" {
			c = &masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum(), StopMaintenance: &masterpb.Call_StopMaintenance{Machines: ids}}
		}
		_, err = call(c)
		return err
	}
	return usageError{fmt.Errorf("unknown maintenance command %q\n%s", verb, maintenanceUsage)}
}

func machineName(id *mesos.MachineID) string {
	if id.GetIp() == "" {
		return id.GetHostname()
	}
	return id.GetHostname() + "=" + id.GetIp()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
