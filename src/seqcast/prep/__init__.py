"""seqcast.prep."""
