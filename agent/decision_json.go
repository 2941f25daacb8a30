package agent

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/protocol/api"
)

// appendDecisionJSON appends d as encoding/json's Encoder (HTML escaping
// off) writes it, newline included, without reflection: encoding the
// answer by reflection was 10% of the agent's CPU under load
// (docs/PERFORMANCE.md). ok is false when encoding/json would refuse d
// (a float that is not finite, a time outside years 0–9999): the caller
// then answers through encoding/json. A test holds the two to the same
// bytes.
func appendDecisionJSON(b []byte, d *api.Decision) (_ []byte, ok bool) {
	w := jsonWriter{b: b, ok: true}
	w.strField(`{"decisionId":`, d.DecisionID)
	w.strField(`,"customerId":`, d.CustomerID)
	w.strField(`,"channel":`, d.Channel)
	w.optStr(`,"intent":`, d.Intent)
	w.raw(`,"configIndex":`)
	w.b = strconv.AppendUint(w.b, d.ConfigIndex, 10)
	if !d.Time.IsZero() {
		w.raw(`,"time":`)
		w.time(d.Time)
	}
	w.raw(`,"offers":`)
	list(&w, d.Offers, w.offer)
	w.raw(`,"suppressed":`)
	list(&w, d.Suppressed, func(s *api.SuppressedOffer) {
		w.strField(`{"offerId":`, s.OfferID)
		w.optStr(`,"campaignId":`, s.CampaignID)
		w.strField(`,"code":`, string(s.Code))
		w.strField(`,"reason":`, s.Reason)
		w.raw("}")
	})
	w.raw(`,"holdout":`)
	list(&w, d.Holdout, func(h *api.Holdout) {
		w.strField(`{"campaignId":`, h.CampaignID)
		w.raw(`,"offerIds":`)
		list(&w, h.OfferIDs, func(s *string) { w.str(*s) })
		w.raw("}")
	})
	if d.ChurnRisk != nil {
		w.raw(`,"churnRisk":`)
		w.float(*d.ChurnRisk)
	}
	w.optStr(`,"churnLevel":`, d.ChurnLevel)
	w.optStr(`,"churnModel":`, d.ChurnModel)
	if d.ChurnModelVersion != 0 {
		w.raw(`,"churnModelVersion":`)
		w.b = strconv.AppendInt(w.b, int64(d.ChurnModelVersion), 10)
	}
	w.optStr(`,"segment":`, d.Segment)
	if d.Tariff != nil {
		w.raw(`,"tariff":`)
		w.tariff(d.Tariff)
	}
	w.raw("}\n")
	return w.b, w.ok
}

type jsonWriter struct {
	b  []byte
	ok bool
}

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

// strField writes key (the comma and the quoted name with its colon) and v.
func (w *jsonWriter) strField(key, v string) { w.raw(key); w.str(v) }

// optStr writes the field only when v is set (omitempty).
func (w *jsonWriter) optStr(key, v string) {
	if v != "" {
		w.strField(key, v)
	}
}

func (w *jsonWriter) floatField(key string, v float64) { w.raw(key); w.float(v) }

func (w *jsonWriter) offer(o *api.DecisionOffer) {
	w.strField(`{"offerId":`, o.OfferID)
	w.strField(`,"campaignId":`, o.CampaignID)
	w.optStr(`,"name":`, o.Name)
	w.strField(`,"category":`, o.Category)
	w.raw(`,"rank":`)
	w.b = strconv.AppendInt(w.b, int64(o.Rank), 10)
	w.floatField(`,"score":`, o.Score)
	w.floatField(`,"propensity":`, o.Propensity)
	w.floatField(`,"value":`, o.Value)
	w.floatField(`,"weight":`, o.Weight)
	w.floatField(`,"contextWeight":`, o.ContextWeight)
	w.floatField(`,"leverWeight":`, o.LeverWeight)
	if o.Transactional {
		w.raw(`,"transactional":true`)
	}
	w.optStr(`,"planId":`, o.PlanID)
	w.strField(`,"reason":`, o.Reason)
	w.raw("}")
}

func (w *jsonWriter) tariff(t *api.TariffAdvice) {
	w.raw("{")
	if t.CurrentPlanID != "" {
		w.strField(`"currentPlanId":`, t.CurrentPlanID)
		w.raw(",")
	}
	w.raw(`"currentBill":`)
	w.floatPtr(t.CurrentBill)
	w.optStr(`,"currentBillSource":`, t.CurrentBillSource)
	w.floatField(`,"usage":{"voiceMinutes":`, t.Usage.VoiceMinutes)
	w.floatField(`,"dataMB":`, t.Usage.DataMB)
	w.floatField(`,"sms":`, t.Usage.SMS)
	w.raw("}")
	w.optStr(`,"usageError":`, t.UsageError)
	w.raw(`,"plans":`)
	list(w, t.Plans, func(p *api.PlanBill) {
		w.strField(`{"planId":`, p.PlanID)
		w.optStr(`,"name":`, p.Name)
		w.floatField(`,"bill":`, p.Bill)
		w.raw(`,"saving":`)
		w.floatPtr(p.Saving)
		if p.Current {
			w.raw(`,"current":true`)
		}
		w.raw("}")
	})
	w.raw("}")
}

// list writes xs as a JSON array (null when nil, as encoding/json does),
// each element by each.
func list[T any](w *jsonWriter, xs []T, each func(*T)) {
	if xs == nil {
		w.raw("null")
		return
	}
	w.raw("[")
	for i := range xs {
		if i > 0 {
			w.raw(",")
		}
		each(&xs[i])
	}
	w.raw("]")
}

func (w *jsonWriter) floatPtr(f *float64) {
	if f == nil {
		w.raw("null")
		return
	}
	w.float(*f)
}

// float is encoding/json's float64 encoding.
func (w *jsonWriter) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		w.ok = false
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9
		if n := len(w.b); n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// time is time.Time's MarshalJSON.
func (w *jsonWriter) time(t time.Time) {
	if y := t.Year(); y < 0 || y > 9999 {
		w.ok = false
		return
	}
	w.raw(`"`)
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.raw(`"`)
}

const hexDigits = "0123456789abcdef"

// str is encoding/json's string encoding with HTML escaping off.
func (w *jsonWriter) str(s string) {
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}
