"""Monthly reports, dashboards, exports."""
