"""The synthetic shapes world with ground-truth masks and the small nets trained on it.

:mod:`.world` makes the images and masks; :mod:`.nets` holds the networks and their weights.
"""
