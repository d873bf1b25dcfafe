// Package fakemodel is a local fake of the Anthropic Messages API for tests
// that drive the real Claude Code CLI (or any real client) without the
// internet. It speaks the real wire format: POST /v1/messages answered as a
// server-sent event stream (stream:true) or as one JSON message
// (stream:false), the error JSON of the real API, and the few side endpoints
// the CLI calls.
//
// A test gives the fake a Script per conversation: a sequence of turns, each
// a text reply, tool_use blocks, a stall (message_start and then silence) or
// an HTTP error. Every request is recorded, the credential included, so a
// test can assert that the real key arrived; the fake itself never logs
// headers. Tool results the client sends back are exposed per conversation.
//
// Conversations are told apart by a marker (see Marker) that the test puts
// in the system prompt, for example with claude's --append-system-prompt;
// without one, by the text of the first user message (the prompt). Within a
// conversation every /v1/messages request takes the next turn, except when
// the turn calls a tool the CLI has deferred behind ToolSearch: then the fake
// first calls ToolSearch to load it, as a real model must.
//
// SetFault switches on a failure of the whole API while clients keep
// calling (500, 529, 401, or a stream that hangs mid-answer), for the fault
// matrix; ClearFault ends it.
//
// docs/testing-claude.md has the whole contract and what the CLI sends.
//
// Only tests import this package.
package fakemodel
