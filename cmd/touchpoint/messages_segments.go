package main

// The segments command's user-facing strings, in English and Simplified
// Chinese (JSON output is never translated).
type segKey int

const (
	sgSummary segKey = iota
	sgWritten
	sgWrittenOne
	sgDryRun
	sgDryRunOne
	sgUnchanged
	sgTimes
	sgSegments
	sgTiers
	sgStages
	sgCLV
	sgGammaGamma
	sgFittedOn
	sgNoCLV
	sgLearned
	sgLearnedDry
	sgArmHeader
	sgNothingLearned
	sgNoneWritten
	sgSkipped
	sgLearnedSame
	sgCLVNotAsked
	sgUnrankedLedger
	sgUnrankedAttrs
	sgNothingLearnedOne
	sgNothingLearnedNone
	sgSkippedOne
	// Counts that fill in the messages above (plural picks the form).
	sgNCustomer
	sgNCustomers
	sgNArm
	sgNArms
	sgNContact
	sgNContacts
	sgNOfferEvent
	sgNOfferEvents
	sgNSegment
	sgNSegments
	sgNPurchaser
	sgNPurchasers
	sgNRepeater
	sgNRepeaters
)

var segmentMessages = map[string]map[segKey]string{
	"en": {
		// Counts (%s) are filled in with sgNCustomer / sgNCustomers and the
		// like, so that 1 reads "1 customer".
		sgSummary:            "scored %s as of %s (RFM from the %s)",
		sgWritten:            "%d profiles updated (last index %d)",
		sgWrittenOne:         "%d profile updated (last index %d)",
		sgDryRun:             "dry run: %d profiles would be updated",
		sgDryRunOne:          "dry run: %d profile would be updated",
		sgUnchanged:          "; %d unchanged, %d erased meanwhile",
		sgTimes:              "read %.1fs, scored %.1fs, wrote %.1fs",
		sgSegments:           "RFM segments",
		sgTiers:              "value tiers",
		sgStages:             "lifecycle stages",
		sgCLV:                "lifetime value: %s, %g-week horizon; BG/NBD r=%.4g alpha=%.4g a=%.4g b=%.4g",
		sgGammaGamma:         "  Gamma-Gamma on %s: p=%.4g q=%.4g v=%.4g",
		sgFittedOn:           "  fitted on even samples in id order: BG/NBD on %d of the %s, Gamma-Gamma on %d of the %s (clv fit fits every customer, so its figures differ a little)",
		sgNoCLV:              "lifetime value not written: %s",
		sgLearned:            "learned %s from %s (%s, %s by %s); applied at index %d",
		sgLearnedDry:         "dry run: %s from %s (%s, %s by %s)",
		sgArmHeader:          "OFFER\tSEGMENT\tCONTACTS\tACCEPTED\tMEAN\t95% INTERVAL\tSAMPLED",
		sgNothingLearned:     "nothing learned: none of the %d ledger events naming an offer is a counted outcome (holdouts never count); no table applied",
		sgNothingLearnedOne:  "nothing learned: the %d ledger event naming an offer is not a counted outcome (holdouts never count); no table applied",
		sgNothingLearnedNone: "nothing learned: no ledger event names an offer; no table applied",
		sgNoneWritten:        "no profile changed",
		sgSkipped:            "skipped %d customers whose inputs are not numbers ≥ 0 (their stored fields stay):",
		sgSkippedOne:         "skipped %d customer whose inputs are not numbers ≥ 0 (its stored fields stay):",
		sgLearnedSame:        "learned %s from %s (%s, %s by %s); the stored table is already this one: nothing applied",
		sgCLVNotAsked:        "lifetime value not computed (--clv-weeks 0)",
		sgUnrankedLedger:     "%s without a purchase by %s: not ranked (RFM segment none)",
		sgUnrankedAttrs:      "%s without all of the attributes %s, %s and %s: not ranked (RFM segment none)",
		sgNCustomer:          "%d customer",
		sgNCustomers:         "%d customers",
		sgNArm:               "%d arm",
		sgNArms:              "%d arms",
		sgNContact:           "%d contact",
		sgNContacts:          "%d contacts",
		sgNOfferEvent:        "%d ledger event naming an offer",
		sgNOfferEvents:       "%d ledger events naming an offer",
		sgNSegment:           "%d segment",
		sgNSegments:          "%d segments",
		sgNPurchaser:         "%d purchaser",
		sgNPurchasers:        "%d purchasers",
		sgNRepeater:          "%d repeater",
		sgNRepeaters:         "%d repeaters",
	},
	"zh": {
		sgSummary:            "已为 %s评分，截至 %s（RFM 来自%s）",
		sgSkipped:            "跳过 %d 位输入不是 ≥ 0 数值的客户（其已存字段保留）：",
		sgSkippedOne:         "跳过 %d 位输入不是 ≥ 0 数值的客户（其已存字段保留）：",
		sgLearnedSame:        "从 %[2]s学得 %[1]s（%[3]s，按 %[5]s 分 %[4]s）；已存的表与之相同，未应用",
		sgWritten:            "已更新 %d 份档案（最后索引 %d）",
		sgWrittenOne:         "已更新 %d 份档案（最后索引 %d）",
		sgDryRun:             "试运行：将更新 %d 份档案",
		sgDryRunOne:          "试运行：将更新 %d 份档案",
		sgUnchanged:          "；%d 份未变，%d 份期间已删除",
		sgTimes:              "读取 %.1f 秒，评分 %.1f 秒，写入 %.1f 秒",
		sgSegments:           "RFM 分群",
		sgTiers:              "价值层级",
		sgStages:             "生命周期阶段",
		sgCLV:                "客户终身价值：%s，%g 周；BG/NBD r=%.4g alpha=%.4g a=%.4g b=%.4g",
		sgGammaGamma:         "  Gamma-Gamma（%s）：p=%.4g q=%.4g v=%.4g",
		sgFittedOn:           "  按客户编号均匀抽样拟合：BG/NBD 用 %d / %s，Gamma-Gamma 用 %d / %s（clv fit 用全部客户，结果略有不同）",
		sgNoCLV:              "未写入客户终身价值：%s",
		sgLearned:            "已从 %[2]s学得 %[1]s（%[3]s，按 %[5]s 分 %[4]s）；应用于索引 %[6]d",
		sgLearnedDry:         "试运行：%[2]s，%[1]s（%[3]s，按 %[5]s 分 %[4]s）",
		sgArmHeader:          "优惠\t分群\t接触\t接受\t均值\t95% 区间\t抽样",
		sgNothingLearned:     "未学到内容：%d 条含优惠的台账事件中没有计入的结果（对照组事件从不计入）；未应用倾向表",
		sgNothingLearnedOne:  "未学到内容：%d 条含优惠的台账事件中没有计入的结果（对照组事件从不计入）；未应用倾向表",
		sgNothingLearnedNone: "未学到内容：台账中没有含优惠的事件；未应用倾向表",
		sgNoneWritten:        "没有档案变化",
		sgCLVNotAsked:        "未计算客户终身价值（--clv-weeks 0）",
		sgUnrankedLedger:     "%s截至 %s 没有购买：未参与 RFM 排名（RFM 分群 none）",
		sgUnrankedAttrs:      "%s缺少属性 %s、%s 或 %s：未参与 RFM 排名（RFM 分群 none）",
		sgNCustomer:          "%d 位客户",
		sgNCustomers:         "%d 位客户",
		sgNArm:               "%d 个臂",
		sgNArms:              "%d 个臂",
		sgNContact:           "%d 次接触",
		sgNContacts:          "%d 次接触",
		sgNOfferEvent:        "%d 条含优惠的台账事件",
		sgNOfferEvents:       "%d 条含优惠的台账事件",
		sgNSegment:           "%d 个群",
		sgNSegments:          "%d 个群",
		sgNPurchaser:         "%d 位购买客户",
		sgNPurchasers:        "%d 位购买客户",
		sgNRepeater:          "%d 位复购客户",
		sgNRepeaters:         "%d 位复购客户",
	},
}

func (e *env) smsg(k segKey, args ...any) string { return translate(e, segmentMessages, k, args...) }

// scount is n with its noun, in the form n takes: scount(1, sgNArm,
// sgNArms) is "1 arm".
func scount[N ~int | ~int64](e *env, n N, one, many segKey) string {
	return e.smsg(plural(n, one, many), n)
}
