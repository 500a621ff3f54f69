package image

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// IDMapping maps Size ids starting at ContainerID inside a user namespace to
// ids starting at HostID outside it.
type IDMapping struct {
	ContainerID uint32
	HostID      uint32
	Size        uint32
}

// Spec says which image a container runs and how its files are owned.
type Spec struct {
	// URI is one of docker:///repo#tag, docker://host:port/repo#tag,
	// oci:///abs/path#tag, docker-archive:///abs/file.tar or preloaded:name.
	// The fragment may be a digest (#sha256:...); a missing tag means latest.
	URI string
	// Username and Password are registry credentials: both or neither.
	Username string
	Password string
	// UIDMappings and GIDMappings shift file ownership while layers are
	// unpacked. Empty for privileged containers: files keep the image's ids.
	UIDMappings []IDMapping
	GIDMappings []IDMapping
	// DiskLimitBytes, if not 0, gives the container's writable layer a file
	// system of this size (at least MinDiskBytes): writes past it fail with
	// ENOSPC. 0: the writable layer shares the store's file system, unbounded.
	DiskLimitBytes int64
	// Isolation, if not nil, gives the container its own host id range: its
	// overlay's lower dirs are idmapped clones of the layers (idmount.go) and
	// its directory and upper dir belong to Isolation's root. Nil: the
	// container sees the layers as unpacked, owned by UIDMappings' range.
	Isolation *IDIsolation
}

// Config is the part of an image's config file that a container needs.
type Config struct {
	Env          []string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	User         string
	ExposedPorts []string // e.g. "8080/tcp", sorted
}

// Image is a container's root filesystem, mounted and ready for runc.
type Image struct {
	RootFSPath string
	Config     Config
}

// ErrBadURI is wrapped by every error about a malformed or unsupported image
// URI (or inconsistent credentials); the message says what is wrong.
var ErrBadURI = errors.New("bad image URI")

// ErrHandleExists is returned by Create for a handle that already has a rootfs.
var ErrHandleExists = errors.New("container handle already exists")

// FetchError says an image could not be obtained: it does not exist, the
// registry refused, a layer failed digest verification, and so on.
type FetchError struct {
	URI    string
	Reason string // short, human: "image not found", "registry refused credentials", ...
	Err    error  // the underlying cause, if any
}

func (e *FetchError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("fetching image %s: %s", e.URI, e.Reason)
	}
	return fmt.Sprintf("fetching image %s: %s: %v", e.URI, e.Reason, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// Scheme names of the image URIs a Store understands.
const (
	schemeDocker        = "docker"
	schemeOCI           = "oci"
	schemeDockerArchive = "docker-archive"
	schemePreloaded     = "preloaded"
)

// source is a parsed image URI.
type source struct {
	scheme string
	// docker: registry host ("" for the default), repository, and tag or digest.
	registry, repository, tag, digest string
	// oci and docker-archive: absolute path; tag as given (may be "").
	path string
	// preloaded: the rootfs name.
	name string
}

func badURI(uri, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrBadURI, uri, fmt.Sprintf(format, args...))
}

// parseURI understands the URI forms listed on Spec.URI.
func parseURI(uri string) (source, error) {
	if name, ok := strings.CutPrefix(uri, schemePreloaded+":"); ok {
		if name == "" || strings.ContainsAny(name, "/ ") {
			return source{}, badURI(uri, "preloaded rootfs name must be a plain name")
		}
		return source{scheme: schemePreloaded, name: name}, nil
	}

	u, err := url.Parse(uri)
	if err != nil {
		return source{}, badURI(uri, "%v", err)
	}
	if u.RawQuery != "" || u.User != nil || u.Opaque != "" {
		return source{}, badURI(uri, "query strings, user info and opaque URIs are not supported")
	}

	switch u.Scheme {
	case schemeDocker:
		repo := strings.TrimPrefix(u.Path, "/")
		if repo == "" || strings.HasSuffix(repo, "/") || strings.Contains(repo, "//") {
			return source{}, badURI(uri, "missing or malformed repository")
		}
		src := source{scheme: schemeDocker, registry: u.Host, repository: repo}
		switch frag := u.Fragment; {
		case frag == "":
			src.tag = "latest"
		case strings.Contains(frag, ":"):
			src.digest = frag
		default:
			src.tag = frag
		}
		return src, nil

	case schemeOCI, schemeDockerArchive:
		if u.Host != "" {
			return source{}, badURI(uri, "%s URIs take an absolute path and no host (%s:///abs/path)", u.Scheme, u.Scheme)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return source{}, badURI(uri, "path must be absolute")
		}
		return source{scheme: u.Scheme, path: u.Path, tag: u.Fragment}, nil

	case "":
		return source{}, badURI(uri, "missing scheme")
	default:
		return source{}, badURI(uri, "unknown scheme %q", u.Scheme)
	}
}

// ErrHostPathRefused is wrapped by the error for an oci:/// or
// docker-archive:/// URI outside StoreConfig.HostImagePaths or naming
// something other than a directory (layouts) or regular file (archives)
// reached without symlinks. It wraps ErrBadURI.
var ErrHostPathRefused = fmt.Errorf("%w: host path refused", ErrBadURI)
