"""One router per resource: plans, jobs, scenarios, analysis, and the service itself."""
