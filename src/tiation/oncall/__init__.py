"""On-call schedules: layers, rotations, restrictions, overrides and time zones (pure), and iCal export."""
