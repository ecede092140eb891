"""TFDS builders for the apps' datasets, one folder per dataset, fed offline."""
