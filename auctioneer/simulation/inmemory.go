package simulation

import (
	"github.com/diego-runtime/diego/auctioneer"
)

// AuctionInMemory runs the real scheduler on the cells' states read in memory
// and hands them the work in memory: the auction without HTTP, for figures
// that should not measure the network. It returns the scheduler's result and
// what the cells refused (by cell id).
func (cl *Cluster) AuctionInMemory(s auctioneer.Scheduler, batch auctioneer.Batch) (auctioneer.Result, int) {
	res := s.Schedule(batch, cl.States())
	refused := 0
	for _, w := range cl.Apply(res.Work) {
		refused += len(w.LRPs) + len(w.Tasks)
	}
	return res, refused
}
