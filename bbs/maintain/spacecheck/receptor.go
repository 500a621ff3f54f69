package spacecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/diego-runtime/diego/models"
)

// Receptor drives a Loop through the public API (docs/api.md), as a user of
// a whole cluster would: Update is PUT /v1/desired_lrps/:guid and Health is
// GET /v1/health.
type Receptor struct {
	// HTTP is the client (with the receptor's CA for https); nil means
	// http.DefaultClient.
	HTTP *http.Client
	// URL is the receptor's base URL, e.g. "http://127.0.0.1:8887".
	URL string
	// Username and Password are the receptor's basic auth; empty sends none.
	Username, Password string
}

// Update is a Loop.Update that puts routes on processGuid.
func (r Receptor) Update(processGuid string) func(context.Context, models.Routes) error {
	return func(ctx context.Context, routes models.Routes) error {
		body, err := json.Marshal(map[string]models.Routes{"routes": routes})
		if err != nil {
			return fmt.Errorf("spacecheck: encoding routes: %w", err)
		}
		_, err = r.do(ctx, http.MethodPut, "/v1/desired_lrps/"+url.PathEscape(processGuid), body)
		return err
	}
}

// Health is a Loop.Health that reads the receptor's GET /v1/health.
func (r Receptor) Health(ctx context.Context) (*models.StoreHealth, error) {
	data, err := r.do(ctx, http.MethodGet, "/v1/health", nil)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Store models.StoreHealth `json:"store"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("spacecheck: decoding /v1/health: %w", err)
	}
	return &answer.Store, nil
}

// do makes one request and answers the body of a 2xx, or the API's typed
// error ({"name","message"}) for anything else.
func (r Receptor) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("spacecheck: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Username != "" {
		req.SetBasicAuth(r.Username, r.Password)
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("spacecheck: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("spacecheck: reading %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var typed models.Error
	if json.Unmarshal(data, &typed) == nil && typed.Name != "" {
		typed.Status = resp.StatusCode
		return nil, &typed
	}
	return nil, fmt.Errorf("spacecheck: %s %s answered %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
}
