"""The synthetic shapes world and the small networks trained on it."""
