package maintain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// Defaults for Options.
const (
	// DefaultKeepRevisions is the history kept while etcd has room: enough
	// for an event stream to resume after a reconnect of a few minutes.
	DefaultKeepRevisions = 10000
	// DefaultPressureFraction of the quota: once a member's database reaches
	// it, compaction keeps no history at all (resuming streams resync).
	DefaultPressureFraction = 0.5
	// DefaultDefragMinFreeBytes: a member is not defragmented for less.
	DefaultDefragMinFreeBytes = 4 << 20
	// DefaultDisarmFraction of the quota: NOSPACE is disarmed only once every
	// member's database is below it, so that writes have room again.
	DefaultDisarmFraction = 0.9
	// DefaultRequestTimeout bounds each status, alarm and disarm request.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultDefragTimeout bounds one compaction (which waits until etcd has
	// freed the pages: long for a large backlog) or one member's
	// defragmentation (which rewrites its whole database).
	DefaultDefragTimeout = 2 * time.Minute
	// defaultQuota is etcd's own quota, assumed when a member does not say.
	defaultQuota = 2 << 30
)

// Options configure a Maintainer. Client is required.
type Options struct {
	Client *clientv3.Client
	// KeepRevisions is how much history compaction keeps while there is
	// room. Default DefaultKeepRevisions.
	KeepRevisions int64
	// PressureFraction of the quota past which compaction keeps no history
	// and free pages are given back whatever their share. Default 0.5.
	PressureFraction float64
	// DefragMinFreeBytes: a member is defragmented only when its free pages
	// reach this and half its database (or, under pressure, this alone).
	// Default 4 MiB.
	DefragMinFreeBytes int64
	// DisarmFraction of the quota below which NOSPACE is disarmed. Default 0.9.
	DisarmFraction float64
	// RequestTimeout bounds each etcd request but compaction and
	// defragmentation. Default 5 s.
	RequestTimeout time.Duration
	// DefragTimeout bounds one compaction or defragmentation. Default 2 min.
	DefragTimeout time.Duration
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
}

// Maintainer compacts, defragments and disarms etcd. Its methods are safe to
// call from several goroutines and several processes at once: every step is
// idempotent.
type Maintainer struct {
	opts    Options
	metrics *metrics
}

