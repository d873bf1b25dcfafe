// Package local is the built-in task board: an embedded bbolt database in
// coord's state directory, no account needed. Every write is one bbolt
// transaction, and bbolt runs one writer at a time, so a claim reads the
// task and sets its holder with nothing in between: of racing claims
// exactly one wins. Leases are judged when a task is read, so a holder that
// died simply stops renewing and the task reads as todo again. Only coord
// imports it.
package local
