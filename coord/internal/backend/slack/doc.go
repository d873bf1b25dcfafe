// Package slack is coord's Slack backend, through slack-go/slack. A task
// is a top-level message in the tasks channel (first line the title,
// "for:<key> " before it addresses an agent); coord's bot keeps the
// lifecycle as thread replies carrying Slack message metadata, which the
// remote package folds, and mirrors it as the bot's reaction on the task
// (:eyes: claimed, :hammer_and_wrench: in progress, :white_check_mark:
// done, :no_entry: blocked). Comments are thread replies; messages to
// agents are replies in one "messages" thread; alerts go to the alerts
// channel. Changes are pushed over Socket Mode with the app token. Only
// coord's daemon imports it.
package slack