// New returns a Maintainer with opts' defaults filled in.
func New(opts Options) (*Maintainer, error) {
	if opts.Client == nil {
		return nil, errors.New("maintain: an etcd client is required")
	}
	if opts.KeepRevisions <= 0 {
		opts.KeepRevisions = DefaultKeepRevisions
	}
	if opts.PressureFraction <= 0 || opts.PressureFraction > 1 {
		opts.PressureFraction = DefaultPressureFraction
	}
	if opts.DefragMinFreeBytes <= 0 {
		opts.DefragMinFreeBytes = DefaultDefragMinFreeBytes
	}
	if opts.DisarmFraction <= 0 || opts.DisarmFraction > 1 {
		opts.DisarmFraction = DefaultDisarmFraction
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.DefragTimeout <= 0 {
		opts.DefragTimeout = DefaultDefragTimeout
	}
	return &Maintainer{opts: opts, metrics: newMetrics(opts.Registerer)}, nil
}

// member is one endpoint's status.
type member struct {
	endpoint string
	status   *clientv3.StatusResponse
}

func (m member) quota() int64 {
	if q := m.status.DbSizeQuota; q > 0 {
		return q
	}
	return defaultQuota
}

// Observation is one look at etcd: its health as the API reports it, and the
// alarms and members behind it.
type Observation struct {
	Health   models.StoreHealth
	Revision int64 // the newest revision any member reported
	alarms   []*etcdserverpb.AlarmMember
	members  []member
}

// Observe reads every member's status and the alarms, and sets the gauges.
// It fails only when no member answers or the alarm list does not.
func (m *Maintainer) Observe(ctx context.Context, logger lager.Logger) (*Observation, error) {
	c := m.opts.Client
	obs := &Observation{Health: models.StoreHealth{Alarms: []string{}}}
	for _, endpoint := range c.Endpoints() {
		rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
		status, err := c.Status(rctx, endpoint)
		cancel()
		if err != nil {
			m.metrics.failures.WithLabelValues("status").Inc()
			logger.Error("member-status-failed", err, lager.Data{"endpoint": endpoint})
			continue
		}
		obs.members = append(obs.members, member{endpoint: endpoint, status: status})
		obs.Health.DBSizeBytes = max(obs.Health.DBSizeBytes, status.DbSize)
		obs.Health.DBSizeInUseBytes = max(obs.Health.DBSizeInUseBytes, status.DbSizeInUse)
		obs.Health.QuotaBytes = max(obs.Health.QuotaBytes, status.DbSizeQuota)
		obs.Revision = max(obs.Revision, status.Header.GetRevision())
	}
	if len(obs.members) == 0 {
		return nil, fmt.Errorf("maintain: no etcd member of %v answered its status", c.Endpoints())
	}
	rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
	defer cancel()
	alarms, err := c.AlarmList(rctx)
	if err != nil {
		m.metrics.failures.WithLabelValues("alarms").Inc()
		return nil, fmt.Errorf("maintain: listing etcd alarms: %w", err)
	}
	seen := map[string]bool{}
	for _, a := range alarms.Alarms {
		if a.Alarm == etcdserverpb.AlarmType_NONE {
			continue
		}
		obs.alarms = append(obs.alarms, a)
		if name := a.Alarm.String(); !seen[name] {
			seen[name] = true
			obs.Health.Alarms = append(obs.Health.Alarms, name)
		}
	}
	sort.Strings(obs.Health.Alarms)
	obs.Health.Writable = len(obs.Health.Alarms) == 0
	m.metrics.observe(obs.Health)
	return obs, nil
}

// Report says what one Maintain pass did.
type Report struct {
	// Before is what the pass found; After what it left (nil if it changed nothing).
	Before, After *Observation
	// CompactedTo is the revision history was compacted to (0: none).
	CompactedTo int64
	// Defragmented lists the members defragmented.
	Defragmented []string
	// Disarmed is true when the pass disarmed NOSPACE.
	Disarmed bool
}

// Maintain makes one pass: compact to the bounded history (to the current
// revision under space pressure or NOSPACE), defragment members with enough
// free pages (every member under NOSPACE), and disarm NOSPACE once every
// member is back below DisarmFraction of its quota. Each step is logged and
// counted; the first failure ends the pass.
func (m *Maintainer) Maintain(ctx context.Context, logger lager.Logger) (*Report, error) {
	obs, err := m.Observe(ctx, logger)
	if err != nil {
		return nil, err
	}
	report := &Report{Before: obs}
	noSpace := obs.Health.HasAlarm(models.AlarmNoSpace)
	pressure := noSpace
	for _, mb := range obs.members {
		if float64(mb.status.DbSize) >= m.opts.PressureFraction*float64(mb.quota()) {
			pressure = true
		}
	}

	target := obs.Revision - m.opts.KeepRevisions
	if pressure {
		target = obs.Revision
	}
	if target > 0 {
		compacted, err := m.compact(ctx, logger, target, pressure)
		if err != nil {
			return report, err
		}
		if compacted {
			report.CompactedTo = target
			// The compaction freed pages: read the sizes again.
			if obs, err = m.Observe(ctx, logger); err != nil {
				return report, err
			}
		}
	}

	for _, mb := range obs.members {
		free := mb.status.DbSize - mb.status.DbSizeInUse
		worth := free >= m.opts.DefragMinFreeBytes && (pressure || 2*free >= mb.status.DbSize)
		if !noSpace && !worth {
			continue
		}
		if err := m.defragment(ctx, logger, mb, free); err != nil {
			return report, err
		}
		report.Defragmented = append(report.Defragmented, mb.endpoint)
	}
	if len(report.Defragmented) > 0 {
		if obs, err = m.Observe(ctx, logger); err != nil {
			return report, err
		}
	}

	if noSpace {
		if report.Disarmed, err = m.disarm(ctx, logger, obs); err != nil {
			return report, err
		}
		if report.Disarmed {
			if obs, err = m.Observe(ctx, logger); err != nil {
				return report, err
			}
		}
	}
	if report.CompactedTo > 0 || len(report.Defragmented) > 0 || report.Disarmed {
		report.After = obs
	}
	return report, nil
}

// Purge compacts history to the current revision and defragments every
// member, so that values superseded before it (records written in plaintext,
// or sealed under a retired key) are neither in etcd's history nor in its
// database file. Watchers behind the current revision resync. It fails when a
// member did not answer, whose file may still hold them; calling it again is
// harmless. etcd's write-ahead log keeps them until etcd's own snapshots
// retire its files (docs/security.md).
func (m *Maintainer) Purge(ctx context.Context, logger lager.Logger) error {
	logger = logger.Session("purge")
	obs, err := m.Observe(ctx, logger)
	if err != nil {
		return err
	}
	if _, err := m.compact(ctx, logger, obs.Revision, false); err != nil {
		return err
	}
	for _, mb := range obs.members {
		if err := m.defragment(ctx, logger, mb, mb.status.DbSize-mb.status.DbSizeInUse); err != nil {
			return err
		}
	}
	if answered, all := len(obs.members), len(m.opts.Client.Endpoints()); answered < all {
		return fmt.Errorf("maintain: purged %d of %d etcd members; the others did not answer", answered, all)
	}
	logger.Info("purged", lager.Data{"revision": obs.Revision, "members": len(obs.members)})
	return nil
}

// compact compacts history to rev; history already compacted past rev is
// not an error (another BBS, or etcd's own compaction, went first).
func (m *Maintainer) compact(ctx context.Context, logger lager.Logger, rev int64, pressure bool) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, m.opts.DefragTimeout)
	defer cancel()
	// Physical: wait until the freed pages are free, so that the sizes read
	// next and a defragmentation see them.
	_, err := m.opts.Client.Compact(rctx, rev, clientv3.WithCompactPhysical())
	if errors.Is(err, rpctypes.ErrCompacted) {
		return false, nil
	}
	if err != nil {
		m.metrics.failures.WithLabelValues("compact").Inc()
		return false, fmt.Errorf("maintain: compacting etcd to revision %d: %w", rev, err)
	}
	m.metrics.compactions.Inc()
	m.metrics.compactedRev.Set(float64(rev))
	logger.Info("compacted", lager.Data{"revision": rev, "space_pressure": pressure})
	return true, nil
}

