"""A problem's closed loop: the lifecycle table, reporting, actions, the trail's events, the SLA clocks, codes."""
