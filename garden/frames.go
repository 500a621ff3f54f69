package garden

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A process stream is a sequence of frames: one byte of kind, four bytes of
// big-endian length, then the payload.
const (
	frameID     byte = 'i' // payload: the process id (always first)
	frameStdout byte = '1'
	frameStderr byte = '2'
	frameExit   byte = 'x' // payload: the decimal exit status (always last)
	frameError  byte = 'e' // payload: a JSON Error (instead of exit)
)

const maxFrame = 1 << 20

func writeFrame(w io.Writer, kind byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("garden: frame of %d bytes is too large", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// frameWriter frames writes of one kind onto a shared, flushed stream.
type frameWriter struct {
	stream *frameStream
	kind   byte
}

// frameStream serialises frames onto one response and refuses writes once the
// handler is done with it (the backend may still hold the writers).
type frameStream struct {
	mu     sync.Mutex
	w      io.Writer
	flush  func()
	closed bool
}

var errStreamClosed = errors.New("garden: stream closed")

func (s *frameStream) write(kind byte, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStreamClosed
	}
	if err := writeFrame(s.w, kind, p); err != nil {
		s.closed = true
		return err
	}
	s.flush()
	return nil
}

func (s *frameStream) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func (f *frameWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxFrame {
		end := min(off+maxFrame, len(p))
		if err := f.stream.write(f.kind, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}
