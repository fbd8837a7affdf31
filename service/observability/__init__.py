"""What the service tells its operators: JSON log lines with a correlation id (`logs`), and Prometheus metrics
(`metrics`). Import the modules themselves: the tools configure logging before `serve` sets the folder that
prometheus_client reads when it is first imported."""
