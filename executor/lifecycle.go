package executor

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor/health"
	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/models"
)

// lifecycle creates the container, runs its work and records how it ended.
func (e *Executor) lifecycle(ctx context.Context, req RunRequest, c Container, done chan struct{}) {
	defer close(done)
	logger := e.logger.Session("container", lager.Data{"guid": req.Guid, "kind": req.Kind})
	streamer := e.streamer(req)
	cell := streamer.WithSource(models.LogSourceCell)
	say := func(format string, args ...any) { fmt.Fprintf(cell.Stdout(), format+"\n", args...) }

	say("Cell %s creating container for instance %s", e.cfg.CellID, req.Guid)
	info, err := e.create(ctx, req, c)
	if err != nil {
		logger.Error("create-failed", err)
		say("Cell %s failed to create container for instance %s: %s", e.cfg.CellID, req.Guid, err)
		stopped := ctx.Err() != nil
		e.complete(req.Guid, RunResult{Failed: true, FailureReason: "failed to create container: " + err.Error(),
			Stopped: stopped, CellFault: !stopped && cellFault(err)})
		return
	}
	say("Cell %s successfully created container for instance %s", e.cfg.CellID, req.Guid)
	netInfo := e.netInfo(info, req)
	e.update(req.Guid, "", func(c *Container) { c.State = StateCreated; c.NetInfo = netInfo })

	deps := steps.Deps{
		Container:   gardenContainer{garden: e.garden, handle: req.Guid},
		Streamer:    streamer,
		HTTP:        e.http,
		Cache:       e.cache,
		Clock:       e.clock,
		GracePeriod: e.cfg.GracePeriod,
		Env:         instanceEnv(req, netInfo),
	}

	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	go e.sampleUsage(metricsCtx, req)

	var result RunResult
	if req.Kind == KindTask {
		result = e.runTask(ctx, req, deps)
	} else {
		result = e.runLRP(ctx, req, deps, netInfo, say)
	}
	if result.Failed && !result.Stopped && e.oomKilled(req.Guid) {
		result.FailureReason = "out of memory"
	}
	switch {
	case result.Stopped:
		say("Cell %s stopped instance %s", e.cfg.CellID, req.Guid)
	case result.Failed:
		say("%s", result.FailureReason)
	default:
		say("Exit status 0")
	}
	e.complete(req.Guid, result)
}

func (e *Executor) complete(guid string, result RunResult) {
	e.update(guid, EventCompleted, func(c *Container) {
		c.State = StateCompleted
		c.RunResult = result
		c.Routable = false
	})
}

func (e *Executor) streamer(req RunRequest) steps.Streamer {
	if e.logs == nil || req.LogGuid == "" {
		return discard{}
	}
	source := req.LogSource
	if source == "" {
		source = models.LogSourceApp
	}
	return e.logs.Streamer(req.LogGuid, source, req.Index)
}

// create makes the garden container with the request's limits, ports and the
// properties that let a restarted rep adopt it.
func (e *Executor) create(ctx context.Context, req RunRequest, c Container) (garden.ContainerInfo, error) {
	res := c.Resource
	state, err := json.Marshal(req)
	if err != nil {
		return garden.ContainerInfo{}, err
	}
	resource, err := json.Marshal(res)
	if err != nil {
		return garden.ContainerInfo{}, err
	}
	tags, err := json.Marshal(c.Tags)
	if err != nil {
		return garden.ContainerInfo{}, err
	}
	spec := garden.ContainerSpec{
		Handle:     req.Guid,
		Image:      garden.ImageRef{URI: req.RootFS, Username: req.ImageUsername, Password: req.ImagePassword},
		Privileged: req.Privileged,
		Limits: garden.Limits{
			MemoryBytes: uint64(res.MemoryMB) << 20,
			DiskBytes:   uint64(res.DiskMB) << 20,
			Pids:        int64(req.MaxPids),
			CPUShares:   cpuShares(req.CPUWeight),
		},
		Properties: map[string]string{PropertyOwner: e.cfg.CellID, PropertyState: string(state), PropertyResource: string(resource), PropertyTags: string(tags)},
	}
	for _, v := range req.Env {
		spec.Env = append(spec.Env, v.Name+"="+v.Value)
	}
	for _, p := range req.Ports {
		spec.NetIn = append(spec.NetIn, garden.NetInRule{ContainerPort: p})
	}
	for _, rule := range req.EgressRules {
		spec.NetOut = append(spec.NetOut, netOutRules(rule)...)
	}
	return e.garden.Create(ctx, spec)
}

func cpuShares(weight int) uint64 {
	if weight <= 0 {
		return 0
	}
	return uint64(max(2, weight*1024/100))
}

