"""Deadline Session Watch: reads Deadline Cloud session actions, records them and notifies."""
