// Package golden is the golden-file idiom of the repository's tests: a
// test renders what it checks to bytes and Check compares them with a file
// under testdata/, showing a unified diff of the first lines that differ
// and the command that refreshes the file. Run a test binary with -update
// (the flag this package registers) to rewrite the files from what the
// code makes now, then review the diff like code. Tests across the modules
// import it; no binary may, since it registers a flag and calls testing.
package golden
