package agent

// The API's user-facing messages, in one place so that they can be
// translated (DESIGN.md: Simplified Chinese as well as English). Codes, not
// messages, are the contract; clients branch on codes.
const (
	msgRequired        = "is required"
	msgBadID           = "must be 1 to 128 bytes of UTF-8 without control characters or surrounding spaces"
	msgBadCustomer     = "must be 1 to 128 ASCII letters, digits, '-', '_' or '.'"
	msgRevoked         = "the control plane revoked this agent: a contact it took could never reach the ledger; enroll the device under a new id"
	msgOneOf           = "must be one of "
	msgBadValue        = "must be a number from 0 to 1e12 (yuan)"
	msgExpected        = "expected "
	msgUnknownField    = "unknown field "
	msgEmptyBody       = "the body is empty: send a JSON object"
	msgTrailing        = "trailing data after the JSON body"
	msgBodyTooLarge    = "the body is larger than 65536 bytes"
	msgOutboxFull      = "the agent's outbox is full (the control plane has been unreachable for long); the contact was not logged: retry later"
	msgClosing         = "the agent is shutting down; the contact was not logged"
	msgDiskLow         = "the agent's disk is nearly full (%v): the contact was not logged; free space on the agent's machine, then retry"
	msgUnauthorized    = "an API key is required: send Authorization: Bearer KEY or X-API-Key"
	msgBadKey          = "the API key is not valid"
	msgNoEndpoint      = "no such endpoint: "
	msgUnknownKind     = "unknown kind %q; kinds are %s"
	msgNotFound        = "%s %q is not in the agent's configuration"
	msgNotReady        = "the agent holds no configuration yet"
	msgNotLogged       = "the contact could not be logged"
	msgNoConfiguration = "this agent holds no configuration yet: it has not reached the control plane since it was enrolled (see /readyz and /v1/status)"
	msgBadIdemKey      = "must be one header of 1 to 128 printable ASCII characters"
	msgKeyReused       = "this Idempotency-Key was sent with another contact in the last 24 hours: a new contact needs a new key; nothing was logged"

	msgNotAnObject        = "the body must be a JSON object"
	msgRefShape           = "expected an object or an array of objects, got "
	msgTwoCustomerParties = "%s and %s both have %s: a recommendation is for one customer; give the others another role"
	msgNoCustomerParty    = `must name the customer: a party with role "customer" (or one without a role) and its id`

	msgUnknownCustomer   = "customer %q is not known to the control plane"
	msgCustomerNotCached = "customer %q is not in this agent's cache and the control plane cannot be asked now"
)
