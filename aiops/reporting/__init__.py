"""Rendering of pilot results to files people open: a self-contained HTML page."""
