"""Ideation: research ideas from a topic, checked against the literature (``shoal ideas``)."""
