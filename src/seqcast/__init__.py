"""seqcast: reproducible time-series forecasting with recurrent networks."""
