"""The jobs behind the `imitax` command, callable from Python with the same config objects."""
