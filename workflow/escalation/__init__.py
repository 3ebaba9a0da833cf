"""Escalation: rules as data, and the sweep that fires each step once per clock cycle."""
