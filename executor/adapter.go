package executor

import (
	"context"
	"io"
	"os"
	"syscall"

	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/garden"
)

// gardenContainer adapts one garden container to what steps need.
type gardenContainer struct {
	garden Garden
	handle string
}

func (g gardenContainer) Run(ctx context.Context, spec steps.ProcessSpec, stdout, stderr io.Writer) (steps.Process, error) {
	gspec := garden.ProcessSpec{Path: spec.Path, Args: spec.Args, Dir: spec.Dir, Env: spec.Env, User: spec.User}
	if spec.Nofile != nil {
		gspec.Limits.Nofile = *spec.Nofile
	}
	proc, err := g.garden.Run(ctx, g.handle, gspec, garden.ProcessIO{Stdout: stdout, Stderr: stderr})
	if err != nil {
		return nil, err
	}
	return gardenProcess{proc}, nil
}

func (g gardenContainer) StreamIn(ctx context.Context, dst, _ string, tar io.Reader) error {
	return g.garden.StreamIn(ctx, g.handle, dst, tar)
}

func (g gardenContainer) StreamOut(ctx context.Context, src, _ string) (io.ReadCloser, error) {
	r, w := io.Pipe()
	go func() { w.CloseWithError(g.garden.StreamOut(ctx, g.handle, src, w)) }()
	return r, nil
}

type gardenProcess struct{ garden.Process }

func (p gardenProcess) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		s = syscall.SIGKILL
	}
	return p.Process.Signal(s)
}
