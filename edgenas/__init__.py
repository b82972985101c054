"""What every EdgeNAS package may import: the bottom layer, below ``space`` (standard library
only)."""
