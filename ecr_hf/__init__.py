"""ecr-hf."""
