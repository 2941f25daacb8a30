package fsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A catalogue object at rest is the index of its last change (8 bytes, big
// endian) followed by its canonical JSON document.
func encodeObject(index uint64, doc []byte) []byte {
	b := make([]byte, 8, 8+len(doc))
	binary.BigEndian.PutUint64(b, index)
	return append(b, doc...)
}

func decodeObject(v []byte) (uint64, []byte, error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("stored object is %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v[:8]), v[8:], nil
}

// maxApplyPayload bounds one catalogue apply (checked identically on every
// node, so a refusal is deterministic).
const maxApplyPayload = 3 << 20

// maxApplyDocs matches catalog.MaxDocuments.
const maxApplyDocs = 5000

func knownKind(k string) bool {
	for _, x := range protocol.Kinds {
		if string(x) == k {
			return true
		}
	}
	return false
}

func applyCatalog(e *entry) (any, *api.Error) {
	if len(e.cmd.Payload) > maxApplyPayload {
		return nil, api.Errorf(api.CodeBodyTooLarge, "catalogue apply of %d bytes; the limit is %d", len(e.cmd.Payload), maxApplyPayload)
	}
	var p CatalogApply
	if err := p.UnmarshalBinary(e.cmd.Payload); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	// The API refuses more documents than this; the FSM checks again so a
	// transaction can never overflow, whatever proposed the entry.
	if len(p.Docs) > maxApplyDocs {
		return nil, api.Errorf(api.CodeInvalidDocument, "%d documents in one apply; the limit is %d", len(p.Docs), maxApplyDocs)
	}
	inBatch := make(map[ObjectRef]bool, len(p.Docs))
	for i, d := range p.Docs {
		if !knownKind(d.Kind) || d.ID == "" {
			return nil, api.Errorf(api.CodeInvalidDocument, "%s %q is not a catalogue object", d.Kind, d.ID).InDocument(i, "")
		}
		inBatch[ObjectRef{d.Kind, d.ID}] = true
	}
	// References are checked against the state this entry sees, so an
	// apply that races a delete is refused as a whole.
	for i, d := range p.Docs {
		for _, r := range d.Refs {
			if inBatch[r] {
				continue
			}
			if _, ok := e.w.get(catalogKey(r.Kind, r.ID)); !ok {
				return nil, api.Errorf(api.CodeReferenceNotFound, "%s %q refers to %s %q, which does not exist", d.Kind, d.ID, r.Kind, r.ID).InDocument(i, refField(d.Kind))
			}
		}
	}
	res := api.ApplyResult{Index: e.index, Documents: make([]api.AppliedDoc, 0, len(p.Docs))}
	var changed []string
	for _, d := range p.Docs {
		key := catalogKey(d.Kind, d.ID)
		action := "created"
		if prev, ok := e.w.get(key); ok {
			if _, doc, err := decodeObject(prev); err == nil && bytes.Equal(doc, d.Doc) {
				res.Documents = append(res.Documents, api.AppliedDoc{Kind: d.Kind, ID: d.ID, Action: "unchanged"})
				continue
			}
			action = "updated"
		}
		e.w.set(key, encodeObject(e.index, d.Doc))
		e.addChange(api.OpPut, d.Kind, d.ID, d.Doc)
		changed = append(changed, action+" "+d.Kind+"/"+d.ID)
		res.Documents = append(res.Documents, api.AppliedDoc{Kind: d.Kind, ID: d.ID, Action: action})
	}
	// One audit record per apply, as per admin action: a single change
	// names its object; a bulk apply lists what it changed.
	switch len(changed) {
	case 0:
	case 1:
		action, target, _ := strings.Cut(changed[0], " ")
		e.addAudit("catalog."+action, target, "")
	default:
		e.addAudit("catalog.apply", fmt.Sprintf("%d documents", len(changed)), strings.Join(changed, "; "))
	}
	return res, nil
}

func refField(kind string) string {
	switch protocol.Kind(kind) {
	case protocol.KindCampaign:
		return "offers"
	case protocol.KindOffer:
		return "planId"
	}
	return ""
}

func applyCatalogDelete(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[CatalogDelete](e)
	if aerr != nil {
		return nil, aerr
	}
	if !knownKind(p.Kind) {
		return nil, api.Errorf(api.CodeUnknownKind, "unknown kind %q", p.Kind)
	}
	key := catalogKey(p.Kind, p.ID)
	if _, ok := e.w.get(key); !ok {
		return nil, api.Errorf(api.CodeNotFound, "%s %q does not exist", p.Kind, p.ID)
	}
	if users := referrers(e.w, ObjectRef(p)); len(users) > 0 {
		return nil, api.Errorf(api.CodeInUse, "%s %q is still used by %s; change or delete those first", p.Kind, p.ID, strings.Join(users, ", "))
	}
	e.w.del(key)
	e.addChange(api.OpDelete, p.Kind, p.ID, nil)
	e.addAudit("catalog.delete", p.Kind+"/"+p.ID, "")
	return api.WriteResult{Index: e.index}, nil
}

// referrers lists the objects whose documents refer to ref: campaigns name
// offers, tariff offers name plans.
func referrers(w *writer, ref ObjectRef) []string {
	var from protocol.Kind
	switch protocol.Kind(ref.Kind) {
	case protocol.KindOffer:
		from = protocol.KindCampaign
	case protocol.KindPlan:
		from = protocol.KindOffer
	default:
		return nil
	}
	var users []string
	for _, k := range w.keys(catalogKindPrefix(string(from)), 0) {
		v, ok := w.get(k)
		if !ok {
			continue
		}
		_, doc, err := decodeObject(v)
		if err != nil {
			panic(fmt.Sprintf("fsm: stored object %q: %v", k, err))
		}
		if refersTo(from, doc, ref.ID) {
			users = append(users, string(from)+"/"+string(k[len(catalogKindPrefix(string(from))):]))
		}
	}
	return users
}

func refersTo(kind protocol.Kind, doc json.RawMessage, id string) bool {
	switch kind {
	case protocol.KindCampaign:
		var c protocol.Campaign
		if json.Unmarshal(doc, &c) != nil {
			return false
		}
		for _, o := range c.Offers {
			if o == id {
				return true
			}
		}
	case protocol.KindOffer:
		var o protocol.Offer
		return json.Unmarshal(doc, &o) == nil && o.PlanID == id
	}
	return false
}
