package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// Churn models in the catalogue and the churn watchlist:
//
//	POST /v1/models                  store a trained model (a Model document): the
//	                                 control plane sets version and createdAt
//	GET  /v1/models                  every model, summarised (no body)
//	POST /v1/models/{id}/activate    make it the one active churn model
//	POST /v1/models/{id}/deactivate  stop scoring with it
//	GET  /v1/churn/watchlist         customers at or above a warning level under
//	                                 the active model, highest risk first

// Watchlist limits.
const (
	DefaultWatchlistLimit   = 50
	MaxWatchlistLimit       = 1000
	DefaultWatchlistFactors = 3
	MaxWatchlistFactors     = 10
)

// ModelStoreResult answers POST /v1/models. Version is one more than the
// id's stored version (1 for a new id); Status is the stored version's (a
// new id is inactive until activated).
type ModelStoreResult struct {
	Index     uint64 `json:"index"`
	ID        string `json:"id"`
	Version   int    `json:"version"`
	Status    string `json:"status"`
	CreatedAt string `json:"createdAt"`
	// Bytes is the stored document's size in canonical JSON.
	Bytes     int  `json:"bytes"`
	Duplicate bool `json:"duplicate,omitempty"`
}

// ModelSummary is one model as GET /v1/models lists it: the document
// without its body.
type ModelSummary struct {
	ID         string                       `json:"id"`
	ModelKind  string                       `json:"modelKind"`
	Version    int                          `json:"version"`
	Label      string                       `json:"label,omitempty"`
	Status     string                       `json:"status"`
	CreatedAt  string                       `json:"createdAt,omitempty"`
	Metrics    protocol.ModelMetrics        `json:"metrics"`
	Thresholds churnmodel.WarningThresholds `json:"thresholds"`
	Features   int                          `json:"features"`
	Inputs     int                          `json:"inputs"`
	Trees      int                          `json:"trees,omitempty"`
	Bytes      int                          `json:"bytes"`
	// Index is the Raft index of the document's last change.
	Index uint64 `json:"index"`
}

// ModelActivateResult answers POST /v1/models/{id}/activate (and
// deactivate): the models whose status changed, in one Raft entry at
// Index; agents score with the active model once their configIndex
// reaches it.
type ModelActivateResult struct {
	Index       uint64   `json:"index"`
	ID          string   `json:"id"`
	Version     int      `json:"version"`
	Status      string   `json:"status"`
	Deactivated []string `json:"deactivated"`
	Duplicate   bool     `json:"duplicate,omitempty"`
}

// Watchlist answers GET /v1/churn/watchlist: the customers whose churn
// risk under the active model is at or above Level (MinRisk is that
// level's cut-off), highest first, at most Limit; Matched counts all of
// them among the Scanned profiles.
type Watchlist struct {
	Model        string  `json:"model"`
	ModelVersion int     `json:"modelVersion"`
	Level        string  `json:"level"`
	MinRisk      float64 `json:"minRisk"`
	Scanned      int     `json:"scanned"`
	// Unscored counts the scanned profiles holding fewer than half of the
	// model's features: not scored (churnmodel.Encoder.Covered).
	Unscored  int              `json:"unscored"`
	Matched   int              `json:"matched"`
	Customers []WatchlistEntry `json:"customers"`
	Masked    bool             `json:"masked"`
}

// WatchlistEntry is one customer on the watchlist with the features that
// raise its risk most (positive contributions only, in log-odds; see
// churnmodel.Model.Explain). A personal attribute's value is masked
// unless the caller is admin.
type WatchlistEntry struct {
	CustomerID string              `json:"customerId"`
	Region     string              `json:"region,omitempty"`
	ChurnRisk  float64             `json:"churnRisk"`
	ChurnLevel string              `json:"churnLevel"`
	Factors    []churnmodel.Factor `json:"factors"`
}

// WatchlistQuery selects a watchlist: Level "" is high, Limit 0 and
// Factors 0 the defaults; Region "" scans every region.
type WatchlistQuery struct {
	Level   string
	Limit   int
	Factors int
	Region  string
}

// StoreModel stores a Model document (JSON) as the next version of its id.
func (c *Client) StoreModel(ctx context.Context, doc []byte) (*ModelStoreResult, error) {
	var out ModelStoreResult
	if err := c.Do(ctx, http.MethodPost, "/v1/models", "application/json", doc, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Models lists the catalogue's models without their bodies.
func (c *Client) Models(ctx context.Context) ([]ModelSummary, error) {
	var out []ModelSummary
	if err := c.Do(ctx, http.MethodGet, "/v1/models", "", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ActivateModel makes id the active churn model (and every other model
// inactive); DeactivateModel (active false) stops scoring with it.
func (c *Client) ActivateModel(ctx context.Context, id string, active bool) (*ModelActivateResult, error) {
	verb := "activate"
	if !active {
		verb = "deactivate"
	}
	var out ModelActivateResult
	if err := c.Do(ctx, http.MethodPost, "/v1/models/"+url.PathEscape(id)+"/"+verb, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ChurnWatchlist asks the control plane for the watchlist.
func (c *Client) ChurnWatchlist(ctx context.Context, q WatchlistQuery) (*Watchlist, error) {
	v := url.Values{}
	if q.Level != "" {
		v.Set("level", q.Level)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Factors != 0 {
		v.Set("factors", strconv.Itoa(q.Factors))
	}
	if q.Region != "" {
		v.Set("region", q.Region)
	}
	path := "/v1/churn/watchlist"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out Watchlist
	if err := c.Do(ctx, http.MethodGet, path, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
