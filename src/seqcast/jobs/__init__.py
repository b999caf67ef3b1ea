"""seqcast.jobs."""
