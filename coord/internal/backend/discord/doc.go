// Package discord is coord's Discord backend, through bwmarrin/discordgo.
// The tasks channel is a forum: a task is a post (a thread; "for:<key> "
// before the title addresses an agent); coord's bot keeps the lifecycle as
// thread messages whose last line is a small-text record (-# clem:{...}),
// which the remote package folds, and mirrors it in the post's title
// ("[in progress: dev] fix the flaky test"). Comments are thread messages;
// messages to agents go in one "messages" post; alerts go to the alerts
// text channel. Changes are pushed over the gateway (HELLO, IDENTIFY,
// READY, then MESSAGE_CREATE, THREAD_CREATE, THREAD_UPDATE). Only coord's
// daemon imports it.
package discord
