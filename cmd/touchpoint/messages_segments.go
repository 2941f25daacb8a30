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
)

var segmentMessages = map[string]map[segKey]string{
	"en": {
		sgSummary:        "scored %d customers as of %s (RFM from the %s)",
		sgWritten:        "%d profiles updated (last index %d)",
		sgWrittenOne:     "1 profile updated (last index %d)",
		sgDryRun:         "dry run: %d profiles would be updated",
		sgDryRunOne:      "dry run: 1 profile would be updated",
		sgUnchanged:      "; %d unchanged, %d erased meanwhile",
		sgTimes:          "read %.1fs, scored %.1fs, wrote %.1fs",
		sgSegments:       "RFM segments",
		sgTiers:          "value tiers",
		sgStages:         "lifecycle stages",
		sgCLV:            "lifetime value: %d purchasers, %g-week horizon; BG/NBD r=%.4g alpha=%.4g a=%.4g b=%.4g",
		sgGammaGamma:     "  Gamma-Gamma on %d repeaters: p=%.4g q=%.4g v=%.4g",
		sgFittedOn:       "  fitted on even samples in id order: BG/NBD on %d of the %d purchasers, Gamma-Gamma on %d of the %d repeaters (clv fit fits every customer, so its figures differ a little)",
		sgNoCLV:          "lifetime value not written: %s",
		sgLearned:        "learned %d arms from %d contacts (%d ledger events naming an offer, %d segments by %s); applied at index %d",
		sgLearnedDry:     "dry run: %d arms from %d contacts (%d ledger events naming an offer, %d segments by %s)",
		sgArmHeader:      "OFFER\tSEGMENT\tCONTACTS\tACCEPTED\tMEAN\t95% INTERVAL\tSAMPLED",
		sgNothingLearned: "nothing learned: none of the %d ledger events naming an offer is a counted outcome (holdouts never count); no table applied",
		sgNoneWritten:    "no profile changed",
		sgSkipped:        "skipped %d customers whose inputs are not numbers ≥ 0 (their stored fields stay):",
		sgLearnedSame:    "learned %d arms from %d contacts (%d ledger events naming an offer, %d segments by %s); the stored table is already this one: nothing applied",
		sgCLVNotAsked:    "lifetime value not computed (--clv-weeks 0)",
		sgUnrankedLedger: "%d customers without a purchase by %s: not ranked (RFM segment none)",
		sgUnrankedAttrs:  "%d customers without all of the attributes %s, %s and %s: not ranked (RFM segment none)",
	},
	"zh": {
		sgSummary:        "已为 %d 位客户评分，截至 %s（RFM 来自%s）",
		sgSkipped:        "跳过 %d 位输入不是 ≥ 0 数值的客户（其已存字段保留）：",
		sgLearnedSame:    "从 %[2]d 次接触学得 %[1]d 个臂（%[3]d 条含优惠的台账事件，按 %[5]s 分 %[4]d 个群）；已存的表与之相同，未应用",
		sgWritten:        "已更新 %d 份档案（最后索引 %d）",
		sgWrittenOne:     "已更新 1 份档案（最后索引 %d）",
		sgDryRun:         "试运行：将更新 %d 份档案",
		sgDryRunOne:      "试运行：将更新 1 份档案",
		sgUnchanged:      "；%d 份未变，%d 份期间已删除",
		sgTimes:          "读取 %.1f 秒，评分 %.1f 秒，写入 %.1f 秒",
		sgSegments:       "RFM 分群",
		sgTiers:          "价值层级",
		sgStages:         "生命周期阶段",
		sgCLV:            "客户终身价值：%d 位购买客户，%g 周；BG/NBD r=%.4g alpha=%.4g a=%.4g b=%.4g",
		sgGammaGamma:     "  Gamma-Gamma（%d 位复购客户）：p=%.4g q=%.4g v=%.4g",
		sgFittedOn:       "  按客户编号均匀抽样拟合：BG/NBD 用 %d / %d 位购买客户，Gamma-Gamma 用 %d / %d 位复购客户（clv fit 用全部客户，结果略有不同）",
		sgNoCLV:          "未写入客户终身价值：%s",
		sgLearned:        "已从 %[2]d 次接触学得 %[1]d 个臂（%d 条含优惠的台账事件，按 %[5]s 分 %[4]d 个群）；应用于索引 %[6]d",
		sgLearnedDry:     "试运行：%[2]d 次接触，%[1]d 个臂（%[3]d 条含优惠的台账事件，按 %[5]s 分 %[4]d 个群）",
		sgArmHeader:      "优惠\t分群\t接触\t接受\t均值\t95% 区间\t抽样",
		sgNothingLearned: "未学到内容：%d 条含优惠的台账事件中没有计入的结果（对照组事件从不计入）；未应用倾向表",
		sgNoneWritten:    "没有档案变化",
		sgCLVNotAsked:    "未计算客户终身价值（--clv-weeks 0）",
		sgUnrankedLedger: "%d 位客户截至 %s 没有购买：未参与 RFM 排名（RFM 分群 none）",
		sgUnrankedAttrs:  "%d 位客户缺少属性 %s、%s 或 %s：未参与 RFM 排名（RFM 分群 none）",
	},
}

func (e *env) smsg(k segKey, args ...any) string { return translate(e, segmentMessages, k, args...) }
