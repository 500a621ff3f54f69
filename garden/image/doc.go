// Package image turns an image URI into a container root filesystem.
//
// A Store fetches images with go-containerregistry (a registry, an OCI layout, a
// `docker save` archive) or takes a preloaded directory, unpacks each layer once
// into a cache keyed by its chain ID and the container's id mapping, and mounts
// an overlay of the cached layers plus a per-container upper directory. The
// Store owns everything under its state directory: the layer cache in
// <Dir>/layers and one directory per container in <Dir>/containers/<handle>.
//
// The package imports nothing of ours; garden's linux backend consumes it.
package image
