"""Language bindings: what they register, how the parent finds them, how a child loads one."""
