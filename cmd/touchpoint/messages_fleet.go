package main

// The fleet commands' user-facing strings, in English and Simplified
// Chinese (messages.go holds the older ones; JSON output is never
// translated).
type fleetKey int

const (
	fmAlreadyRevoked fleetKey = iota
	fmLost
	fmLostOne
	fmLostUnknown
	fmBacklogStale
	fmRevokedAt
)

var fleetMessages = map[string]map[fleetKey]string{
	"en": {
		fmAlreadyRevoked: "agent %s was already revoked at %s; nothing was written",
		fmLost:           "the %d contact events its outbox held were lost (--force)",
		fmLostOne:        "the %d contact event its outbox held was lost (--force)",
		fmLostUnknown:    "it was not connected: any contact events its outbox held (%d when it last reported) were lost (--force)",
		fmBacklogStale:   "%d (last reported; not connected, unknown now)",
		fmRevokedAt:      "yes, at %s",
	},
	"zh": {
		fmAlreadyRevoked: "代理 %s 已于 %s 吊销；未写入任何内容",
		fmLost:           "其发件箱中的 %d 条接触事件已丢失（--force）",
		fmLostOne:        "其发件箱中的 %d 条接触事件已丢失（--force）",
		fmLostUnknown:    "该代理未连接：其发件箱中的接触事件（上次报告时 %d 条）已丢失（--force）",
		fmBacklogStale:   "%d（上次报告；未连接，当前未知）",
		fmRevokedAt:      "是，于 %s",
	},
}

func (e *env) fmsg(k fleetKey, args ...any) string { return translate(e, fleetMessages, k, args...) }
