package adminapi

import (
	"context"
	"fmt"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// limitImport bounds an import request: MaxImportEvents rows of a few
// hundred bytes each.
const limitImport = 8 << 20

// importContacts is POST /v1/contacts/import: one batch of a source's
// rows, committed as the events of the ledger id import.<source> with an
// agent's sequence rules (api.ContactsImport).
func (s *Server) importContacts(ctx context.Context, q *request) (any, error) {
	var req api.ContactsImport
	if err := decodeStrict(q.body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.Source == "":
		return nil, &api.Error{Code: api.CodeMissingField, Field: "source", Message: "name the source: the ledger keeps its rows apart from other sources' and the agents'"}
	case len(req.Source) > api.MaxImportSource || !protocol.ValidAgentID(req.Source):
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "source",
			Message: fmt.Sprintf("source %q: 1 to %d ASCII letters, digits, '-', '_' or '.'", clip(req.Source), api.MaxImportSource)}
	case len(req.Events) == 0:
		return nil, &api.Error{Code: api.CodeMissingField, Field: "events", Message: "the request holds no rows"}
	case len(req.Events) > api.MaxImportEvents:
		return nil, api.Errorf(api.CodeBodyTooLarge, "%d rows in one request; send at most %d", len(req.Events), api.MaxImportEvents)
	}
	id := api.ImportLedgerID(req.Source)
	now := s.cfg.Now()
	for i := range req.Events {
		ev := &req.Events[i]
		if ev.AgentID != "" && ev.AgentID != id {
			return nil, (&api.Error{Code: api.CodeInvalidField, Message: fmt.Sprintf("agentId %q: leave it out (the rows are stored as %s)", clip(ev.AgentID), id)}).InDocument(i, "agentId")
		}
		ev.AgentID = id
		if field, problem := api.CheckImportEvent(ev, now); field != "" {
			return nil, (&api.Error{Code: api.CodeInvalidField, Message: fmt.Sprintf("row %d: %s %s", ev.Seq, field, problem)}).InDocument(i, field)
		}
	}
	var out fsm.IngestResult
	res, err := s.propose(ctx, q, fsm.CmdEventsIngest, fsm.EventsIngest{AgentID: id, Events: req.Events}, &out)
	if err != nil {
		return nil, err
	}
	return &api.ContactsImportResult{Source: req.Source, LedgerID: id, Index: res.Index, Stored: out.Stored, Duplicates: out.Duplicates, HighestSeq: out.HighestSeq}, nil
}
