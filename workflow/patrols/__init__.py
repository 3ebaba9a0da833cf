"""Patrols that run themselves: plans, the rounds the scheduler makes of them, check-ins, checklists, coverage."""
