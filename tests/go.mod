module github.com/clemhq/clem/tests

go 1.26.0

replace github.com/clemhq/clem/shared => ../shared

require (
	github.com/clemhq/clem/shared v0.0.0-00010101000000-000000000000
	golang.org/x/sys v0.50.0
)
