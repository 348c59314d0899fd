package e2e

import (
	"context"
	"testing"

	mesoslib "github.com/mesos/mesos-go/api/v1/lib"
	mastercalls "github.com/mesos/mesos-go/api/v1/lib/master/calls"
	mesosquota "github.com/mesos/mesos-go/api/v1/lib/quota"

	"google.golang.org/protobuf/proto"

	mesospb "github.com/plateau/plateau/internal/api/mesos/v1"
	masterpb "github.com/plateau/plateau/internal/api/mesos/v1/master"
	"github.com/plateau/plateau/internal/api/mesos/v1/quota"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
)

// UPDATE_QUOTA sets a role's limit: its framework is never offered more;
// the quota survives a master restart.
func TestQuotaLimit(t *testing.T) {
	dir := t.TempDir()
	c := cluster.Start(t, cluster.Options{Master: func(c *masterConfig) { c.WorkDir = dir }})
	op := &client.Operator{Master: c.MasterAddr()}
	update := &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{
		QuotaConfigs: []*quota.QuotaConfig{{Role: proto.String("dev"),
			Limits: map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(1.5)}}}}}}
	if _, err := op.Call(context.Background(), update); err != nil {
		t.Fatal(err)
	}
	bad := &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{
		QuotaConfigs: []*quota.QuotaConfig{{Role: proto.String("dev"),
			Guarantees: map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(2)}},
			Limits:     map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(1)}}}}}}
	if _, err := op.Call(context.Background(), bad); !client.IsStatus(err, 400) {
		t.Fatalf("a guarantee above its limit: %v, want 400", err)
	}

	info := frameworkInfo("e2e-quota")
	info.Role = ptr("dev")
	s := subscribe(t, c.MasterAddr(), encodings[0], info)
	offer := s.offer()
	cpus := 0.0
	for _, r := range offer.Resources {
		if r.Name == "cpus" {
			cpus += r.GetScalar().Value
		}
	}
	if cpus != 1.5 {
		t.Fatalf("offered %v cpus to a role limited to 1.5", cpus)
	}
	var status struct {
		Configs []struct {
			Role   string                    `json:"role"`
			Limits map[string]map[string]any `json:"limits"`
		} `json:"configs"`
	}
	getJSON(t, "http://"+c.MasterAddr()+"/master/quota", &status)
	if len(status.Configs) != 1 || status.Configs[0].Role != "dev" || status.Configs[0].Limits["cpus"]["value"] != 1.5 {
		t.Fatalf("/master/quota: %+v", status)
	}

	if err := c.RestartMaster(); err != nil {
		t.Fatal(err)
	}
	op = &client.Operator{Master: c.MasterAddr()}
	resp, err := op.Call(context.Background(), &masterpb.Call{Type: masterpb.Call_GET_QUOTA.Enum()})
	if err != nil {
		t.Fatal(err)
	}
	if cfgs := resp.GetGetQuota().GetStatus().GetConfigs(); len(cfgs) != 1 || cfgs[0].GetLimits()["cpus"].GetValue() != 1.5 {
		t.Fatalf("GET_QUOTA after a restart: %v", cfgs)
	}
}

// SET_QUOTA and REMOVE_QUOTA, the calls before Mesos 1.9: the guarantee
// becomes the role's guarantee and limit.
func TestDeprecatedQuotaCalls(t *testing.T) {
	for _, codec := range encodings {
		t.Run(name(codec), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{})
			op := operator(c.MasterAddr(), codec)
			mustSend(t, op, mastercalls.SetQuota(mesosquota.QuotaRequest{Role: ptr("batch"), Guarantee: []mesoslib.Resource{scalar("cpus", 2)}}))
			cfgs := operatorCall(t, op, mastercalls.GetQuota()).GetGetQuota().Status.Configs
			if len(cfgs) != 1 || cfgs[0].Role != "batch" || cfgs[0].Guarantees["cpus"].Value != 2 || cfgs[0].Limits["cpus"].Value != 2 {
				t.Fatalf("GET_QUOTA after SET_QUOTA: %v", cfgs)
			}
			mustSend(t, op, mastercalls.RemoveQuota("batch"))
			if cfgs := operatorCall(t, op, mastercalls.GetQuota()).GetGetQuota().Status.Configs; len(cfgs) != 0 {
				t.Fatalf("GET_QUOTA after REMOVE_QUOTA: %v", cfgs)
			}
		})
	}
}
