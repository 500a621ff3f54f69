package models

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// RootFS schemes (DESIGN 5).
const (
	// RootFSSchemeDocker is a registry image: docker:///repo#tag (Docker Hub)
	// or docker://host:port/repo#tag.
	RootFSSchemeDocker = "docker"
	// RootFSSchemeOCI is an OCI image layout on the cell: oci:///abs/path#tag.
	RootFSSchemeOCI = "oci"
	// RootFSSchemeDockerArchive is a `docker save` tarball on the cell:
	// docker-archive:///abs/file.tar (#repo:tag picks one of several images).
	RootFSSchemeDockerArchive = "docker-archive"
	// RootFSSchemePreloaded names a rootfs the cell holds: preloaded:name.
	RootFSSchemePreloaded = "preloaded"
)

var (
	// Docker's reference grammar: lowercase components joined by '/', each a
	// run of alphanumerics with single '.', '_', '__' or dashes between.
	dockerRepoPattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	dockerTagPattern  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestPattern     = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)
	preloadedPattern  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// RootFSURI is a parsed rootfs URI.
type RootFSURI struct {
	// Scheme is one of the RootFSScheme* constants.
	Scheme string
	// Host is the registry's host[:port] for docker images; empty means Docker Hub.
	Host string
	// Path is the repository for docker ("library/nginx"), the absolute path
	// for oci and docker-archive, the name for preloaded.
	Path string
	// Tag is the part after '#': a tag or digest for docker, a tag for oci, an
	// optional repo:tag for docker-archive. Empty means the default.
	Tag string
}

// IsImage reports whether the URI names an image (docker, oci or
// docker-archive) rather than a preloaded rootfs.
func (r RootFSURI) IsImage() bool { return r.Scheme != RootFSSchemePreloaded }

// Reference is the image reference a registry client understands for a docker
// URI: "host:port/repo:tag", "repo@sha256:..." or "repo" (latest).
func (r RootFSURI) Reference() string {
	ref := r.Path
	if r.Host != "" {
		ref = r.Host + "/" + ref
	}
	switch {
	case r.Tag == "":
	case digestPattern.MatchString(r.Tag):
		ref += "@" + r.Tag
	default:
		ref += ":" + r.Tag
	}
	return ref
}

// ParseRootFS parses and checks a rootfs URI. Its error says what is wrong and
// begins "unknown rootfs scheme" when the scheme is not one of the five.
func ParseRootFS(uri string) (RootFSURI, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return RootFSURI{}, fmt.Errorf("is not a parseable URI")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return RootFSURI{}, fmt.Errorf("must not have a query")
	}
	if u.User != nil {
		return RootFSURI{}, fmt.Errorf("must not carry credentials (use image_username and image_password)")
	}
	switch u.Scheme {
	case RootFSSchemeDocker:
		return parseDockerRootFS(u)
	case RootFSSchemeOCI, RootFSSchemeDockerArchive:
		if u.Opaque != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.Path == "/" {
			return RootFSURI{}, fmt.Errorf("must be %s:///absolute/path", u.Scheme)
		}
		if u.Scheme == RootFSSchemeOCI && u.Fragment != "" && !dockerTagPattern.MatchString(u.Fragment) {
			return RootFSURI{}, fmt.Errorf("has an invalid tag %q", u.Fragment)
		}
		return RootFSURI{Scheme: u.Scheme, Path: u.Path, Tag: u.Fragment}, nil
	case RootFSSchemePreloaded:
		if !preloadedPattern.MatchString(u.Opaque) || u.Fragment != "" {
			return RootFSURI{}, fmt.Errorf("must be preloaded:name")
		}
		return RootFSURI{Scheme: u.Scheme, Path: u.Opaque}, nil
	}
	return RootFSURI{}, fmt.Errorf("unknown rootfs scheme %q (want docker, oci, docker-archive or preloaded)", u.Scheme)
}

func parseDockerRootFS(u *url.URL) (RootFSURI, error) {
	if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return RootFSURI{}, fmt.Errorf("must be docker:///repo#tag or docker://host:port/repo#tag")
	}
	if u.Host != "" && u.Hostname() == "" {
		return RootFSURI{}, fmt.Errorf("has an invalid registry host %q", u.Host)
	}
	repo := strings.TrimPrefix(u.Path, "/")
	if !dockerRepoPattern.MatchString(repo) {
		return RootFSURI{}, fmt.Errorf("has an invalid repository %q", repo)
	}
	tag := u.Fragment
	if tag != "" && !dockerTagPattern.MatchString(tag) && !digestPattern.MatchString(tag) {
		return RootFSURI{}, fmt.Errorf("has an invalid tag or digest %q", tag)
	}
	return RootFSURI{Scheme: RootFSSchemeDocker, Host: u.Host, Path: repo, Tag: tag}, nil
}

// Supports reports whether a cell offering these providers can run rootfs:
// the "docker" key means any image URI (docker, oci, docker-archive); a
// preloaded rootfs must be listed under "preloaded".
func (p RootFSProviders) Supports(rootfs string) bool {
	r, err := ParseRootFS(rootfs)
	if err != nil {
		return false
	}
	if r.IsImage() {
		_, ok := p[RootFSSchemeDocker]
		return ok
	}
	for _, name := range p[RootFSSchemePreloaded] {
		if name == r.Path {
			return true
		}
	}
	return false
}

// MarshalJSON writes {} for no providers and [] for an empty list, as DESIGN 9
// shows ({"docker": [], "preloaded": [...]}).
func (p RootFSProviders) MarshalJSON() ([]byte, error) {
	out := make(map[string][]string, len(p))
	for k, v := range p {
		if v == nil {
			v = []string{}
		}
		out[k] = v
	}
	return json.Marshal(out)
}
