package main

import "fmt"

// The campaign commands' user-facing strings, in English and Simplified
// Chinese (JSON output is never translated). The chart's strings are
// English only: the fonts gonum/plot embeds (Liberation) have no CJK
// glyphs, so Chinese labels would render as empty boxes.
type campKey int

const (
	cpgTitle campKey = iota
	cpgStatus
	cpgEvents
	cpgNoEvents
	cpgMixed
	cpgMixedOne
	cpgUnknownOffers
	cpgSRMOK
	cpgNoControlGroup
	cpgNoHeldOut
	cpgNoTreated
	cpgSRMWarning
	cpgSRMCause
	cpgSRMUntrustworthy
	cpgHdrMetric
	cpgHdrTreatment
	cpgHdrControl
	cpgTargeted
	cpgContacted
	cpgContactRate
	cpgPresented
	cpgAccepted
	cpgSuccessRate
	cpgConversionRate
	cpgCost
	cpgValue
	cpgROI
	cpgUpliftAbs
	cpgUpliftRel
	cpgSignificant
	cpgNotSignificant
	cpgIncremental
	cpgByChannel
	cpgByDay
	cpgHdrChannel
	cpgHdrDay
	cpgHdrTTargeted
	cpgHdrTAccepted
	cpgHdrTSuccess
	cpgHdrCTargeted
	cpgHdrCAccepted
	cpgHdrCSuccess
	cpgHdrUplift
	cpgHdrCI
	cpgHdrTCost
	cpgHdrTValue
	cpgHdrCValue
	cpgNA
	cpgChartWritten
	cpgChartFormat
	cpgUsage
	// The chart (English only, see above).
	cpgChartFunnel
	cpgChartDaily
	cpgChartCustomers
	cpgChartAccepted
	cpgChartDay
	cpgChartTreatment
	cpgChartControl
	cpgChartStageTargeted
	cpgChartStageContacted
	cpgChartStagePresented
	cpgChartStageAccepted
	cpgChartSRM
)

