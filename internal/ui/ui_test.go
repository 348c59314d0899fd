package ui_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/mesos/v1/scheduler"
	"github.com/plateau/plateau/internal/client"
	"github.com/plateau/plateau/internal/cluster"
	"github.com/plateau/plateau/internal/resources"
	"github.com/plateau/plateau/internal/testenv"
)

func TestMain(m *testing.M) {
	cluster.RunIfExecutor()
	os.Exit(m.Run())
}

// chromium finds Debian's chromium; the test skips without it, except
// under PLATEAU_TEST_STRICT (CI installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	testenv.Unavailable(t, "no chromium here to drive the web UI with (Debian: apt-get install chromium)")
	return ""
}

// framework launches tasks through the scheduler API, one per offer.
type framework struct {
	t   *testing.T
	sub *client.Subscription
}

func newFramework(t *testing.T, master string) *framework {
	sub, err := (&client.Scheduler{Master: master}).Subscribe(context.Background(), &mesos.FrameworkInfo{
		User: proto.String("root"), Name: proto.String("ui-test-framework")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return &framework{t: t, sub: sub}
}

// launch starts a task and waits until it runs.
func (f *framework) launch(id, command string) {
	f.t.Helper()
	need, _ := resources.Parse("cpus:0.1;mem:32", "*")
	ctx := context.Background()
	launched := false
	for {
		ev, err := f.sub.Next()
		if err != nil {
			f.t.Fatal(err)
		}
		switch ev.GetType() {
		case scheduler.Event_OFFERS:
			for _, o := range ev.GetOffers().GetOffers() {
				var ops []*mesos.Offer_Operation
				if !launched {
					launched = true
					ops = append(ops, client.Launch(&mesos.TaskInfo{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
						AgentId: o.GetAgentId(), Resources: need.Allocate(o.GetAllocationInfo().GetRole()),
						Command: &mesos.CommandInfo{Value: proto.String(command)}}))
				}
				if err := f.sub.Call(ctx, client.Accept([]*mesos.OfferID{o.GetId()}, ops, 0)); err != nil {
					f.t.Fatal(err)
				}
			}
		case scheduler.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			if err := f.sub.Call(ctx, client.Acknowledge(st)); err != nil {
				f.t.Fatal(err)
			}
			if st.GetTaskId().GetValue() == id && st.GetState() == mesos.TaskState_TASK_RUNNING {
				return
			}
		}
	}
}

// The web UI against a running cluster, in headless Chromium: the agent,
// the framework and a running task appear; clicking the task shows its
// stdout; a task launched later appears without reloading the page.
func TestWebUI(t *testing.T) {
	browser := chromium(t)
	c := cluster.Start(t, cluster.Options{})
	fw := newFramework(t, c.MasterAddr())
	fw.launch("first", "echo hello-from-first; sleep 1000")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1440, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first run starts the browser; its context must not time out.
	if err := chromedp.Do(browserCtx, chromedp.Navigate("http://"+c.MasterAddr()+"/")); err != nil {
		t.Fatal(err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 90*time.Second)
	defer cancelTimeout()

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#tasks tr[data-task="first"]`)),
		chromedp.Evaluate[chromedp.Void](`window.plateauLoaded = true`),
	); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#roles tbody tr`))); err != nil {
		t.Fatal(err)
	}
	state, frameworks, agents, roles := text(`#tasks tr[data-task="first"] td.state`), text(`#frameworks tbody`), text(`#agents tbody`), text(`#roles tbody`)
	if state != "RUNNING" || !strings.Contains(frameworks, "ui-test-framework") || !strings.Contains(agents, "active") || !strings.HasPrefix(roles, "*") {
		t.Fatalf("the page shows task state %q, frameworks %q, agents %q, roles %q", state, frameworks, agents, roles)
	}
	shot(t, ctx, "overview")

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tasks tr[data-task="first"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("#d-log").textContent.includes("hello-from-first")`,
			chromedp.WithPollingTimeout(30*time.Second)),
	); err != nil {
		t.Fatalf("the task's stdout did not show: %v", err)
	}
	shot(t, ctx, "task")

	fw.launch("second", "sleep 1000")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#close`)),
		chromedp.WaitVisible(chromedp.CSS(`#tasks tr[data-task="second"]`)),
	); err != nil {
		t.Fatalf("a new task did not appear: %v", err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.plateauLoaded === true`))
	if err != nil || !loaded {
		t.Fatalf("the page reloaded to show the new task (%v)", err)
	}
}

// shot saves a screenshot in docs/screenshots when
// PLATEAU_UPDATE_SCREENSHOTS is set (how the README's were made).
func shot(t *testing.T, ctx context.Context, name string) {
	if os.Getenv("PLATEAU_UPDATE_SCREENSHOTS") == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "screenshots", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
