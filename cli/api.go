package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/diego-runtime/diego/models"
)

// API talks to the receptor, and only to it.
type API struct {
	Target   string
	Username string
	Password string
	HTTP     *http.Client
}

func (g *Globals) api() *API {
	return &API{Target: strings.TrimRight(g.Target, "/"), Username: g.Username, Password: g.Password,
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: g.transport()}}
}

// transport trusts g.CACert besides the system's roots; a CA file that cannot
// be read fails every request with the reason.
func (g *Globals) transport() http.RoundTripper {
	if g.CACert == "" {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	data, err := os.ReadFile(g.CACert)
	if err == nil && !pool.AppendCertsFromPEM(data) {
		err = fmt.Errorf("no PEM certificate in %s", g.CACert)
	}
	if err != nil {
		return failingTransport{fmt.Errorf("the CA given by --ca-cert/DIEGO_CA_CERT: %w", err)}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t
}

type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// APIError is an error the receptor answered, printed as one readable line.
type APIError struct {
	Status  int
	Name    string
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (%d)", e.Name, e.Status)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Message)
}

func (a *API) request(ctx context.Context, method, path string, body any, headers map[string]string) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Target+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if a.Username != "" {
		req.SetBasicAuth(a.Username, a.Password)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("cannot reach the receptor at %s: %v", a.Target, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		apiErr := &APIError{Status: resp.StatusCode, Name: http.StatusText(resp.StatusCode)}
		_ = json.Unmarshal(data, apiErr)
		return nil, apiErr
	}
	return resp, nil
}

// do sends body (nil for none) and decodes the answer into out (nil to ignore).
func (a *API) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := a.request(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// sse reads a server-sent event stream, calling fn with each event's name and
// data, until the stream ends, ctx is done or fn returns false.
func (a *API) sse(ctx context.Context, path string, fn func(event string, data []byte) bool) error {
	client := *a.HTTP
	client.Timeout = 0
	streaming := &API{Target: a.Target, Username: a.Username, Password: a.Password, HTTP: &client}
	resp, err := streaming.request(ctx, http.MethodGet, path, nil, map[string]string{"Accept": "text/event-stream"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var data bytes.Buffer
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case line == "":
			if data.Len() > 0 || event != "" {
				if !fn(event, bytes.TrimSuffix(data.Bytes(), []byte("\n"))) {
					return nil
				}
			}
			event = ""
			data.Reset()
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			data.WriteByte('\n')
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return scanner.Err()
}

func (a *API) desiredLRP(ctx context.Context, guid string) (*models.DesiredLRP, error) {
	var d models.DesiredLRP
	return &d, a.do(ctx, http.MethodGet, "/v1/desired_lrps/"+url.PathEscape(guid), nil, &d)
}

func (a *API) actualLRPs(ctx context.Context, guid string) ([]*models.ActualLRP, error) {
	var list []*models.ActualLRP
	path := "/v1/actual_lrps"
	if guid != "" {
		path += "/" + url.PathEscape(guid)
	}
	return list, a.do(ctx, http.MethodGet, path, nil, &list)
}

// instanceMetrics is each instance's latest usage, by instance guid. An
// older receptor, or one without NATS, has none: that is an empty map.
func (a *API) instanceMetrics(ctx context.Context, guid string) (map[string]models.InstanceMetrics, error) {
	var list []models.InstanceMetrics
	err := a.do(ctx, http.MethodGet, "/v1/actual_lrps/"+url.PathEscape(guid)+"/metrics", nil, &list)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotImplemented || apiErr.Status == http.StatusNotFound && apiErr.Name == "ResourceNotFound") {
		err = nil
	}
	out := map[string]models.InstanceMetrics{}
	for _, m := range list {
		if m.Timestamp != 0 {
			out[m.InstanceGuid] = m
		}
	}
	return out, err
}

func (a *API) cells(ctx context.Context) ([]*models.CellPresence, error) {
	var list []*models.CellPresence
	return list, a.do(ctx, http.MethodGet, "/v1/cells", nil, &list)
}

// remarshal copies v into out through JSON (to build flat request bodies).
func remarshal(v, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
