package main

import (
	"fmt"
	"os"
	"strings"
)

// Every user-facing string of the CLI lives here, in English and Simplified
// Chinese. The language comes from TOUCHPOINT_LANG, else LC_ALL / LANG
// ("zh_CN.UTF-8" selects Chinese). JSON output is never translated.
type msgKey int

const (
	msgError msgKey = iota
	msgCommitted
	msgNoObjects
	msgDeleted
	msgRemoved
	msgSnapshotSaved
	msgSnapshotRestored
	msgTokenCreated
	msgTokenShownOnce
	msgNoLeader
	msgNodeUnanswered
	msgHdrDiskFree
	msgDiskLowMark
	msgNodeDiskLow
	msgLeaderSilent
	msgTokenRevoked
	msgDemoReady
	msgDemoTry
	msgDemoStop
	msgDemoData
	msgDemoAgents
	msgDemoContacts
	msgDemoCustomers
	msgDemoPurchases
	msgDemoInsight
	msgDemoLoad
	msgDemoDecisions
	msgHdrID
	msgHdrKind
	msgHdrName
	msgHdrIndex
	msgHdrCategory
	msgHdrValue
	msgHdrChannels
	msgHdrState
	msgHdrAddress
	msgHdrLastIndex
	msgHdrAction
	msgHdrTime
	msgHdrActor
	msgHdrRole
	msgHdrTarget
	msgHdrDetails
	msgLeader
	msgContactsTotal
	msgHdrAgent
	msgHdrReceived
	msgHdrHighestSeq
	msgHdrLastEvent
	msgHdrChannel
	msgHdrType
	msgHdrOutcome
	msgHdrOffer
	msgHdrSeq
	msgHdrCampaign
	msgHdrDecision
	msgJoinToken
	msgRevoked
	msgHdrSite
	msgHdrStatus
	msgHdrConfigIndex
	msgHdrLag
	msgHdrBacklog
	msgHdrVersion
	msgHdrLastSeen
	msgNoAgents
	msgGossipRotated
	msgRevokedYes
	msgAgentDiskLow
	msgHdrSession
	msgHdrAppliedIndex
	msgHdrGossipAddr
	msgHdrCertSerial
	msgHdrEnrolled
	msgHdrRevoked
	msgNoSession
	msgYes
	msgNo
	// customers import (customers_import.go)
	msgImportSummary
	msgImportSummaryRepeats
	msgImportOneRow
	msgImportRows
	msgImportOneCustomer
	msgImportCustomers
	msgImportOneRepeat
	msgImportRepeats
	msgImportReplaceNote
	msgImportByReason
	msgImportFirstSkipped
	msgImportLine
	msgImportLines
	msgImportMore
	msgImportNothing
	msgImportPartial
	msgJoinTokenOne
	msgNoLeaderUnknown
	msgHdrCreated
)

