package discord

import (
	"context"

	dg "github.com/bwmarrin/discordgo"
)

// Watch holds a gateway connection (discordgo: HELLO, IDENTIFY with the
// intents, READY, heartbeats, reconnects) and pokes on messages and post
// changes in the server. READY pokes too, to catch up after a reconnect.
func (s *service) Watch(ctx context.Context, poke func()) error {
	remove := s.s.AddHandler(func(_ *dg.Session, ev *dg.Event) {
		if relevant(ev, s.guild, s.forum) {
			poke()
		}
	})
	defer remove()
	if err := s.s.Open(); err != nil {
		return classify("open the gateway", err)
	}
	<-ctx.Done()
	s.s.Close()
	return ctx.Err()
}

// relevant reports whether a gateway dispatch may change what coord reads.
func relevant(ev *dg.Event, guild, forum string) bool {
	switch d := ev.Struct.(type) {
	case *dg.Ready:
		return true
	case *dg.MessageCreate:
		return d.Message != nil && d.GuildID == guild
	case *dg.MessageUpdate:
		return d.Message != nil && d.GuildID == guild
	case *dg.ThreadCreate:
		return d.Channel != nil && d.ParentID == forum
	case *dg.ThreadUpdate:
		return d.Channel != nil && d.ParentID == forum
	}
	return false
}
