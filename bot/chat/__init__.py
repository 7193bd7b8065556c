"""The command contract: requests, the command table, replies, run-time services."""
