"""seqcast.forecasting."""
