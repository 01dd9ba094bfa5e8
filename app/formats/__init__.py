"""Engagement and scenario files: pydantic models plus YAML loading with file:line:column errors."""
