package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ociRefName is the annotation an OCI layout's index.json uses for tags.
const ociRefName = "org.opencontainers.image.ref.name"

// platform is the one this garden runs images for.
var platform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}

// fetchImage resolves a (non-preloaded) source to an image whose layers can
// be read. Failures to find or read it are *FetchError.
func (s *Store) fetchImage(ctx context.Context, spec Spec, src source) (v1.Image, error) {
	fail := func(reason string, err error) error {
		return &FetchError{URI: spec.URI, Reason: reason, Err: err}
	}

	switch src.scheme {
	case schemeDocker:
		ref, err := s.reference(src)
		if err != nil {
			return nil, badURI(spec.URI, "%v", err)
		}
		opts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(platform), remote.Reuse(s.anonymous)}
		if spec.Username != "" {
			auth := &authn.Basic{Username: spec.Username, Password: spec.Password}
			opts = []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(s.transport), remote.WithPlatform(platform)}
		}
		img, err := remote.Image(ref, opts...)
		if err != nil {
			return nil, fail(registryReason(err, spec.Username != ""), err)
		}
		return img, nil

	case schemeOCI:
		if err := s.checkHostLayout(spec.URI, src.path); err != nil {
			return nil, err
		}
		index, err := layout.ImageIndexFromPath(src.path)
		if err != nil {
			return nil, fail("no OCI layout at "+src.path, err)
		}
		img, err := imageFromIndex(index, src.tag)
		if err != nil {
			return nil, fail("reading OCI layout", err)
		}
		return img, nil

	case schemeDockerArchive:
		var tag *name.Tag
		if src.tag != "" {
			t, err := name.NewTag(src.tag)
			if err != nil {
				return nil, badURI(spec.URI, "archive tag: %v", err)
			}
			tag = &t
		}
		if err := s.checkHostArchive(spec.URI, src.path); err != nil {
			return nil, err
		}
		img, err := tarball.Image(s.archiveOpener(spec.URI, src.path), tag)
		if err != nil {
			return nil, fail("reading docker archive "+src.path, err)
		}
		return img, nil
	}
	return nil, badURI(spec.URI, "unsupported scheme %q", src.scheme)
}

// reference builds the registry reference for a docker:// source.
func (s *Store) reference(src source) (name.Reference, error) {
	repo := src.repository
	opts := []name.Option{name.WithDefaultRegistry(s.defaultRegistry)}
	if src.registry != "" {
		repo = src.registry + "/" + repo
		if s.insecure[src.registry] {
			opts = append(opts, name.Insecure)
		}
	} else if s.insecure[s.defaultRegistry] {
		opts = append(opts, name.Insecure)
	}
	if src.digest != "" {
		return name.NewDigest(repo+"@"+src.digest, opts...)
	}
	return name.NewTag(repo+":"+src.tag, opts...)
}

// registryReason names, in a few words, why a registry request failed.
func registryReason(err error, withCredentials bool) string {
	var plain *plainHTTPError
	if errors.As(err, &plain) {
		return fmt.Sprintf("registry %s is not in the insecure registries list and does not answer HTTPS", plain.host)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "cancelled"
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return "registry unreachable"
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return "image not found"
		case transport.UnauthorizedErrorCode:
			if withCredentials {
				return "registry refused the credentials"
			}
			return "registry requires credentials"
		case transport.DeniedErrorCode:
			return "registry denied access"
		}
	}
	switch terr.StatusCode {
	case http.StatusNotFound:
		return "image not found"
	case http.StatusUnauthorized:
		if withCredentials {
			return "registry refused the credentials"
		}
		return "registry requires credentials"
	case http.StatusForbidden:
		return "registry denied access"
	}
	return fmt.Sprintf("registry refused the request (status %d)", terr.StatusCode)
}

// imageFromIndex picks the image tagged tag from an OCI layout's index: the
// only image when tag is empty and there is just one, else "latest".
func imageFromIndex(index v1.ImageIndex, tag string) (v1.Image, error) {
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var desc *v1.Descriptor
	switch {
	case tag == "" && len(manifest.Manifests) == 1:
		desc = &manifest.Manifests[0]
	default:
		if tag == "" {
			tag = "latest"
		}
		for i, m := range manifest.Manifests {
			ref := m.Annotations[ociRefName]
			if ref == tag || strings.HasSuffix(ref, ":"+tag) {
				desc = &manifest.Manifests[i]
				break
			}
		}
	}
	if desc == nil {
		return nil, fmt.Errorf("no image tagged %q", tag)
	}
	if desc.MediaType.IsIndex() {
		child, err := index.ImageIndex(desc.Digest)
		if err != nil {
			return nil, err
		}
		return imageForPlatform(child)
	}
	return index.Image(desc.Digest)
}

// imageForPlatform picks this machine's image from a multi-platform index.
func imageForPlatform(index v1.ImageIndex) (v1.Image, error) {
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range manifest.Manifests {
		if m.MediaType.IsImage() && (m.Platform == nil || m.Platform.Satisfies(platform)) {
			return index.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %s/%s", platform.OS, platform.Architecture)
}

// configFrom copies what a container needs out of an image config file.
func configFrom(cf *v1.ConfigFile) Config {
	c := cf.Config
	ports := make([]string, 0, len(c.ExposedPorts))
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	return Config{
		Env:          c.Env,
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Cmd,
		WorkingDir:   c.WorkingDir,
		User:         c.User,
		ExposedPorts: ports,
	}
}

// plainHTTPError is returned by the transport for a plain-HTTP request to a
// registry that is not in the insecure list.
type plainHTTPError struct{ host string }

func (e *plainHTTPError) Error() string {
	return fmt.Sprintf("plain HTTP to %s refused: not an insecure registry", e.host)
}

// httpsUnlessInsecure enforces StoreConfig.InsecureRegistries. go-containerregistry
// falls back to plain HTTP for loopback and private addresses on its own; a cell
// should only do that for registries the operator listed.
type httpsUnlessInsecure struct {
	next     http.RoundTripper
	insecure map[string]bool
}

func (t *httpsUnlessInsecure) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.insecure[req.URL.Host] {
		return nil, &plainHTTPError{host: req.URL.Host}
	}
	return t.next.RoundTrip(req)
}
