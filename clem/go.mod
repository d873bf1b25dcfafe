module github.com/clemhq/clem/clem

go 1.25.0
