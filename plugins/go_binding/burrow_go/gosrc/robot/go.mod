module github.com/lnxjedi/gopherbot/robot

go 1.21
