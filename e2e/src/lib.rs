//! Shared harness for the end-to-end tests: free ports, child processes that die with the test.
