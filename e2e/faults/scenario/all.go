package scenario

// Named is one scenario as the benchmark runs it.
type Named struct {
	Name string
	Run  func(Env) (Figured, error)
}

// figured adapts a scenario to Named.Run.
func figured[R Figured](run func(Env) (R, error)) func(Env) (Figured, error) {
	return func(env Env) (Figured, error) { return run(env) }
}

// All is every scenario, in the order of issue 19's list.
var All = []Named{
	{"NATSOutage", figured(NATSOutage)},
	{"EtcdOutage", figured(EtcdOutage)},
	{"HeldHeartbeats", figured(HeldHeartbeats)},
	{"LateReadiness", figured(LateReadiness)},
	{"SlowDrain", figured(SlowDrain)},
	{"BlackHole", figured(BlackHole)},
	{"LateCell", figured(LateCell)},
	{"CompactedResume", figured(CompactedResume)},
	{"RouteLoop", figured(RouteLoop)},
}
