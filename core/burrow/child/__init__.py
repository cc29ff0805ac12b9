"""The one-shot child process and the API its bindings use.

Kept import-light: the child imports this package on every start.
"""
