"""seqcast.data."""