func netOutRules(rule models.SecurityGroupRule) []garden.NetOutRule {
	var ports []string
	for _, p := range rule.Ports {
		ports = append(ports, strconv.Itoa(int(p)))
	}
	if rule.PortRange != nil {
		ports = append(ports, fmt.Sprintf("%d-%d", rule.PortRange.Start, rule.PortRange.End))
	}
	var icmp *garden.ICMPControl
	if info := rule.IcmpInfo; info != nil {
		// Validated to 0..255 (models).
		code := uint8(info.Code)
		icmp = &garden.ICMPControl{Type: uint8(info.Type), Code: &code}
	}
	var out []garden.NetOutRule
	for _, dst := range rule.Destinations {
		out = append(out, garden.NetOutRule{Protocol: rule.Protocol, Network: dst, Ports: ports, ICMP: icmp, Log: rule.Log})
	}
	return out
}

func (e *Executor) netInfo(info garden.ContainerInfo, req RunRequest) models.ActualLRPNetInfo {
	address := info.ExternalIP
	if address == "" {
		address = e.cfg.ExternalIP
	}
	ni := models.ActualLRPNetInfo{Address: address, InstanceAddress: info.ContainerIP, Ports: []models.PortMapping{}}
	for _, p := range req.Ports {
		for _, m := range info.MappedPorts {
			if m.ContainerPort == p {
				ni.Ports = append(ni.Ports, models.PortMapping{ContainerPort: p, HostPort: m.HostPort})
				break
			}
		}
	}
	return ni
}

// instanceEnv is the container's environment as processes see it: the request's
// env, then the instance variables of DESIGN 8.2.
func instanceEnv(req RunRequest, ni models.ActualLRPNetInfo) []string {
	var env []string
	for _, v := range req.Env {
		env = append(env, v.Name+"="+v.Value)
	}
	if req.Kind == KindTask {
		return env
	}
	type portPair struct {
		External uint32 `json:"external"`
		Internal uint32 `json:"internal"`
	}
	pairs := make([]portPair, 0, len(ni.Ports))
	for _, p := range ni.Ports {
		pairs = append(pairs, portPair{External: p.HostPort, Internal: p.ContainerPort})
	}
	portsJSON, _ := json.Marshal(pairs)
	env = append(env,
		"INSTANCE_INDEX="+strconv.Itoa(req.Index),
		"INSTANCE_GUID="+req.Guid,
		"CF_INSTANCE_IP="+ni.Address,
		"CF_INSTANCE_INTERNAL_IP="+ni.InstanceAddress,
		"CF_INSTANCE_PORTS="+string(portsJSON),
	)
	if len(ni.Ports) > 0 {
		port := strconv.Itoa(int(ni.Ports[0].HostPort))
		env = append(env, "CF_INSTANCE_PORT="+port, "CF_INSTANCE_ADDR="+net.JoinHostPort(ni.Address, port))
	}
	return env
}

// runTask runs a task's action and reads its result file.
func (e *Executor) runTask(ctx context.Context, req RunRequest, deps steps.Deps) RunResult {
	step, err := steps.Build(req.Action, deps)
	if err != nil {
		return RunResult{Failed: true, FailureReason: err.Error()}
	}
	err = step.Perform(ctx)
	if ctx.Err() != nil {
		return RunResult{Failed: true, FailureReason: models.TaskFailureCancelled, Stopped: true}
	}
	if err != nil {
		return RunResult{Failed: true, FailureReason: err.Error()}
	}
	result := RunResult{}
	if req.ResultFile != "" {
		data, err := e.readResult(ctx, req.Guid, req.ResultFile)
		if err != nil {
			return RunResult{Failed: true, FailureReason: "failed to read result file " + req.ResultFile + ": " + err.Error()}
		}
		result.Result = data
	}
	return result
}

func (e *Executor) readResult(ctx context.Context, handle, path string) (string, error) {
	r, err := gardenContainer{garden: e.garden, handle: handle}.StreamOut(ctx, path, "")
	if err != nil {
		return "", err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	if _, err := tr.Next(); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(tr, models.MaxResultBytes))
	return string(data), err
}