var messages = map[string]map[msgKey]string{
	"en": {
		msgError:            "error",
		msgCommitted:        "committed at index %d",
		msgNoObjects:        "no %s",
		msgDeleted:          "deleted %s %s (index %d)",
		msgRemoved:          "removed node %s from the cluster (index %d)",
		msgSnapshotSaved:    "saved snapshot to %s (%d bytes)",
		msgSnapshotRestored: "restored snapshot from %s (index %d)",
		msgTokenCreated:     "created %s token %s",
		msgTokenShownOnce:   "the token is shown once; store it now:",
		msgNoLeader:         "leader: none elected: %d of the %d voting nodes (a majority) must be up and reach each other to elect one",
		msgNoLeaderUnknown:  "leader: none elected: a majority of the voting nodes must be up and reach each other to elect one",
		msgNodeUnanswered:   "%s: admin API at %s: %s",
		msgHdrDiskFree:      "DISK FREE",
		msgDiskLowMark:      "low",
		msgNodeDiskLow:      "%s: %s free on its data directory, less than the %s it keeps (--min-free-disk-mb): the cluster refuses writes until space is freed there",
		msgLeaderSilent:     "leader: %s (not answering: the others elect a new leader within seconds)",
		msgTokenRevoked:     "revoked token %s (index %d): requests with it are refused",
		msgDemoReady:        "Touchpoint demo: a one-node control plane is running at %s with a sample catalogue.",
		msgDemoTry:          "Try these commands in another terminal:",
		msgDemoStop:         "Press Ctrl-C to stop the demo.",
		msgDemoData:         "Data directory: %s",
		msgDemoAgents:       "Agents: kiosk-1 (kiosk) at %s, ivr-1 (IVR) at %s, enrolled with a join token and following the control plane over QUIC.",
		msgDemoContacts:     "Record contacts on the agents, then see them in the fleet and the ledger:",
		msgDemoCustomers:    "Customers: %d sample customers imported from %s (C1 and C2 are the README's).",
		msgDemoPurchases:    "Purchases: %d sample purchases of the last half year in the contact ledger (agent %s), for segments and lifetime value.",
		msgDemoLoad:         "Measure the kiosk agent under load, next to a trivial HTTP handler in a process of its own (docs/PERFORMANCE.md):",
		msgDemoInsight:      "Score every customer (RFM, value tier, lifecycle, lifetime value), learn offer propensities per segment, read a campaign's results:",
		msgDemoDecisions:    "Ask the agents what to offer (C1 gets retain-10; C2 is not eligible; after two presented contacts C1 is capped on both agents):",
		msgHdrID:            "ID",
		msgHdrKind:          "KIND",
		msgHdrName:          "NAME",
		msgHdrIndex:         "INDEX",
		msgHdrCategory:      "CATEGORY",
		msgHdrValue:         "VALUE (CNY)",
		msgHdrChannels:      "CHANNELS",
		msgHdrState:         "STATE",
		msgHdrAddress:       "ADDRESS",
		msgHdrLastIndex:     "LAST INDEX",
		msgHdrAction:        "ACTION",
		msgHdrTime:          "TIME",
		msgHdrCreated:       "CREATED",
		msgHdrActor:         "ACTOR",
		msgHdrRole:          "ROLE",
		msgHdrTarget:        "TARGET",
		msgHdrDetails:       "DETAILS",
		msgLeader:           "leader: %s",
		msgContactsTotal:    "contact events committed: %d",
		msgHdrAgent:         "AGENT",
		msgHdrReceived:      "RECEIVED",
		msgHdrHighestSeq:    "HIGHEST SEQUENCE",
		msgHdrLastEvent:     "LAST EVENT",
		msgHdrChannel:       "CHANNEL",
		msgHdrType:          "TYPE",
		msgHdrOutcome:       "OUTCOME",
		msgHdrOffer:         "OFFER",
		msgHdrSeq:           "SEQ",
		msgHdrCampaign:      "CAMPAIGN",
		msgHdrDecision:      "DECISION",
		msgJoinToken:        "join token %s: %d uses, valid until %s",
		msgJoinTokenOne:     "join token %s: %d use, valid until %s",
		msgRevoked:          "revoked agent %s (index %d)",
		msgHdrSite:          "SITE",
		msgHdrStatus:        "STATUS",
		msgHdrConfigIndex:   "CONFIG INDEX",
		msgHdrLag:           "LAG",
		msgHdrBacklog:       "OUTBOX",
		msgHdrVersion:       "VERSION",
		msgHdrLastSeen:      "LAST SEEN",
		msgNoAgents:         "no agents enrolled; mint a join token with: touchpoint fleet token",
		msgGossipRotated:    "gossip key rotated (index %d); the previous key stays valid until the next rotation",
		msgRevokedYes:       "revoked",
		msgAgentDiskLow:     "disk low: refuses contacts",
		msgHdrSession:       "SESSION",
		msgHdrAppliedIndex:  "APPLIED INDEX",
		msgHdrGossipAddr:    "GOSSIP ADDRESS",
		msgHdrCertSerial:    "CERTIFICATE",
		msgHdrEnrolled:      "ENROLLED",
		msgHdrRevoked:       "REVOKED",
		msgNoSession:        "(none: no node holds its session)",
		msgYes:              "yes",
		msgNo:               "no",
		// customers import: counts are filled in with msgImportOneRow /
		// msgImportRows and the like, so that 1 reads "1 row".
		msgImportSummary:        "imported %s, skipped %s (index %d)",
		msgImportSummaryRepeats: "imported %s (%s: %s; the last row of an id wins), skipped %s (index %d)",
		msgImportOneRow:         "1 row",
		msgImportRows:           "%d rows",
		msgImportOneCustomer:    "1 customer",
		msgImportCustomers:      "%d customers",
		msgImportOneRepeat:      "1 row repeats an id seen earlier in the file",
		msgImportRepeats:        "%d rows repeat an id seen earlier in the file",
		msgImportReplaceNote:    "%s replaced a stored profile: a re-imported id replaces its stored attributes, consents and region as a whole; derived fields (segments, lifetime value) stay",
		msgImportByReason:       "skipped rows by reason:",
		msgImportFirstSkipped:   "skipped rows:",
		msgImportLine:           "line %d: %s",
		msgImportLines:          "lines %d–%d: %s",
		msgImportMore:           "… %s not listed (-o json lists the first %d)",
		msgImportNothing:        "nothing was imported",
		msgImportPartial:        "rows committed before the error: at least %d (index %d); importing the file again is safe, as a re-imported id replaces its profile",
	},
	"zh": {
		msgError:            "错误",
		msgCommitted:        "已提交，索引 %d",
		msgNoObjects:        "没有 %s",
		msgDeleted:          "已删除 %s %s（索引 %d）",
		msgRemoved:          "已将节点 %s 移出集群（索引 %d）",
		msgSnapshotSaved:    "快照已保存到 %s（%d 字节）",
		msgSnapshotRestored: "已从 %s 恢复快照（索引 %d）",
		msgTokenCreated:     "已创建 %s 令牌 %s",
		msgTokenShownOnce:   "令牌只显示一次，请立即保存：",
		msgNoLeader:         "领导者：尚未选出：%[2]d 个投票节点中须有至少 %[1]d 个（多数）在线并互相连通，才能选出领导者",
		msgNoLeaderUnknown:  "领导者：尚未选出：须有多数投票节点在线并互相连通，才能选出领导者",
		msgNodeUnanswered:   "%s：管理 API %s：%s",
		msgHdrDiskFree:      "磁盘可用",
		msgDiskLowMark:      "不足",
		msgNodeDiskLow:      "%s：数据目录仅剩 %s，低于其保留的 %s（--min-free-disk-mb）：释放空间之前集群拒绝写入",
		msgLeaderSilent:     "领导者：%s（无应答：其余节点将在数秒内选出新领导者）",
		msgTokenRevoked:     "已吊销令牌 %s（索引 %d）：使用它的请求将被拒绝",
		msgDemoReady:        "Touchpoint 演示：单节点控制平面已在 %s 运行，并载入了示例目录。",
		msgDemoTry:          "请在另一个终端中尝试以下命令：",
		msgDemoStop:         "按 Ctrl-C 结束演示。",
		msgDemoData:         "数据目录：%s",
		msgDemoAgents:       "代理：kiosk-1（自助终端）在 %s，ivr-1（IVR）在 %s；已用加入令牌注册，经 QUIC 跟随控制平面。",
		msgDemoContacts:     "在代理上记录接触，然后在代理列表和接触台账中查看：",
		msgDemoCustomers:    "客户：已从 %[2]s 导入 %[1]d 个示例客户（C1 和 C2 即 README 中的客户）。",
		msgDemoPurchases:    "购买：接触台账中有 %d 条近半年的示例购买记录（代理 %s），供分群和客户终身价值使用。",
		msgDemoLoad:         "对自助终端代理做压力测试，并与独立进程中的最简 HTTP 处理程序对比（docs/PERFORMANCE.md）：",
		msgDemoInsight:      "为每位客户评分（RFM、价值层级、生命周期、终身价值），按分群学习优惠倾向，查看营销活动结果：",
		msgDemoDecisions:    "询问代理该推荐什么（C1 获得 retain-10；C2 不符合条件；两次展示后 C1 在两个代理上都达到接触上限）：",
		msgHdrID:            "编号",
		msgHdrKind:          "类型",
		msgHdrName:          "名称",
		msgHdrIndex:         "索引",
		msgHdrCategory:      "类别",
		msgHdrValue:         "价值（元）",
		msgHdrChannels:      "渠道",
		msgHdrState:         "状态",
		msgHdrAddress:       "地址",
		msgHdrLastIndex:     "最新索引",
		msgHdrAction:        "操作",
		msgHdrTime:          "时间",
		msgHdrCreated:       "创建时间",
		msgHdrActor:         "操作者",
		msgHdrRole:          "角色",
		msgHdrTarget:        "对象",
		msgHdrDetails:       "详情",
		msgLeader:           "领导者：%s",
		msgContactsTotal:    "已提交的接触事件：%d",
		msgHdrAgent:         "代理",
		msgHdrReceived:      "已接收",
		msgHdrHighestSeq:    "最高序号",
		msgHdrLastEvent:     "最近事件",
		msgHdrChannel:       "渠道",
		msgHdrType:          "类型",
		msgHdrOutcome:       "结果",
		msgHdrOffer:         "优惠",
		msgHdrSeq:           "序号",
		msgHdrCampaign:      "活动",
		msgHdrDecision:      "决策",
		msgJoinToken:        "加入令牌 %s：可用 %d 次，有效期至 %s",
		msgJoinTokenOne:     "加入令牌 %s：可用 %d 次，有效期至 %s",
		msgRevoked:          "已吊销代理 %s（索引 %d）",
		msgHdrSite:          "站点",
		msgHdrStatus:        "状态",
		msgHdrConfigIndex:   "配置索引",
		msgHdrLag:           "落后",
		msgHdrBacklog:       "待发事件",
		msgHdrVersion:       "版本",
		msgHdrLastSeen:      "最近在线",
		msgNoAgents:         "尚无已注册代理；用 touchpoint fleet token 生成加入令牌",
		msgGossipRotated:    "已轮换 gossip 密钥（索引 %d）；旧密钥在下次轮换前仍有效",
		msgRevokedYes:       "已吊销",
		msgAgentDiskLow:     "磁盘不足：拒绝接触记录",
		msgHdrSession:       "会话",
		msgHdrAppliedIndex:  "已应用索引",
		msgHdrGossipAddr:    "GOSSIP 地址",
		msgHdrCertSerial:    "证书",
		msgHdrEnrolled:      "注册时间",
		msgHdrRevoked:       "已吊销",
		msgNoSession:        "（无：没有节点持有其会话）",
		msgYes:              "是",
		msgNo:               "否",
		// customers import
		msgImportSummary:        "已导入 %s，跳过 %s（索引 %d）",
		msgImportSummaryRepeats: "已导入 %s（%s：%s；同一编号以最后一行为准），跳过 %s（索引 %d）",
		msgImportOneRow:         "1 行",
		msgImportRows:           "%d 行",
		msgImportOneCustomer:    "1 个客户",
		msgImportCustomers:      "%d 个客户",
		msgImportOneRepeat:      "1 行的编号与文件中前面的行重复",
		msgImportRepeats:        "%d 行的编号与文件中前面的行重复",
		msgImportReplaceNote:    "%s替换了已存的档案：重复导入的客户编号会整体替换已存的属性、同意和区域；派生字段（分群、终身价值）保留",
		msgImportByReason:       "跳过原因统计：",
		msgImportFirstSkipped:   "跳过的行：",
		msgImportLine:           "第 %d 行：%s",
		msgImportLines:          "第 %d–%d 行：%s",
		msgImportMore:           "……另有 %s 未列出（-o json 列出前 %d 条）",
		msgImportNothing:        "没有导入任何客户",
		msgImportPartial:        "出错前至少已提交 %d 行（索引 %d）；可以安全地重新导入该文件，重复导入的编号会替换其档案",
	},
}

// language picks "zh" or "en" from the environment.
func language() string {
	for _, v := range []string{os.Getenv("TOUCHPOINT_LANG"), os.Getenv("LC_ALL"), os.Getenv("LANG")} {
		if v == "" {
			continue
		}
		if strings.HasPrefix(strings.ToLower(v), "zh") {
			return "zh"
		}
		return "en"
	}
	return "en"
}

func (e *env) msg(k msgKey, args ...any) string { return translate(e, messages, k, args...) }

// plural picks the key of a counted message: one when n is 1, else many.
// Both keys take the same arguments, the count included (the one form
// says "%d use" where the other says "%d uses"), so a caller writes
// e.msg(plural(n, msgXOne, msgX), n, …). Chinese has no plural: its two
// forms are the same text.
func plural[K comparable, N ~int | ~int64](n N, one, many K) K {
	if n == 1 {
		return one
	}
	return many
}

// translate is message k of table in e's language (English where the
// table has none), formatted with args when there are any. Each command
// family keeps its own table and key type (messages_*.go).
func translate[K comparable](e *env, table map[string]map[K]string, k K, args ...any) string {
	s, ok := table[e.lang][k]
	if !ok {
		s = table["en"][k]
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}
