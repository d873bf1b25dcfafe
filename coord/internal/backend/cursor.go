package backend

import "strconv"

// NumericCursorAfter is CursorAfter for cursors that are event numbers in
// decimal (the local board's and the remote backends' change feed). A
// cursor that is not a number is never after another, so it cannot move
// a stored one.
func NumericCursorAfter(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	if errA != nil {
		return false
	}
	if b == "" {
		return true
	}
	y, errB := strconv.ParseUint(b, 10, 64)
	return errB != nil || x > y
}
