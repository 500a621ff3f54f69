package executor

import (
	"errors"

	"github.com/diego-runtime/diego/garden"
)

// cellFault says whether a create error is the cell's fault. The work's own
// faults are a bad or unfetchable image and an invalid spec; anything else
// (garden failing inside, out of capacity, a port clash, garden not answering)
// would fail any work on this cell.
func cellFault(err error) bool {
	return !errors.Is(err, garden.ErrImageFetchFailed) && !errors.Is(err, garden.ErrBadURI) &&
		!errors.Is(err, garden.ErrInvalidSpec)
}