var campaignMessages = map[string]map[campKey]string{
	"en": {
		cpgTitle:          "campaign %s%s: control group %g%%, read at index %d",
		cpgStatus:         "status %s",
		cpgEvents:         "events from %s to %s (UTC)",
		cpgNoEvents:       "the ledger holds no event of this campaign yet",
		cpgMixed:          "%d customers have both holdout and other events of the campaign; each counts in the group of its first event",
		cpgMixedOne:       "1 customer has both holdout and other events of the campaign; it counts in the group of its first event",
		cpgSRMOK:          "sample ratio: control is %.1f%% of the %d targeted customers, controlGroupPercent %g%% expects %.1f%% (chi-square test, p %s): no mismatch",
		cpgNoControlGroup: "uplift: not measured: the campaign has no control group (controlGroupPercent 0), so nothing to compare with",
		cpgNoHeldOut:      "uplift: not measured yet: no customer has been held out (controlGroupPercent %g%%)",
		cpgNoTreated:      "uplift: not measured yet: no treated customer has a logged contact",
		cpgUnknownOffers:  "%d contacts or acceptances name an offer the catalogue does not hold (no cost or catalogue value)",
		cpgSRMWarning: "WARNING: sample ratio mismatch: control is %.1f%% of the %d targeted customers, controlGroupPercent %g%% expects %.1f%% " +
			"(chi-square test, p %s)",
		cpgSRMCause: "The agent logs every held-out decision, but a treated customer is counted only once a client logs a contact: " +
			"most likely some decisions' presentations were not logged (or controlGroupPercent changed during the campaign; " +
			"the test uses its current value). The groups are not comparable and the uplift below is not trustworthy.",
		cpgSRMUntrustworthy: " (not trustworthy: sample ratio mismatch)", // after "significant"
		cpgHdrMetric:        "METRIC",
		cpgHdrTreatment:     "TREATMENT",
		cpgHdrControl:       "CONTROL",
		cpgTargeted:         "targeted",
		cpgContacted:        "contacted",
		cpgContactRate:      "contact rate",
		cpgPresented:        "presented",
		cpgAccepted:         "accepted",
		cpgSuccessRate:      "success rate (95% CI)",
		cpgConversionRate:   "accepted / presented",
		cpgCost:             "cost (CNY)",
		cpgValue:            "value (CNY)",
		cpgROI:              "return (ROI)",
		cpgUpliftAbs:        "uplift, absolute: %s points (95%% CI %s)%s",
		cpgUpliftRel:        "uplift, relative: %s (95%% CI %s)",
		cpgSignificant:      "significant",
		cpgNotSignificant:   "not significant",
		cpgIncremental:      "incremental: %s acceptances, %s CNY value, return %s",
		cpgByChannel:        "by channel (where each customer was assigned):",
		cpgByDay:            "by UTC day (each customer on the day it first reached a stage):",
		cpgHdrChannel:       "CHANNEL",
		cpgHdrDay:           "DAY",
		cpgHdrTTargeted:     "T TARGETED",
		cpgHdrTAccepted:     "T ACCEPTED",
		cpgHdrTSuccess:      "T SUCCESS",
		cpgHdrCTargeted:     "C TARGETED",
		cpgHdrCAccepted:     "C ACCEPTED",
		cpgHdrCSuccess:      "C SUCCESS",
		cpgHdrUplift:        "UPLIFT (PTS)",
		cpgHdrCI:            "95% CI",
		cpgHdrTCost:         "T COST",
		cpgHdrTValue:        "T VALUE",
		cpgHdrCValue:        "C VALUE",
		cpgNA:               "n/a",
		cpgChartWritten:     "chart written to %s",
		cpgChartFormat:      "--chart %s: the file name must end in .png or .svg",
		cpgUsage:            "ID [-o table|json] [--chart FILE.png|FILE.svg]",

		cpgChartFunnel:         "Campaign %s: funnel",
		cpgChartDaily:          "Accepted per day (UTC)",
		cpgChartCustomers:      "customers",
		cpgChartAccepted:       "accepted",
		cpgChartDay:            "day",
		cpgChartTreatment:      "treatment",
		cpgChartControl:        "control",
		cpgChartStageTargeted:  "targeted",
		cpgChartStageContacted: "contacted",
		cpgChartStagePresented: "presented",
		cpgChartStageAccepted:  "accepted",
		cpgChartSRM:            " (sample ratio mismatch: uplift not trustworthy)",
	},
	"zh": {
		cpgTitle:          "活动 %s%s：对照组 %g%%，读取于索引 %d",
		cpgStatus:         "状态 %s",
		cpgEvents:         "事件时间 %s 至 %s（UTC）",
		cpgNoEvents:       "接触记录中尚无此活动的事件",
		cpgMixed:          "%d 位客户同时有此活动的对照（holdout）事件和其他事件；每位客户计入其首个事件所在的组",
		cpgMixedOne:       "1 位客户同时有此活动的对照（holdout）事件和其他事件；计入其首个事件所在的组",
		cpgSRMOK:          "样本比例：对照组占 %[2]d 位目标客户的 %.1[1]f%%，对照组比例 %[3]g%% 应为 %.1[4]f%%（卡方检验，p %[5]s）：未失衡",
		cpgNoControlGroup: "提升：无法衡量：此活动没有对照组（controlGroupPercent 0），无可比较",
		cpgNoHeldOut:      "提升：尚无法衡量：还没有客户被留作对照（controlGroupPercent %g%%）",
		cpgNoTreated:      "提升：尚无法衡量：还没有实验组客户记录了接触",
		cpgUnknownOffers:  "%d 次接触或接受所指的优惠不在目录中（无成本或目录价值）",
		cpgSRMWarning:     "警告：样本比例失衡：对照组占 %[2]d 位目标客户的 %.1[1]f%%，而对照组比例 %[3]g%% 应为 %.1[4]f%%（卡方检验，p %[5]s）",
		cpgSRMCause: "代理在决策时记录每一位被留作对照（holdout）的客户，而实验组客户只有在客户端记录了接触后才被计入：" +
			"很可能有部分决策的展示未被记录（或活动期间修改过 controlGroupPercent；检验使用其当前值）。两组不可比，以下提升结果不可信。",
		cpgSRMUntrustworthy: "（不可信：样本比例失衡）",
		cpgHdrMetric:        "指标",
		cpgHdrTreatment:     "实验组",
		cpgHdrControl:       "对照组",
		cpgTargeted:         "目标客户",
		cpgContacted:        "已接触",
		cpgContactRate:      "接触率",
		cpgPresented:        "已展示",
		cpgAccepted:         "已接受",
		cpgSuccessRate:      "成功率（95% 置信区间）",
		cpgConversionRate:   "接受 / 展示",
		cpgCost:             "成本（元）",
		cpgValue:            "价值（元）",
		cpgROI:              "投资回报率",
		cpgUpliftAbs:        "提升（绝对）：%s 个百分点（95%% 置信区间 %s）%s",
		cpgUpliftRel:        "提升（相对）：%s（95%% 置信区间 %s）",
		cpgSignificant:      "显著",
		cpgNotSignificant:   "不显著",
		cpgIncremental:      "增量：接受 %s 次，价值 %s 元，回报率 %s",
		cpgByChannel:        "按渠道（客户被分组时所在的渠道）：",
		cpgByDay:            "按 UTC 日期（每位客户计在首次到达各阶段的那天）：",
		cpgHdrChannel:       "渠道",
		cpgHdrDay:           "日期",
		cpgHdrTTargeted:     "实验组目标",
		cpgHdrTAccepted:     "实验组接受",
		cpgHdrTSuccess:      "实验组成功率",
		cpgHdrCTargeted:     "对照组目标",
		cpgHdrCAccepted:     "对照组接受",
		cpgHdrCSuccess:      "对照组成功率",
		cpgHdrUplift:        "提升（百分点）",
		cpgHdrCI:            "95% 置信区间",
		cpgHdrTCost:         "实验组成本",
		cpgHdrTValue:        "实验组价值",
		cpgHdrCValue:        "对照组价值",
		cpgNA:               "无",
		cpgChartWritten:     "图表已写入 %s",
		cpgChartFormat:      "--chart %s：文件名须以 .png 或 .svg 结尾",
	},
}

func (e *env) campMsg(k campKey, args ...any) string {
	return translate(e, campaignMessages, k, args...)
}

// chartMsg is a chart string: always English (see campKey).
func chartMsg(k campKey, args ...any) string {
	return fmt.Sprintf(campaignMessages["en"][k], args...)
}
