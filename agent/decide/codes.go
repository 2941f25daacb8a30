package decide

import "touchpoint.dev/touchpoint/protocol/api"

// code is an api.SuppressionCode as a small number, so that a decision
// collects suppressions without pointers.
type code uint8

// The codes, in the order of codeTable.
const (
	codeNone code = iota
	codeNoCampaign
	codeCampaignInactive
	codeOutsideSchedule
	codeWrongChannel
	codeNotInSegment
	codeOutsideValidity
	codeNotEligible
	codeNotApplicable
	codeNotSuitable
	codeRuleError
	codeDoNotDisturb
	codeContactCap
	codeQuietHours
	codeNoConsent
	codePolicyError
	codeDeclinedRecently
	codeVolumeCap
	codeNoSaving
	codePlanUnavailable
)

var codeTable = [...]api.SuppressionCode{
	codeNone:             "",
	codeNoCampaign:       api.SuppressedNoCampaign,
	codeCampaignInactive: api.SuppressedCampaignInactive,
	codeOutsideSchedule:  api.SuppressedOutsideSchedule,
	codeWrongChannel:     api.SuppressedWrongChannel,
	codeNotInSegment:     api.SuppressedNotInSegment,
	codeOutsideValidity:  api.SuppressedOutsideValidity,
	codeNotEligible:      api.SuppressedNotEligible,
	codeNotApplicable:    api.SuppressedNotApplicable,
	codeNotSuitable:      api.SuppressedNotSuitable,
	codeRuleError:        api.SuppressedRuleError,
	codeDoNotDisturb:     api.SuppressedDoNotDisturb,
	codeContactCap:       api.SuppressedContactCap,
	codeQuietHours:       api.SuppressedQuietHours,
	codeNoConsent:        api.SuppressedNoConsent,
	codePolicyError:      api.SuppressedPolicyError,
	codeDeclinedRecently: api.SuppressedDeclinedRecently,
	codeVolumeCap:        api.SuppressedVolumeCap,
	codeNoSaving:         api.SuppressedNoSaving,
	codePlanUnavailable:  api.SuppressedPlanUnavailable,
}

func (c code) api() api.SuppressionCode { return codeTable[c] }
