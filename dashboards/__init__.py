"""What supervisors and operators see: live snapshot and stream, handling-time reports,
health checks and Prometheus metrics."""
