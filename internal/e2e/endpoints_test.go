package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/plateau/plateau/internal/cluster"
)

// The JSON endpoints tools scrape, in Mesos's layouts.
func TestMasterEndpoints(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-endpoints"))
	offer := s.offer()
	s.call(launch(offer, commandTask("t1", offer, "sleep 1000"), commandTask("t2", offer, "sleep 1000"), commandTask("t3", offer, "true")))
	s.reach(map[string]mesos.TaskState{"t1": mesos.TASK_RUNNING, "t2": mesos.TASK_RUNNING, "t3": mesos.TASK_FINISHED})
	base := "http://" + c.MasterAddr()

	var tasks struct {
		Tasks []struct {
			ID string `json:"id"`
		} `json:"tasks"`
	}
	getJSON(t, base+"/master/tasks?limit=2&offset=0&order=des", &tasks)
	if len(tasks.Tasks) != 2 || tasks.Tasks[0].ID != "t3" || tasks.Tasks[1].ID != "t2" {
		t.Fatalf("/master/tasks?limit=2&order=des: %+v", tasks)
	}
	getJSON(t, base+"/master/tasks?offset=1", &tasks)
	if len(tasks.Tasks) != 2 || tasks.Tasks[0].ID != "t2" {
		t.Fatalf("/master/tasks?offset=1: %+v", tasks)
	}
	if resp, _ := http.Get(base + "/master/tasks?order=sideways"); resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("/master/tasks?order=sideways: %v", resp)
	}

	var summary struct {
		Slaves []struct {
			ID           string   `json:"id"`
			Running      int      `json:"TASK_RUNNING"`
			FrameworkIDs []string `json:"framework_ids"`
		} `json:"slaves"`
		Frameworks []struct {
			ID       string   `json:"id"`
			Running  int      `json:"TASK_RUNNING"`
			Finished int      `json:"TASK_FINISHED"`
			SlaveIDs []string `json:"slave_ids"`
		} `json:"frameworks"`
	}
	getJSON(t, base+"/master/state-summary", &summary)
	if len(summary.Slaves) != 1 || summary.Slaves[0].Running != 2 || len(summary.Slaves[0].FrameworkIDs) != 1 ||
		len(summary.Frameworks) != 1 || summary.Frameworks[0].Running != 2 || summary.Frameworks[0].Finished != 1 {
		t.Fatalf("/master/state-summary: %+v", summary)
	}

	var slaves struct {
		Slaves []struct {
			ID        string             `json:"id"`
			Resources map[string]any     `json:"resources"`
			Used      map[string]float64 `json:"used_resources"`
		} `json:"slaves"`
	}
	getJSON(t, base+"/master/slaves", &slaves)
	if len(slaves.Slaves) != 1 || slaves.Slaves[0].Used["cpus"] != 0.2 || slaves.Slaves[0].Resources["ports"] != "[31000-31099]" {
		t.Fatalf("/master/slaves: %+v", slaves)
	}
	for _, path := range []string{"/master/state", "/master/slaves", "/master/tasks", "/master/state-summary"} {
		// Mesos's ?jsonp=callback, which its web UI used.
		resp, err := http.Get(base + path + "?jsonp=cb")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inner, ok := bytes.CutPrefix(bytes.TrimSpace(body), []byte("cb("))
		inner, ok2 := bytes.CutSuffix(inner, []byte(");"))
		if !ok || !ok2 || !json.Valid(inner) {
			t.Fatalf("%s?jsonp=cb is not cb(JSON);: %.200s", path, body)
		}
	}
	var frameworks struct {
		Frameworks []struct {
			Name string `json:"name"`
		} `json:"frameworks"`
	}
	getJSON(t, base+"/master/frameworks", &frameworks)
	if len(frameworks.Frameworks) != 1 || frameworks.Frameworks[0].Name != "e2e-endpoints" {
		t.Fatalf("/master/frameworks: %+v", frameworks)
	}
	var roles struct {
		Roles []struct {
			Name       string   `json:"name"`
			Frameworks []string `json:"frameworks"`
		} `json:"roles"`
	}
	getJSON(t, base+"/master/roles", &roles)
	if len(roles.Roles) != 1 || roles.Roles[0].Name != "*" || len(roles.Roles[0].Frameworks) != 1 {
		t.Fatalf("/master/roles: %+v", roles)
	}
	var flags struct {
		Flags map[string]string `json:"flags"`
	}
	getJSON(t, base+"/master/flags", &flags)
	if flags.Flags["port"] == "" {
		t.Fatalf("/master/flags: %+v", flags)
	}

	resp, err := http.PostForm(base+"/master/teardown", url.Values{"frameworkId": {s.id}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/master/teardown: %v %v", resp, err)
	}
	resp, err = http.PostForm(base+"/master/teardown", url.Values{"frameworkId": {"nobody"}})
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("/master/teardown of an unknown framework: %v %v", resp, err)
	}
}

func TestAgentEndpoints(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	s := subscribe(t, c.MasterAddr(), encodings[0], frameworkInfo("e2e-agent-endpoints"))
	offer := s.offer()
	s.call(launch(offer, commandTask("m1", offer, "sleep 1000")))
	s.reach(map[string]mesos.TaskState{"m1": mesos.TASK_RUNNING})
	base := "http://" + c.Agents[0].Addr()
	var metrics map[string]float64
	getJSON(t, base+"/metrics/snapshot", &metrics)
	if metrics["slave/registered"] != 1 || metrics["slave/tasks_running"] != 1 || metrics["slave/cpus_total"] != 4 ||
		metrics["slave/cpus_used"] != 0.1 || metrics["slave/executors_running"] != 1 {
		t.Fatalf("agent /metrics/snapshot: %v", metrics)
	}
	var flags struct {
		Flags map[string]string `json:"flags"`
	}
	getJSON(t, base+"/flags", &flags)
	if flags.Flags["master"] != c.MasterAddr() {
		t.Fatalf("agent /flags: %v", flags)
	}
	var version map[string]any
	getJSON(t, base+"/version", &version)
	if version["version"] != "1.11.0" {
		t.Fatalf("agent /version: %v", version)
	}
}
