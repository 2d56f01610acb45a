"""pytest plugin (entry point `pytest11`): fixtures for checking a user's backward pass.

Kept import-light: pytest loads it in every session of every project that installs us.
"""