func (m *Maintainer) defragment(ctx context.Context, logger lager.Logger, mb member, free int64) error {
	dctx, cancel := context.WithTimeout(ctx, m.opts.DefragTimeout)
	defer cancel()
	logger.Info("defragmenting", lager.Data{"endpoint": mb.endpoint, "db_size": mb.status.DbSize, "free_bytes": free})
	if _, err := m.opts.Client.Defragment(dctx, mb.endpoint); err != nil {
		m.metrics.failures.WithLabelValues("defragment").Inc()
		return fmt.Errorf("maintain: defragmenting etcd member %s: %w", mb.endpoint, err)
	}
	m.metrics.defrags.Inc()
	return nil
}

// disarm disarms every NOSPACE alarm once each member is below
// DisarmFraction of its quota; live data above that would only raise it again.
func (m *Maintainer) disarm(ctx context.Context, logger lager.Logger, obs *Observation) (bool, error) {
	for _, mb := range obs.members {
		if float64(mb.status.DbSize) >= m.opts.DisarmFraction*float64(mb.quota()) {
			logger.Error("cannot-disarm-nospace", errors.New("the database is still near its quota after compaction and defragmentation"),
				lager.Data{"endpoint": mb.endpoint, "db_size": mb.status.DbSize, "db_size_in_use": mb.status.DbSizeInUse, "quota": mb.quota()})
			return false, nil
		}
	}
	disarmed := false
	for _, a := range obs.alarms {
		if a.Alarm != etcdserverpb.AlarmType_NOSPACE {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
		_, err := m.opts.Client.AlarmDisarm(rctx, &clientv3.AlarmMember{MemberID: a.MemberID, Alarm: a.Alarm})
		cancel()
		if err != nil {
			m.metrics.failures.WithLabelValues("disarm").Inc()
			return disarmed, fmt.Errorf("maintain: disarming NOSPACE of etcd member %x: %w", a.MemberID, err)
		}
		disarmed = true
		m.metrics.disarms.Inc()
		logger.Info("disarmed-nospace", lager.Data{"member": fmt.Sprintf("%x", a.MemberID)})
	}
	return disarmed, nil
}
