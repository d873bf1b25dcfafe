package subst

import "encoding/json"

// This file reads the two wire formats in which model APIs stream text as
// JSON deltas, one server-sent event each:
//
//	Anthropic:  data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"..."}}
//	OpenAI:     data: {"choices":[{"index":0,"delta":{"content":"..."}}]}
//
// A client joins the decoded strings of one stream of deltas (one content
// block's text, one choice's content, one tool call's arguments), so a
// secret split over two deltas is contiguous only there: not in the raw
// bytes, where JSON and event framing sit between the halves.

// deltaKey names one stream of deltas within an event stream.
type deltaKey struct {
	api   byte   // 'a' Anthropic, 'o' OpenAI
	index int64  // content block (Anthropic) or choice (OpenAI)
	field string // delta type (Anthropic) or delta member (OpenAI)
	sub   int64  // tool call index (OpenAI tool_calls)
}

// delta is one string of a stream of deltas: where its literal sits in the
// event's data and what it decodes to.
type delta struct {
	key  deltaKey
	at   jspan
	text []byte
}

// deltaEnd says which streams an event ends: all of them (all), or those
// of one block or choice.
type deltaEnd struct {
	all   bool
	api   byte
	index int64
}

func (e deltaEnd) ends(k deltaKey) bool { return e.all || e.api == k.api && e.index == k.index }

// anthropicFields maps an Anthropic delta type to the member holding its
// text. Other delta types (signature_delta, citations_delta) carry no text
// a model writes freely and are passed as they are.
var anthropicFields = map[string]string{
	"text_delta":       "text",
	"input_json_delta": "partial_json",
	"thinking_delta":   "thinking",
}

// anthropicStart maps the type of a content_block_start's block to the
// member holding its first text, and the delta type that continues it.
var anthropicStart = map[string][2]string{
	"text":     {"text", "text_delta"},
	"thinking": {"thinking", "thinking_delta"},
}

// openAIFields are the members of a choice's delta that stream text:
// content, a refusal, and the reasoning text OpenAI-compatible servers add.
var openAIFields = []string{"content", "refusal", "reasoning_content", "reasoning"}

// parseDeltas reads the data of one event. It returns the deltas it
// carries and the streams it ends; an event of any other shape has neither.
func parseDeltas(v []byte) ([]delta, []deltaEnd) {
	if string(v) == "[DONE]" {
		return nil, []deltaEnd{{all: true}}
	}
	i := skipSpace(v, 0)
	if i == len(v) || v[i] != '{' || !json.Valid(v) {
		return nil, nil
	}
	top, ok := jsonObject(v, jspan{i, skipValue(v, i)})
	if !ok {
		return nil, nil
	}
	if t, ok := top.get("type"); ok {
		typ, _ := jsonString(v, t)
		return anthropicDeltas(v, top, string(typ))
	}
	if c, ok := top.get("choices"); ok {
		return openAIDeltas(v, c)
	}
	return nil, nil
}

func anthropicDeltas(v []byte, top jobject, typ string) ([]delta, []deltaEnd) {
	if typ == "message_stop" {
		return nil, []deltaEnd{{all: true}}
	}
	idx, ok := jsonInt(v, get(top, "index"))
	if !ok {
		return nil, nil
	}
	var inner, field, kind string
	switch typ {
	case "content_block_stop":
		return nil, []deltaEnd{{api: 'a', index: idx}}
	case "content_block_delta":
		inner = "delta"
	case "content_block_start":
		inner = "content_block"
	default:
		return nil, nil
	}
	obj, ok := jsonObject(v, get(top, inner))
	if !ok {
		return nil, nil
	}
	dt, _ := jsonString(v, get(obj, "type"))
	if typ == "content_block_delta" {
		field, kind = anthropicFields[string(dt)], string(dt)
	} else {
		f := anthropicStart[string(dt)]
		field, kind = f[0], f[1]
	}
	at, ok := obj.get(field)
	if field == "" || !ok {
		return nil, nil
	}
	text, ok := jsonString(v, at)
	if !ok {
		return nil, nil
	}
	return []delta{{key: deltaKey{api: 'a', index: idx, field: kind}, at: at, text: text}}, nil
}

func openAIDeltas(v []byte, c jspan) ([]delta, []deltaEnd) {
	choices, ok := jsonArray(v, c)
	if !ok {
		return nil, nil
	}
	var ds []delta
	var ends []deltaEnd
	add := func(k deltaKey, at jspan) {
		if text, ok := jsonString(v, at); ok {
			ds = append(ds, delta{key: k, at: at, text: text})
		}
	}
	for pos, ch := range choices {
		choice, ok := jsonObject(v, ch)
		if !ok {
			continue
		}
		idx := int64(pos)
		if at, ok := choice.get("index"); ok {
			if idx, ok = jsonInt(v, at); !ok {
				continue
			}
		}
		if at, ok := choice.get("text"); ok { // the completions API
			add(deltaKey{api: 'o', index: idx, field: "text"}, at)
		}
		if d, ok := jsonObject(v, get(choice, "delta")); ok {
			for _, f := range openAIFields {
				if at, ok := d.get(f); ok {
					add(deltaKey{api: 'o', index: idx, field: f}, at)
				}
			}
			calls, _ := jsonArray(v, get(d, "tool_calls"))
			for j, call := range calls {
				tc, ok := jsonObject(v, call)
				if !ok {
					continue
				}
				sub := int64(j)
				if at, ok := tc.get("index"); ok {
					if sub, ok = jsonInt(v, at); !ok {
						continue
					}
				}
				if fn, ok := jsonObject(v, get(tc, "function")); ok {
					if at, ok := fn.get("arguments"); ok {
						add(deltaKey{api: 'o', index: idx, field: "tool_calls", sub: sub}, at)
					}
				}
			}
		}
		if at, ok := choice.get("finish_reason"); ok {
			if _, ok := jsonString(v, at); ok {
				ends = append(ends, deltaEnd{api: 'o', index: idx})
			}
		}
	}
	return ds, ends
}

// get is o.get(name) as a bare span: the zero span, which no helper reads
// as a value, when the member is missing or repeated.
func get(o jobject, name string) jspan {
	v, _ := o.get(name)
	return v
}
