module github.com/berthio/berth

go 1.26
