package etcdrunner

import (
	"os"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietCore passes etcd's log entries at or above its level to stderr, except
// while the member is being stopped: etcd then reports its own listeners
// closing as errors ("setting up serving ... failed"), which is expected noise.
type quietCore struct {
	zapcore.Core
	stopping *atomic.Bool
}

func (c quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.stopping.Load() {
		return ce
	}
	return c.Core.Check(e, ce)
}

func (c quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{Core: c.Core.With(fields), stopping: c.stopping}
}

// newEtcdLogger builds etcd's logger at level (debug, info, warn, error, fatal).
func newEtcdLogger(level string, stopping *atomic.Bool) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(os.Stderr), lvl)
	return zap.New(quietCore{Core: core, stopping: stopping}), nil
}
