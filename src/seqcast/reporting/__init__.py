"""seqcast.reporting."""
