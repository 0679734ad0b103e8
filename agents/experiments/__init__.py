"""Experiment manager: progressive agentic tree search over sandboxed experiments."""
