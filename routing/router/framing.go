package router

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
)

// Go's server resolves a request carrying both Content-Length and
// Transfer-Encoding by dropping Content-Length before the handler sees it, so
// the handler cannot tell such a request from an honest chunked one. The
// router refuses them (they are the raw material of request smuggling), so it
// watches the bytes on each client connection: framingConn follows HTTP/1.x
// message framing just far enough to find every header block and notes, in
// order, whether each one named both fields. The handler takes one verdict
// per request.

const maxHeaderBlock = 1<<20 + 4096 // beyond Go's default MaxHeaderBytes

type framingState int

const (
	inHeaders framingState = iota
	inFixedBody
	inChunkSize
	inChunkData
	inChunkEnd
	inTrailer
	passThrough // framing no longer followed: upgraded, refused or unknown
)

type framingConn struct {
	net.Conn

	mu       sync.Mutex
	verdicts []bool // one per header block seen, oldest first; true = conflicting
	state    framingState
	line     []byte // partial line being gathered
	block    int    // bytes in the current header block
	remain   int64  // body or chunk bytes still to skip

	// Facts about the current header block.
	sawRequestLine bool
	http10         bool
	hasCL, hasTE   bool
	contentLength  int64
	badCL          bool
	lastTE         string
}

func (c *framingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.scan(b[:n])
		c.mu.Unlock()
	}
	return n, err
}

// hijacked stops following the framing: the connection now carries another
// protocol (a WebSocket after 101 Switching Protocols). An Upgrade request
// that is not switched stays HTTP and keeps being checked.
func (c *framingConn) hijacked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = passThrough
}

// conflicting pops the verdict for the next request on this connection.
func (c *framingConn) conflicting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.verdicts) == 0 {
		return false
	}
	v := c.verdicts[0]
	c.verdicts = c.verdicts[1:]
	return v
}

func (c *framingConn) scan(b []byte) {
	for len(b) > 0 {
		switch c.state {
		case passThrough:
			return
		case inFixedBody, inChunkData:
			n := int64(len(b))
			if n > c.remain {
				n = c.remain
			}
			c.remain -= n
			b = b[n:]
			if c.remain == 0 {
				if c.state == inFixedBody {
					c.state = inHeaders
				} else {
					c.state = inChunkEnd
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.gather(b)
				return
			}
			c.gather(b[:i])
			b = b[i+1:]
			line := bytes.TrimSuffix(c.line, []byte{'\r'})
			c.line = c.line[:0]
			c.endLine(line)
		}
	}
}

func (c *framingConn) gather(b []byte) {
	if c.state == inHeaders {
		c.block += len(b)
		if c.block > maxHeaderBlock {
			c.state = passThrough // the server refuses it anyway
			return
		}
	}
	if len(c.line)+len(b) > maxHeaderBlock {
		c.state = passThrough
		return
	}
	c.line = append(c.line, b...)
}

func (c *framingConn) endLine(line []byte) {
	switch c.state {
	case inHeaders:
		c.headerLine(line)
	case inChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		switch {
		case err != nil || size < 0:
			c.state = passThrough // the server refuses it too
		case size == 0:
			c.state = inTrailer
		default:
			c.state, c.remain = inChunkData, size
		}
	case inChunkEnd:
		c.state = inChunkSize
	case inTrailer:
		if len(line) == 0 {
			c.state = inHeaders
		}
	}
}

func (c *framingConn) headerLine(line []byte) {
	if !c.sawRequestLine {
		if len(line) == 0 {
			return // stray CRLF between requests
		}
		c.sawRequestLine = true
		c.http10 = bytes.HasSuffix(line, []byte("HTTP/1.0"))
		return
	}
	if len(line) > 0 {
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return
		}
		name, value := bytes.TrimSpace(line[:colon]), bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			c.hasCL = true
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (c.contentLength > 0 && n != c.contentLength) {
				c.badCL = true
			}
			c.contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			c.hasTE = true
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				value = bytes.TrimSpace(value[i+1:])
			}
			c.lastTE = string(bytes.ToLower(value))
		}
		return
	}
	// End of the header block: note the verdict, then follow the body.
	conflict := c.hasCL && c.hasTE
	c.verdicts = append(c.verdicts, conflict)
	switch {
	case conflict, c.badCL:
		c.state = passThrough
	case c.hasTE && !c.http10:
		if c.lastTE == "chunked" {
			c.state = inChunkSize
		} else {
			c.state = passThrough
		}
	case c.hasCL && c.contentLength > 0:
		c.state, c.remain = inFixedBody, c.contentLength
	default:
		c.state = inHeaders
	}
	c.sawRequestLine, c.http10, c.hasCL, c.hasTE, c.badCL = false, false, false, false, false
	c.contentLength, c.lastTE, c.block = 0, "", 0
}

// framingListener wraps accepted connections in framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: conn}, nil
}

type connKey struct{}

// withFramingConn is the http.Server ConnContext hook.
func withFramingConn(ctx context.Context, conn net.Conn) context.Context {
	if fc, ok := conn.(*framingConn); ok {
		return context.WithValue(ctx, connKey{}, fc)
	}
	return ctx
}

// framingConnFrom returns the request's connection watcher, or nil.
func framingConnFrom(ctx context.Context) *framingConn {
	fc, _ := ctx.Value(connKey{}).(*framingConn)
	return fc
}
