package linux

import (
	"context"
	"errors"
	"os"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
)

// ImageStore turns an image URI into a mounted rootfs per container
// (garden/image.Store).
type ImageStore interface {
	Create(ctx context.Context, logger lager.Logger, handle string, spec image.Spec) (image.Image, error)
	Destroy(logger lager.Logger, handle string) error
	Cleanup(logger lager.Logger) error
	DiskUsage(handle string) (uint64, error)
	// CheckIDMapping fails, naming the directory, if the store's layers
	// cannot be idmapped through userns.
	CheckIDMapping(userns *os.File) error
}

// imageError maps the store's errors onto garden's wire errors.
func imageError(uri string, err error) error {
	var fetch *image.FetchError
	switch {
	case errors.Is(err, image.ErrBadURI):
		return garden.NewBadURIError(uri, err.Error())
	case errors.As(err, &fetch):
		return garden.NewImageFetchFailedError(uri, fetch.Reason)
	case errors.Is(err, image.ErrHandleExists):
		return garden.NewContainerAlreadyExistsError(uri)
	default:
		return err
	}
}
