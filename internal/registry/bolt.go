package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/plateau/plateau/internal/api/mesos/v1/quota"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	mesos "github.com/plateau/plateau/internal/api/mesos/v1"
	"github.com/plateau/plateau/internal/api/plateaupb"
)

// Bolt is a Store in a bbolt file: one bucket per kind of record, one key
// per record, so that an entry writes a few bytes however large the
// registry grows. bbolt syncs each transaction to disk before Apply
// returns.
type Bolt struct{ db *bolt.DB }

var (
	bucketAgents     = []byte("agents")
	bucketFrameworks = []byte("frameworks")
	bucketWeights    = []byte("weights")
	bucketQuotas     = []byte("quotas")
	// bucketAgentResources holds agents' dynamic reservations and volumes.
	bucketAgentResources = []byte("agent_resources")
	// bucketMaintenance holds the maintenance state under one key.
	bucketMaintenance = []byte("maintenance")
	// bucketUnreachable and bucketGone hold removed agents.
	bucketUnreachable = []byte("unreachable")
	bucketGone        = []byte("gone")
)

// OpenBolt opens (or creates) the registry file.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("registry: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAgents, bucketFrameworks, bucketWeights, bucketQuotas, bucketAgentResources, bucketMaintenance, bucketUnreachable, bucketGone} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &Bolt{db: db}, nil
}

// Apply writes the records an entry changes, in one transaction.
func (b *Bolt) Apply(_ context.Context, e *plateaupb.RegistryEntry) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		put := func(bucket []byte, key string, m proto.Message) error {
			v, err := proto.Marshal(m)
			if err != nil {
				return err
			}
			return tx.Bucket(bucket).Put([]byte(key), v)
		}
		switch x := e.GetEntry().(type) {
		case *plateaupb.RegistryEntry_AdmitAgent:
			return put(bucketAgents, x.AdmitAgent.GetId().GetValue(), x.AdmitAgent)
		case *plateaupb.RegistryEntry_RemoveAgent:
			if err := tx.Bucket(bucketAgentResources).Delete([]byte(x.RemoveAgent.GetValue())); err != nil {
				return err
			}
			return tx.Bucket(bucketAgents).Delete([]byte(x.RemoveAgent.GetValue()))
		case *plateaupb.RegistryEntry_UpdateMaintenance:
			return put(bucketMaintenance, "state", x.UpdateMaintenance)
		case *plateaupb.RegistryEntry_MarkUnreachable:
			return put(bucketUnreachable, x.MarkUnreachable.GetAgentId().GetValue(), x.MarkUnreachable)
		case *plateaupb.RegistryEntry_MarkGone:
			if err := tx.Bucket(bucketUnreachable).Delete([]byte(x.MarkGone.GetAgentId().GetValue())); err != nil {
				return err
			}
			return put(bucketGone, x.MarkGone.GetAgentId().GetValue(), x.MarkGone)
		case *plateaupb.RegistryEntry_MarkReachable:
			return tx.Bucket(bucketUnreachable).Delete([]byte(x.MarkReachable.GetValue()))
		case *plateaupb.RegistryEntry_ForgetAgents:
			for _, id := range x.ForgetAgents.GetAgentIds() {
				for _, b := range [][]byte{bucketUnreachable, bucketGone} {
					if err := tx.Bucket(b).Delete([]byte(id.GetValue())); err != nil {
						return err
					}
				}
			}
		case *plateaupb.RegistryEntry_UpdateAgentResources:
			key := x.UpdateAgentResources.GetAgentId().GetValue()
			if len(x.UpdateAgentResources.GetResources()) == 0 {
				return tx.Bucket(bucketAgentResources).Delete([]byte(key))
			}
			return put(bucketAgentResources, key, x.UpdateAgentResources)
		case *plateaupb.RegistryEntry_AddFramework:
			return put(bucketFrameworks, x.AddFramework.GetId().GetValue(), x.AddFramework)
		case *plateaupb.RegistryEntry_RemoveFramework:
			return tx.Bucket(bucketFrameworks).Delete([]byte(x.RemoveFramework.GetValue()))
		case *plateaupb.RegistryEntry_UpdateQuota:
			for _, q := range x.UpdateQuota.GetConfigs() {
				if len(q.GetGuarantees()) == 0 && len(q.GetLimits()) == 0 {
					if err := tx.Bucket(bucketQuotas).Delete([]byte(q.GetRole())); err != nil {
						return err
					}
				} else if err := put(bucketQuotas, q.GetRole(), q); err != nil {
					return err
				}
			}
		case *plateaupb.RegistryEntry_UpdateWeights:
			for _, w := range x.UpdateWeights.GetWeights() {
				if err := put(bucketWeights, w.GetRole(), w); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Load reads every record.
func (b *Bolt) Load() (*plateaupb.Registry, error) {
	reg := &plateaupb.Registry{}
	err := b.db.View(func(tx *bolt.Tx) error {
		each := func(bucket []byte, fn func(v []byte) error) error {
			return tx.Bucket(bucket).ForEach(func(_, v []byte) error { return fn(v) })
		}
		if err := each(bucketAgents, func(v []byte) error {
			a := &mesos.AgentInfo{}
			reg.Agents = append(reg.Agents, a)
			return proto.Unmarshal(v, a)
		}); err != nil {
			return err
		}
		if err := each(bucketFrameworks, func(v []byte) error {
			f := &mesos.FrameworkInfo{}
			reg.Frameworks = append(reg.Frameworks, f)
			return proto.Unmarshal(v, f)
		}); err != nil {
			return err
		}
		if err := each(bucketQuotas, func(v []byte) error {
			q := &quota.QuotaConfig{}
			reg.Quotas = append(reg.Quotas, q)
			return proto.Unmarshal(v, q)
		}); err != nil {
			return err
		}
		for _, part := range []struct {
			bucket []byte
			list   *[]*plateaupb.RemovedAgent
		}{{bucketUnreachable, &reg.Unreachable}, {bucketGone, &reg.Gone}} {
			if err := each(part.bucket, func(v []byte) error {
				a := &plateaupb.RemovedAgent{}
				*part.list = append(*part.list, a)
				return proto.Unmarshal(v, a)
			}); err != nil {
				return err
			}
		}
		if v := tx.Bucket(bucketMaintenance).Get([]byte("state")); v != nil {
			reg.Maintenance = &plateaupb.MaintenanceUpdate{}
			if err := proto.Unmarshal(v, reg.Maintenance); err != nil {
				return err
			}
		}
		if err := each(bucketAgentResources, func(v []byte) error {
			a := &plateaupb.AgentResources{}
			reg.AgentResources = append(reg.AgentResources, a)
			return proto.Unmarshal(v, a)
		}); err != nil {
			return err
		}
		return each(bucketWeights, func(v []byte) error {
			w := &mesos.WeightInfo{}
			reg.Weights = append(reg.Weights, w)
			return proto.Unmarshal(v, w)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("registry: reading: %w", err)
	}
	return reg, nil
}

func (b *Bolt) Close() error { return b.db.Close() }
