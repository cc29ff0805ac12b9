"""The Robot API served to extension children (see dispatcher.py)."""
