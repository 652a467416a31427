"""`agentctl test`: conversation tests against live sessions (no output of its own)."""
