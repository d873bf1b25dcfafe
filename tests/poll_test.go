package tests

import "time"

// poll calls ok every 50 ms until it reports true or d has passed, and
// reports whether it did: the one waiting loop of these tests.
func poll(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
