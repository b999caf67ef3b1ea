"""seqcast.scoring."""
