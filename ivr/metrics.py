"""Prometheus instruments of the voice webhooks."""

from prometheus_client import Histogram

WEBHOOK_LATENCY = Histogram(
    "sas_webhook_latency_seconds",
    "Time to answer a Twilio webhook",
    ["webhook"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
