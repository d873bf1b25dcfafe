package proxy

import "syscall"

// syscallEMFILE: out of file descriptors is worth waiting out, not fatal.
var syscallEMFILE = syscall.EMFILE
