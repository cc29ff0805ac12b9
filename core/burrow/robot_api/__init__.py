"""The Robot API served to extension children: dispatcher.py declares every method group."""
