package ghpolicy

import "fmt"

// Level is how much an agent may do on GitHub, as a person reads it. Each
// operation needs a level (Ops); Allow and Deny adjust single operations.
// The zero Level is no level: Compile never produces it.
type Level int

// The levels, each including the ones before it.
const (
	LevelRead   Level = iota + 1 // fetch, clone, read the API
	LevelPR                      // push its branches, open and comment pull requests and issues
	LevelReview                  // review pull requests
	LevelMerge                   // merge pull requests
	LevelAdmin                   // everything, including settings, workflows and secrets
)

var levelNames = map[Level]string{
	LevelRead:   "read",
	LevelPR:     "pr",
	LevelReview: "review",
	LevelMerge:  "merge",
	LevelAdmin:  "admin",
}

// ParseLevel reads a level's name: read, pr, review, merge or admin.
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if name == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown level %q: want read, pr, review, merge or admin", s)
}

// String is the level's name, as ParseLevel reads it.
func (l Level) String() string {
	if name, ok := levelNames[l]; ok {
		return name
	}
	return fmt.Sprintf("Level(%d)", int(l))
}
