// Package github is coord's GitHub Issues backend, through
// google/go-github. A task is an issue with the task label; coord's bot (a
// machine user's token) keeps the lifecycle as marked comments that the
// remote package folds, and mirrors it in labels (agent:<key>, in-progress,
// blocked), the assignee (the bot while held) and the state (closed
// when done). A person addresses an issue to an agent with the label
// for:<key>. Alerts are issues with the alert label, one open issue per
// subject. Changes are found by conditional polling (ETags, If-None-Match:
// a 304 does not count against the rate limit). Only coord's daemon
// imports it.
package github
