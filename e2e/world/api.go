package world

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/diego-runtime/diego/models"
)

// client has a timeout so a hung daemon fails a spec instead of the suite.
var client = &http.Client{Timeout: 15 * time.Second}

// Response is an HTTP answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// APIError is the receptor's error body.
type APIError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Error decodes the body as the receptor's error shape.
func (r Response) Error() APIError {
	var e APIError
	_ = json.Unmarshal(r.Body, &e)
	return e
}

// Request sends method path to the receptor; body is JSON-encoded unless it
// is a string or []byte, sent as is.
func (w *World) Request(method, path string, body any, headers ...string) (Response, error) {
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, w.ReceptorURL+path, reader)
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(req)
}

func do(req *http.Request) (Response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, err
}

// getJSON GETs path from the receptor and decodes a 200 answer into out.
func (w *World) getJSON(path string, out any) error {
	resp, err := w.Request(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.Status, resp.Body)
	}
	return json.Unmarshal(resp.Body, out)
}

// Cells lists the present cells.
func (w *World) Cells() ([]*models.CellPresence, error) {
	var cells []*models.CellPresence
	return cells, w.getJSON("/v1/cells", &cells)
}

// ActualLRPs lists the actual LRPs of one process guid.
func (w *World) ActualLRPs(guid string) ([]*models.ActualLRP, error) {
	var list []*models.ActualLRP
	return list, w.getJSON("/v1/actual_lrps/"+url.PathEscape(guid), &list)
}

// DesiredLRP fetches one desired LRP.
func (w *World) DesiredLRP(guid string) (*models.DesiredLRP, error) {
	var d models.DesiredLRP
	return &d, w.getJSON("/v1/desired_lrps/"+url.PathEscape(guid), &d)
}

// Task fetches one task.
func (w *World) Task(guid string) (*models.Task, error) {
	var t models.Task
	return &t, w.getJSON("/v1/tasks/"+url.PathEscape(guid), &t)
}

// RunningIndices is the set of indices of guid whose ORDINARY record is RUNNING.
func (w *World) RunningIndices(guid string) (map[int]*models.ActualLRP, error) {
	list, err := w.ActualLRPs(guid)
	if err != nil {
		return nil, err
	}
	running := map[int]*models.ActualLRP{}
	for _, a := range list {
		if a.State == models.ActualLRPStateRunning && (a.Presence == "" || a.Presence == models.PresenceOrdinary) {
			running[a.Index] = a
		}
	}
	return running, nil
}

// Get sends GET path to the router with the given Host header.
func (w *World) Get(host, path string) (Response, error) {
	req, err := http.NewRequest(http.MethodGet, w.RouterURL+path, nil)
	if err != nil {
		return Response{}, err
	}
	req.Host = host
	return do(req)
}

// Instance is what the test app's / answers.
type Instance struct {
	Index int    `json:"instance_index"`
	Guid  string `json:"instance_guid"`
	// UptimeMs is how long the app's process had run when it answered.
	UptimeMs int64 `json:"uptime_ms"`
}

// GetInstance asks the app routed at host which instance answered.
func (w *World) GetInstance(host string) (Instance, error) {
	resp, err := w.Get(host, "/")
	if err != nil {
		return Instance{}, err
	}
	if resp.Status != http.StatusOK {
		return Instance{}, fmt.Errorf("router answered %d: %s", resp.Status, resp.Body)
	}
	var in Instance
	return in, json.Unmarshal(resp.Body, &in)
}

// Logs reads the recent log lines of logGuid (the stream ends after them).
func (w *World) Logs(logGuid string, recent int) ([]models.LogEnvelope, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("%s/v1/logs/%s?recent=%d", w.ReceptorURL, url.PathEscape(logGuid), recent), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("logs: %s", resp.Status)
	}
	var out []models.LogEnvelope
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 64<<10), 4<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if data, ok := strings.CutPrefix(line, "data:"); ok {
			var env models.LogEnvelope
			if json.Unmarshal([]byte(strings.TrimSpace(data)), &env) == nil {
				out = append(out, env)
			}
		}
	}
	return out, scanner.Err()
}
