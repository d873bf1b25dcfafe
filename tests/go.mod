module github.com/clemhq/clem/tests

go 1.25.0
