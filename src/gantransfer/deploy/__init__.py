"""Deployment: measuring generators (params, MACs, latency, throughput)."""
