"""Shoal's automated reviewer: scores any paper (PDF, .tex, .md, .txt) with a NeurIPS-style review form."""
