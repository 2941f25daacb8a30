package fsm

// PruneEvery exposes how often Apply prunes the change feed and request ids,
// so the external tests can apply just enough entries to cross it.
const PruneEvery = pruneEvery