// runLRP runs serial(setup, codependent(action, checks)) and turns its end into
// a crash reason. An LRP never ends well: any end that was not asked for is a crash.
func (e *Executor) runLRP(ctx context.Context, req RunRequest, deps steps.Deps, ni models.ActualLRPNetInfo, say func(string, ...any)) RunResult {
	started := make(chan struct{})
	var once sync.Once
	actionDeps := deps
	actionDeps.Started = func() { once.Do(func() { close(started) }) }
	action, err := steps.Build(req.Action, actionDeps)
	if err != nil {
		return RunResult{Failed: true, FailureReason: err.Error()}
	}
	readinessChecks := e.checks(req.Checks, ni, true)
	gate := &readinessGate{e: e, guid: req.Guid, readiness: len(readinessChecks) > 0}
	markRunning := func() {
		say("Container became healthy")
		gate.running()
	}

	liveness := e.checks(req.Checks, ni, false)
	if req.Monitor != nil {
		monitor, err := steps.Build(req.Monitor, deps.WithStreamer(deps.Streamer.WithSource(models.LogSourceHealth)))
		if err != nil {
			return RunResult{Failed: true, FailureReason: err.Error()}
		}
		liveness = append(liveness, health.Func{Probe: monitor.Perform})
	}

	var watcher steps.Step
	if len(liveness) == 0 {
		// No checks: running once its process has started, crashed when it exits.
		watcher = steps.StepFunc(func(ctx context.Context) error {
			select {
			case <-started:
				markRunning()
			case <-ctx.Done():
				return steps.ErrCancelled
			}
			<-ctx.Done()
			return steps.ErrCancelled
		})
	} else {
		startTimeout := req.StartTimeout
		if startTimeout == 0 && req.Monitor != nil {
			startTimeout = e.cfg.DefaultStartTimeout
		}
		watcher = health.Monitor{
			Checks:           liveness,
			StartupInterval:  e.cfg.HealthStartupInterval,
			LivenessInterval: e.cfg.HealthLivenessInterval,
			StartTimeout:     startTimeout,
			Clock:            e.clock,
			OnHealthy:        markRunning,
		}
		// The daemon rule: an action that exits 0 while its checks keep passing
		// has daemonised; it is not a crash.
		inner := action
		action = steps.StepFunc(func(ctx context.Context) error {
			if err := inner.Perform(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			return steps.ErrCancelled
		})
	}

	together := steps.Codependent{action, watcher}
	if len(readinessChecks) > 0 {
		together = append(together, health.Readiness{
			Checks: readinessChecks, Interval: e.cfg.HealthStartupInterval, Clock: e.clock,
			OnChange: gate.changed,
		})
	}
	tree := steps.Serial{together}
	if req.Setup != nil {
		setup, err := steps.Build(req.Setup, deps)
		if err != nil {
			return RunResult{Failed: true, FailureReason: err.Error()}
		}
		tree = steps.Serial{setup, together}
	}

	err = tree.Perform(ctx)
	if ctx.Err() != nil {
		return RunResult{Stopped: true}
	}
	var unhealthy *health.UnhealthyError
	if errors.As(err, &unhealthy) {
		say("Container became unhealthy")
	}
	if err == nil {
		err = &steps.ExitError{Status: 0}
	}
	return RunResult{Failed: true, FailureReason: err.Error()}
}

// checks builds health checks aimed at the container's own address.
func (e *Executor) checks(def *models.CheckDefinition, ni models.ActualLRPNetInfo, readiness bool) []health.Check {
	if def == nil {
		return nil
	}
	list := def.Checks
	if readiness {
		list = def.ReadinessChecks
	}
	var out []health.Check
	for _, c := range list {
		switch {
		case c.TCPCheck != nil:
			out = append(out, health.TCP{
				Address: net.JoinHostPort(ni.InstanceAddress, strconv.Itoa(int(c.TCPCheck.Port))),
				Timeout: msOr(c.TCPCheck.ConnectTimeoutMs, e.cfg.HealthAttemptTimeout),
				Every:   time.Duration(c.TCPCheck.IntervalMs) * time.Millisecond,
			})
		case c.HTTPCheck != nil:
			path := c.HTTPCheck.Path
			if path == "" {
				path = "/"
			}
			out = append(out, health.HTTP{
				URL:     "http://" + net.JoinHostPort(ni.InstanceAddress, strconv.Itoa(int(c.HTTPCheck.Port))) + path,
				Timeout: msOr(c.HTTPCheck.RequestTimeoutMs, e.cfg.HealthAttemptTimeout),
				Every:   time.Duration(c.HTTPCheck.IntervalMs) * time.Millisecond,
			})
		}
	}
	return out
}

func msOr(ms int64, def time.Duration) time.Duration {
	if ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return def
}

func (e *Executor) oomKilled(guid string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := e.garden.Info(ctx, guid)
	return err == nil && slices.Contains(info.Events, garden.EventOutOfMemory)
}

// discard is the streamer of work that has no log guid.
type discard struct{}

func (discard) Stdout() io.Writer                  { return io.Discard }
func (discard) Stderr() io.Writer                  { return io.Discard }
func (d discard) WithSource(string) steps.Streamer { return d }
