package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// rootFSURI turns what a user types ("127.0.0.1:5000/app:v1", "nginx",
// "docker:///library/nginx#1.27") into a Diego rootfs URI.
func rootFSURI(image string) string {
	if strings.Contains(image, ":///") || strings.HasPrefix(image, "docker://") || strings.HasPrefix(image, "preloaded:") {
		return image
	}
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return image
	}
	repo := ref.Context()
	tag := ref.Identifier()
	registry := repo.RegistryStr()
	if registry == name.DefaultRegistry {
		return "docker:///" + repo.RepositoryStr() + "#" + tag
	}
	return "docker://" + registry + "/" + repo.RepositoryStr() + "#" + tag
}

// imageConfig reads an image's config from its registry. Registries on
// loopback are reached over plain HTTP.
func imageConfig(uri, username, password string) (*v1.Config, error) {
	var ref string
	switch {
	case strings.HasPrefix(uri, "docker:///"):
		ref = strings.Replace(strings.TrimPrefix(uri, "docker:///"), "#", ":", 1)
	case strings.HasPrefix(uri, "docker://"):
		ref = strings.Replace(strings.TrimPrefix(uri, "docker://"), "#", ":", 1)
	default:
		return nil, fmt.Errorf("cannot read the config of %s: give --command", uri)
	}
	var opts []name.Option
	if host, _, _ := strings.Cut(ref, "/"); strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost") {
		opts = append(opts, name.Insecure)
	}
	parsed, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("bad image reference %q: %v", ref, err)
	}
	auth := authn.Anonymous
	if username != "" {
		auth = &authn.Basic{Username: username, Password: password}
	}
	img, err := remote.Image(parsed, remote.WithAuth(auth))
	if err != nil {
		return nil, fmt.Errorf("cannot read image %s: %v", ref, firstLine(err.Error()))
	}
	file, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("cannot read the config of %s: %v", ref, err)
	}
	return &file.Config, nil
}

// exposedPorts lists the TCP ports an image exposes, sorted.
func exposedPorts(cfg *v1.Config) []uint32 {
	var ports []uint32
	for p := range cfg.ExposedPorts {
		num, proto, _ := strings.Cut(p, "/")
		if proto != "" && proto != "tcp" {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n > 0 && n < 65536 {
			ports = append(ports, uint32(n))
		}
	}
	for i := 1; i < len(ports); i++ {
		for j := i; j > 0 && ports[j] < ports[j-1]; j-- {
			ports[j], ports[j-1] = ports[j-1], ports[j]
		}
	}
	return ports
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
