package slack

import (
	"context"
	"encoding/json"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// Watch holds a Socket Mode connection (apps.connections.open with the
// app token, then a WebSocket), acknowledges every envelope, and pokes on
// events in the tasks channel: messages (new, edited, replies) and
// reactions. A (re)connect pokes too, to catch up on what was missed.
func (s *service) Watch(ctx context.Context, poke func()) error {
	client := socketmode.New(s.api)
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return classify("socket mode", err)
		case ev := <-client.Events:
			switch ev.Type {
			case socketmode.EventTypeConnected:
				poke()
			case socketmode.EventTypeEventsAPI:
				if ev.Request != nil {
					if err := client.AckCtx(ctx, ev.Request.EnvelopeID, nil); err != nil && ctx.Err() == nil {
						return classify("socket mode ack", err)
					}
				}
				if api, ok := ev.Data.(slackevents.EventsAPIEvent); ok && relevant(api, s.tasks) {
					poke()
				}
			}
		}
	}
}

// relevant reports whether an Events API event may change what coord
// reads: a message or a reaction in the tasks channel.
func relevant(ev slackevents.EventsAPIEvent, channel string) bool {
	if ev.Type != slackevents.CallbackEvent {
		return false
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		return e.Channel == channel
	case *slackevents.ReactionAddedEvent:
		return e.Item.Channel == channel
	case *slackevents.ReactionRemovedEvent:
		return e.Item.Channel == channel
	}
	return false
}

// parseEvent decodes an Events API payload as Socket Mode delivers it.
func parseEvent(payload []byte) (slackevents.EventsAPIEvent, error) {
	return slackevents.ParseEvent(json.RawMessage(payload), slackevents.OptionNoVerifyToken())
}
