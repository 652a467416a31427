"""Use cases: what a command does, between reading its options and showing its result.

Each takes plain data (spec documents, names, an API client) and returns plain data
(records, plans); it prints nothing and asks nothing. Progress goes through callbacks the
command passes (`on_created`, `on_written`), so the command and render decide what is shown.
Layer (code-style 4.2): may use spec/, api/, session/ and settings; never render/ or cli/.
"""
