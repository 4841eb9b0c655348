// Package cli holds puawatch's commands. Main runs one with the given
// arguments and streams and returns the process exit status: 0 success, 1
// a failure at run time, 2 a usage or configuration error.
package cli
