package main

// The model and churn commands' user-facing strings, in English and
// Simplified Chinese (JSON output is never translated).
type modelKey int

const (
	mdlNotStoredFlag modelKey = iota
	mdlNotStoredUnreachable
	mdlNotStoredError
	mdlStored
	mdlSavedLocal
	mdlCatalogue
	mdlNoModels
	mdlHdrID
	mdlHdrKind
	mdlHdrVersion
	mdlHdrStatus
	mdlHdrAUC
	mdlHdrAccuracy
	mdlHdrTrainRows
	mdlHdrEvaluatedOn
	mdlHdrTrees
	mdlHdrSize
	mdlHdrCreated
	mdlActivated
	mdlDeactivated
	mdlAlsoDeactivated
	mdlWatchTitle
	mdlWatchUnscored
	mdlWatchEmpty
	mdlHdrCustomer
	mdlHdrRegion
	mdlHdrRisk
	mdlHdrLevel
	mdlHdrFactors
	mdlMasked
	mdlIdentifierColumn
)

var modelMessages = map[string]map[modelKey]string{
	"en": {
		mdlNotStoredFlag:        "not stored: --no-store",
		mdlNotStoredUnreachable: "not stored: no control plane reachable at %s (%v); --no-store trains locally without trying",
		mdlNotStoredError:       "not stored: %s",
		mdlStored:               "stored in the catalogue as Model %s version %d (%s) at index %d, %d bytes",
		mdlSavedLocal:           "model JSON written to %s",
		mdlCatalogue:            "catalogue: %s",
		mdlNoModels:             "no models in the catalogue: `touchpoint models train` stores one",
		mdlHdrID:                "ID",
		mdlHdrKind:              "KIND",
		mdlHdrVersion:           "VERSION",
		mdlHdrStatus:            "STATUS",
		mdlHdrAUC:               "AUC",
		mdlHdrAccuracy:          "ACCURACY",
		mdlHdrTrainRows:         "TRAIN ROWS",
		mdlHdrEvaluatedOn:       "EVALUATED ON (ROWS)",
		mdlHdrTrees:             "TREES",
		mdlHdrSize:              "SIZE",
		mdlHdrCreated:           "CREATED",
		mdlActivated:            "model %s version %d is active at index %d: agents score with it once their configIndex reaches it",
		mdlDeactivated:          "model %s version %d is inactive at index %d",
		mdlAlsoDeactivated:      "deactivated: %s",
		mdlWatchTitle:           "churn watchlist: model %s version %d, level %s and above (risk ≥ %.2f): %d of %d customers",
		mdlWatchUnscored:        "%d of them not scored: their profiles hold fewer than half of the model's features",
		mdlWatchEmpty:           "no customer is at or above this level",
		mdlHdrCustomer:          "CUSTOMER",
		mdlHdrRegion:            "REGION",
		mdlHdrRisk:              "RISK",
		mdlHdrLevel:             "LEVEL",
		mdlHdrFactors:           "TOP RISK FACTORS (log-odds)",
		mdlMasked:               "personal attributes are masked for your role",
		mdlIdentifierColumn:     "warning: column %s has a different value on each of the %d rows of %s (an identifier?): as a feature it is one level per row, which no new customer has; give --id %s to leave it out",
	},
	"zh": {
		mdlNotStoredFlag:        "未存储：--no-store",
		mdlNotStoredUnreachable: "未存储：无法连接 %s 的控制平面（%v）；使用 --no-store 仅在本地训练",
		mdlNotStoredError:       "未存储：%s",
		mdlStored:               "已存入目录：模型 %s 版本 %d（%s），索引 %d，%d 字节",
		mdlSavedLocal:           "模型 JSON 已写入 %s",
		mdlCatalogue:            "目录：%s",
		mdlNoModels:             "目录中没有模型：`touchpoint models train` 会存入一个",
		mdlHdrID:                "ID",
		mdlHdrKind:              "类型",
		mdlHdrVersion:           "版本",
		mdlHdrStatus:            "状态",
		mdlHdrAUC:               "AUC",
		mdlHdrAccuracy:          "准确率",
		mdlHdrTrainRows:         "训练行数",
		mdlHdrEvaluatedOn:       "评估集（行数）",
		mdlHdrTrees:             "树",
		mdlHdrSize:              "大小",
		mdlHdrCreated:           "创建时间",
		mdlActivated:            "模型 %s 版本 %d 已在索引 %d 启用：各代理的 configIndex 达到该索引后即用它评分",
		mdlDeactivated:          "模型 %s 版本 %d 已在索引 %d 停用",
		mdlAlsoDeactivated:      "已停用：%s",
		mdlWatchTitle:           "流失预警名单：模型 %s 版本 %d，%s 及以上（风险 ≥ %.2f）：%d / %d 位客户",
		mdlWatchUnscored:        "其中 %d 位未评分：档案中模型特征不足一半",
		mdlWatchEmpty:           "没有客户达到该级别",
		mdlHdrCustomer:          "客户",
		mdlHdrRegion:            "地区",
		mdlHdrRisk:              "风险",
		mdlHdrLevel:             "级别",
		mdlHdrFactors:           "主要风险因素（对数几率）",
		mdlMasked:               "按您的角色，个人属性已脱敏",
		mdlIdentifierColumn:     "警告：列 %s 在 %d 行（%s）中每行取值都不同（是标识列？）：作为特征每行一个取值，新客户不会有；用 --id %s 排除它",
	},
}

func (e *env) modelMsg(k modelKey, args ...any) string {
	return translate(e, modelMessages, k, args...)
}
