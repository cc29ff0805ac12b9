"""The robot engine: configuration, routing, policy, pipelines, prompts and scheduling."""
