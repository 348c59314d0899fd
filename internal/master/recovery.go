package master

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/registry"
)

// openRegistry opens the registry in --work_dir, or keeps it in memory
// when there is none.
func (m *Master) openRegistry() error {
	if m.cfg.WorkDir == "" {
		m.registry = &registry.Memory{}
		return nil
	}
	if err := os.MkdirAll(m.cfg.WorkDir, 0o755); err != nil {
		return fmt.Errorf("master: work dir: %w", err)
	}
	b, err := registry.OpenBolt(filepath.Join(m.cfg.WorkDir, "registry.db"))
	if err != nil {
		return err
	}
	m.registry = b
	return nil
}

// record makes a registry entry durable. Runs on the loop.
func (m *Master) record(e *plateaupb.RegistryEntry) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.registry.Apply(ctx, e); err != nil {
		m.log.Error("registry write failed", "err", err)
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// recoverFrameworks brings back the frameworks the registry remembers: they
// are disconnected until their schedulers re-subscribe, and removed if
// that does not happen within their failover_timeout. Runs on the loop.
func (m *Master) recoverFrameworks() {
	now := time.Now()
	for _, info := range m.recovered.GetFrameworks() {
		id := info.GetId().GetValue()
		if m.frameworks[id] != nil {
			continue
		}
		fw := newFramework(id, now)
		m.setFrameworkInfo(fw, proto.Clone(info).(*mesos.FrameworkInfo))
		m.frameworks[id] = fw
		m.alloc.AddFramework(id, allocatorFramework(fw.info), m.usedByFramework(id), false)
		m.startFailover(fw)
		m.log.Info("recovered framework from the registry", "framework", id, "name", info.GetName())
	}
}
