"""The parent's side of an execution: spawning a one-shot child and seeing it through."""
