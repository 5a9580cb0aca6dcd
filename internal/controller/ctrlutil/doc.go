// Package ctrlutil is the small shared machinery of Skiff's controllers: the
// key-queue worker loop, creation/deletion expectations, event recording and
// the pod predicates several controllers share.
//
// Every controller follows one contract: informer event handlers only enqueue
// namespace/name keys; workers read the current state from listers and
// converge (level-triggered); an error from sync means a rate-limited requeue,
// success means Forget.
package ctrlutil
