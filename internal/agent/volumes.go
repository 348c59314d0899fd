package agent

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
	"github.com/plateau/plateau/internal/resources"
)

// Dynamic reservations and persistent volumes. The master decides them
// (RESERVE, CREATE, ...) and sends the agent its whole set of them
// (CheckpointResources); the agent checkpoints the set in its work dir,
// creates the directories of new volumes under work_dir/volumes and
// deletes those of destroyed ones. A task whose resources hold a volume
// finds it in its sandbox at the volume's container_path. Volumes outlive
// tasks, executors and agent restarts; only DESTROY removes their data.

func (a *Agent) resourcesCheckpointPath() string {
	return filepath.Join(a.metaDir(), "resources", "resources_info.pb")
}

// volumePath is where a persistent volume's data lives, as in Mesos:
// work_dir/volumes/roles/<role>/<persistence id>.
func (a *Agent) volumePath(v *mesos.Resource) string {
	return filepath.Join(a.cfg.WorkDir, "volumes", "roles", url.PathEscape(resources.ReservationRole(v)),
		url.PathEscape(v.GetDisk().GetPersistence().GetId()))
}

// recoverResources reads the checkpointed resources and computes the
// agent's total from them. It runs before the agent starts.
func (a *Agent) recoverResources() error {
	b, err := os.ReadFile(a.resourcesCheckpointPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: reading checkpointed resources: %w", err)
	}
	var cp plateaupb.CheckpointResources
	if err := proto.Unmarshal(b, &cp); err != nil {
		return fmt.Errorf("agent: corrupt checkpoint %s: %w", a.resourcesCheckpointPath(), err)
	}
	total, err := resources.ApplyCheckpointed(a.info.GetResources(), cp.GetResources())
	if err != nil {
		return fmt.Errorf("agent: %w (start with a fresh --work_dir or restore the old --resources)", err)
	}
	a.checkpointed, a.total = cp.GetResources(), total
	return nil
}

// checkpointResources takes the master's view of the agent's dynamic
// reservations and volumes and confirms the operations that asked for
// feedback. Runs on the loop.
func (a *Agent) checkpointResources(cr *plateaupb.CheckpointResources) {
	err := a.syncResources(cr.GetResources())
	if err != nil {
		a.log.Error("checkpointing resources", "err", err)
	}
	if len(cr.GetOperations()) > 0 {
		rc := &plateaupb.ResourcesCheckpointed{Operations: cr.GetOperations()}
		if err != nil {
			rc.Error = proto.String(err.Error())
		}
		a.send(&plateaupb.AgentMessage{Message: &plateaupb.AgentMessage_ResourcesCheckpointed{ResourcesCheckpointed: rc}})
	}
}

func (a *Agent) syncResources(checkpointed resources.Resources) error {
	total, err := resources.ApplyCheckpointed(a.info.GetResources(), checkpointed)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, r := range checkpointed {
		if resources.IsPersistentVolume(r) {
			p := a.volumePath(r)
			keep[p] = true
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("creating volume: %w", err)
			}
		}
	}
	if err := writeCheckpoint(a.resourcesCheckpointPath(), &plateaupb.CheckpointResources{Resources: checkpointed}); err != nil {
		return fmt.Errorf("writing %s: %w", a.resourcesCheckpointPath(), err)
	}
	for _, r := range a.checkpointed {
		if p := a.volumePath(r); resources.IsPersistentVolume(r) && !keep[p] {
			a.log.Info("deleting destroyed volume", "path", p)
			if err := os.RemoveAll(p); err != nil {
				a.log.Error("deleting a destroyed volume", "path", p, "err", err)
			}
		}
	}
	a.checkpointed, a.total = checkpointed, total
	a.log.Info("checkpointed resources", "resources", checkpointed.String(), "total", total.String())
	return nil
}

// linkVolumes makes the persistent volumes among a task's resources
// appear in the sandbox at their container paths (as Mesos's
// filesystem/posix isolator does, with a symlink).
func (a *Agent) linkVolumes(sandbox string, rs []*mesos.Resource) error {
	for _, r := range rs {
		if !resources.IsPersistentVolume(r) {
			continue
		}
		cp := r.GetDisk().GetVolume().GetContainerPath()
		if cp == "" || filepath.IsAbs(cp) || strings.HasPrefix(filepath.Clean(cp), "..") {
			return fmt.Errorf("volume %s: container_path %q must be relative to the sandbox", r.GetDisk().GetPersistence().GetId(), cp)
		}
		target, link := a.volumePath(r), filepath.Join(sandbox, cp)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if have, err := os.Readlink(link); err == nil && have == target {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("mounting volume %s at %s: %w", r.GetDisk().GetPersistence().GetId(), cp, err)
		}
	}
	return nil
}
