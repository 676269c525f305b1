"""Running qmon in production: structured logs (`logs`) and Prometheus metrics (`metrics`)."""
