// Package world runs a whole Diego cluster (`diego up`) for end-to-end tests
// and benchmarks: it builds the binaries, starts the cluster as a child
// process, drives it through the CLI, the receptor API and the router, breaks
// it (a cell killed or evacuated, a daemon paused, a port or one link cut
// through a Relay) and checks that stopping it leaves
// nothing behind. It has no Ginkgo dependency, so benchmarks can use it too.
//
// Typical use, from a Ginkgo suite or a benchmark:
//
//	world.Build(binDir)                // once per process
//	w, err := world.Start(world.Options{BinDir: binDir, Cells: 3, PortOffset: 5000})
//	ref, err := w.PushTestApp()        // busybox + testapps/httpapp in the cluster's registry
//	w.CLI("create", "web", ref)        // the diego command, targeted at w
//	w.GetInstance("web.localhost")     // through the router
//	w.KillCell(1)                      // a cell vanishes
//	w.Pause("cell-1-rep")              // a daemon stops answering (SIGSTOP), until w.Resume
//	w.CutPort(w.Config.NATSPort)       // every link to NATS reset, until w.RestorePort
//	err = w.Stop()                     // and nothing may be left behind
//
// Port offsets: `diego up --port-offset N` moves every port by N and gives
// the cells bridges dg<1+N/1000>c<i>; pick offsets that are 1000 apart per
// cluster running at once.
package world
