"""seqcast.ops."""
